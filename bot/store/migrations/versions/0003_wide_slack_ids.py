"""Slack ids of any length Slack uses: user and channel columns widen from 32 to 255.

A 41-character id passed validation but overflowed varchar(32) on PostgreSQL. SQLite ignores
the length, so there is nothing to do there. Widening is compatible with older code, so
schema_meta stays at 2.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"

COLUMNS = {
    "requests": ("requester", "decided_by", "channel_id", "card_channel"),
    "approvals": ("approver",),
    "events": ("actor",),
}


def upgrade() -> None:
    _resize(old=32, new=255)


def downgrade() -> None:
    _resize(old=255, new=32)


def _resize(*, old: int, new: int) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite never enforces a VARCHAR length (bot.store.migrate.compare_type)
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(new), existing_type=sa.String(old))
