"""requests.announced: a bit per announcement post, so a retry skips the ones already made."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    op.add_column(
        "requests", sa.Column("announced", sa.Integer, nullable=False, server_default="0")
    )
    op.execute("UPDATE schema_meta SET value = '2' WHERE key = 'version'")


def downgrade() -> None:
    op.drop_column("requests", "announced")
    op.execute("UPDATE schema_meta SET value = '1' WHERE key = 'version'")
