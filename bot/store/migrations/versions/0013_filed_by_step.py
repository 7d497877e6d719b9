"""requests: filed by a Workflow Builder step.

`filed_by_step` marks a request a workflow step filed: its requester is the person the workflow
named, which nobody verified, so they never approve it, and its card says so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"


def upgrade() -> None:
    op.add_column(
        "requests", sa.Column("filed_by_step", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite 3.35+ has it): batch mode would rebuild `requests`, which
    # other tables' foreign keys refuse while they hold rows
    op.drop_column("requests", "filed_by_step")
