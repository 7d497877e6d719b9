"""function_runs: Workflow Builder steps waiting for their request to end.

A placeholder until the issue that owns it fills it in; until then it changes nothing.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
