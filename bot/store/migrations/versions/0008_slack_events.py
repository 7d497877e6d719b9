"""slack_events: Events API deliveries already handled, by event_id.

A placeholder until the issue that owns it fills it in; until then it changes nothing.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
