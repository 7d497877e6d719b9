"""request_previews: what SFVoPI showed for a request, read when it was filed and again right
before it ran (bot/core/preview.py), each with the fingerprint its `previewed` event carries.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision: str | None = "0014"


def upgrade() -> None:
    op.create_table(
        "request_previews",
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("taken_at", sa.Float(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("request_previews")
