"""requests.slack_problem: what Slack refused last (`card:not_in_channel`), until it is posted.

Shown by `/sfvopi status` and `/healthz`; `slack_problem_told` makes the requester hear of each
problem once, not on every sweep.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    op.add_column("requests", sa.Column("slack_problem", sa.String(80), nullable=True))
    op.add_column(
        "requests",
        sa.Column("slack_problem_told", sa.String(80), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("slack_problem_told")
        batch.drop_column("slack_problem")
