"""requests.announced: a bit per announcement post, so a retry skips the ones already made.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "requests", sa.Column("announced", sa.Integer, nullable=False, server_default="0")
    )
    op.execute("UPDATE schema_meta SET value = '2' WHERE key = 'version'")


def downgrade() -> None:
    op.drop_column("requests", "announced")
    op.execute("UPDATE schema_meta SET value = '1' WHERE key = 'version'")
