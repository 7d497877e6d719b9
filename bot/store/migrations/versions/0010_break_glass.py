"""requests: break-glass incident and its review.

`break_glass` marks a request run at once by one person; `incident` is the incident it cites.
`review` is its review after the fact (pending, acknowledged, flagged) with `reviewed_by`,
`review_note` and `reviewed_at`; `review_due_at` is when it is escalated if still pending.
The escalation is claimed once by one conditional UPDATE (`review_escalation` 0 → 1, 2 once
every post landed) and posted under `review_lease_until`, `review_sent` (JSON) recording the
posts made; `review_told` (bits) and `review_told_lease` do the same for telling the review.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"

_SLACK_ID = 255


def upgrade() -> None:
    op.add_column(
        "requests", sa.Column("break_glass", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("requests", sa.Column("incident", sa.String(64), nullable=True))
    op.add_column("requests", sa.Column("review", sa.String(16), nullable=True))
    op.add_column("requests", sa.Column("reviewed_by", sa.String(_SLACK_ID), nullable=True))
    op.add_column("requests", sa.Column("review_note", sa.Text(), nullable=True))
    op.add_column("requests", sa.Column("reviewed_at", sa.Float(), nullable=True))
    op.add_column("requests", sa.Column("review_due_at", sa.Float(), nullable=True))
    op.add_column(
        "requests",
        sa.Column("review_escalation", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("requests", sa.Column("review_lease_until", sa.Float(), nullable=True))
    op.add_column("requests", sa.Column("review_sent", sa.Text(), nullable=True))
    op.add_column(
        "requests", sa.Column("review_told", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("requests", sa.Column("review_told_lease", sa.Float(), nullable=True))
    op.create_index("ix_requests_review", "requests", ["review"])


def downgrade() -> None:
    op.drop_index("ix_requests_review", table_name="requests")
    with op.batch_alter_table("requests") as batch:
        for column in (
            "review_told_lease",
            "review_told",
            "review_sent",
            "review_lease_until",
            "review_escalation",
            "review_due_at",
            "reviewed_at",
            "review_note",
            "reviewed_by",
            "review",
            "incident",
            "break_glass",
        ):
            batch.drop_column(column)
