"""requests: break-glass incident and its review.

A placeholder until the issue that owns it fills it in; until then it changes nothing.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
