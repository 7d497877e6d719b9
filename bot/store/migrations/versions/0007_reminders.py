"""requests: reminder and escalation bookkeeping.

`reminder_step` is the last step claimed (1 reminder, 2 escalation): a claim is one conditional
UPDATE from a smaller step while the request is pending, so each step happens once however many
replicas sweep. `reminder_done` is the last step fully posted, `reminder_lease_until` the
poster's lease, and `reminder_sent` (JSON) the posts of the current step already made, so a
retry after a refusal or a crash sends only what is missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"


def upgrade() -> None:
    op.add_column(
        "requests",
        sa.Column("reminder_step", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "requests",
        sa.Column("reminder_done", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("requests", sa.Column("reminder_lease_until", sa.Float(), nullable=True))
    op.add_column("requests", sa.Column("reminder_sent", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("reminder_sent")
        batch.drop_column("reminder_lease_until")
        batch.drop_column("reminder_done")
        batch.drop_column("reminder_step")
