"""pending_targets: each target of a pending request reserved once, so "already pending?"
is one rule the database enforces (issue 21: two replicas, or a burst of commands, filed
several pending requests for one target between the check and the insert).

The reservations of requests pending now are written here: per (org, app, number) the
oldest pending request holds it, so targets already pending twice do not stop the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"

_BACKFILL = """
INSERT INTO pending_targets (org, app_id, number, request_id)
SELECT r.org, t.app_id, COALESCE(t.number, ''), MIN(r.id)
FROM targets t JOIN requests r ON r.id = t.request_id
WHERE r.status = 'pending'
GROUP BY r.org, t.app_id, COALESCE(t.number, '')
"""


def upgrade() -> None:
    op.create_table(
        "pending_targets",
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(80), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("requests.id"), nullable=False),
        sa.PrimaryKeyConstraint("org", "app_id", "number"),
    )
    op.create_index("ix_pending_targets_request_id", "pending_targets", ["request_id"])
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.drop_index("ix_pending_targets_request_id", table_name="pending_targets")
    op.drop_table("pending_targets")
