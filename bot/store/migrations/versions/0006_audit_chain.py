"""events: a hash chain for the tamper-evident audit log, and the live sink's cursor.

A placeholder until the issue that owns it fills it in; until then it changes nothing.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
