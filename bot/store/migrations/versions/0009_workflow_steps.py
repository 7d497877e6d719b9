"""function_runs: Workflow Builder steps waiting for their request to end.

One row per `function_execution_id` Slack sent: the request the step filed (or why filing was
refused), the execution's bot token until the step is completed (then dropped), and the lease
under which one replica calls `functions.completeSuccess`/`completeError`, once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"


def upgrade() -> None:
    op.create_table(
        "function_runs",
        sa.Column("execution_id", sa.String(64), primary_key=True),
        sa.Column("callback_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("token", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("problem", sa.String(80), nullable=True),
        sa.Column("completed_at", sa.Float, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
    )
    op.create_index("ix_function_runs_request_id", "function_runs", ["request_id"])
    op.create_index("ix_function_runs_completed_at", "function_runs", ["completed_at"])


def downgrade() -> None:
    op.drop_index("ix_function_runs_completed_at", table_name="function_runs")
    op.drop_index("ix_function_runs_request_id", table_name="function_runs")
    op.drop_table("function_runs")
