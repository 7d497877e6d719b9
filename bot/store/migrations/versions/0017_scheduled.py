"""requests.run_after, run_at and run_until: scheduled execution (bot/core/scheduling.py).

`run_after` is the time a requester asked for (`--at`); a request approved outside its change
window waits in status `scheduled` until `run_at`, and expires if not run by `run_until`. The
index serves the sweep that looks for scheduled requests now due.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision: str | None = "0016"


def upgrade() -> None:
    op.add_column("requests", sa.Column("run_after", sa.Float(), nullable=True))
    op.add_column("requests", sa.Column("run_at", sa.Float(), nullable=True))
    op.add_column("requests", sa.Column("run_until", sa.Float(), nullable=True))
    op.create_index("ix_requests_run_at", "requests", ["run_at"])


def downgrade() -> None:
    # a request still scheduled would be a status the older bot does not know: it expires
    op.execute(
        "UPDATE requests SET status = 'expired', decision_note = 'the bot was downgraded "
        "while it waited for its change window' WHERE status = 'scheduled'"
    )
    op.drop_index("ix_requests_run_at", table_name="requests")
    op.drop_column("requests", "run_until")
    op.drop_column("requests", "run_at")
    op.drop_column("requests", "run_after")
