"""slack_events, home_viewers, approvals.note: Events API de-duplication and App Home.

`slack_events` holds the `event_id` of each Events API delivery already taken in, so a retry
(`X-Slack-Retry-Num`) or the same event on another replica is handled once; old rows are
pruned. `home_viewers` remembers who opened the bot's Home tab, so any replica can republish
it when a request concerning them changes. `approvals.note` is an approver's optional note.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"


def upgrade() -> None:
    op.create_table(
        "slack_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    op.create_index("ix_slack_events_received_at", "slack_events", ["received_at"])
    op.create_table(
        "home_viewers",
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("opened_at", sa.Float, nullable=False),
    )
    op.add_column("approvals", sa.Column("note", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("note")
    op.drop_table("home_viewers")
    op.drop_index("ix_slack_events_received_at", table_name="slack_events")
    op.drop_table("slack_events")
