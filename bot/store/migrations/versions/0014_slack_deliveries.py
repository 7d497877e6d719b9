"""slack_deliveries: one Slack outbox for outcome announcements, reminders, escalations and
break-glass reviews.

Replaces the requests' progress columns (announced, notify_lease_until, reminder_step/done/
lease/sent, review_escalation/lease/sent, review_told/lease). What was owed and not yet made
is carried over: an outcome not yet told, a pending request's reminder steps not yet taken
(due at once: the dispatcher asks the policy in force and moves or drops them), a step left
half-posted (its posts made are kept, done, so only the rest go out), an overdue review's
escalation, a review not yet told.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"

_DROPPED: list[tuple[str, Any, bool]] = [  # name, type, counter (NOT NULL DEFAULT 0)
    ("announced", sa.Integer(), True),
    ("notify_lease_until", sa.Float(), False),
    ("reminder_step", sa.Integer(), True),
    ("reminder_done", sa.Integer(), True),
    ("reminder_lease_until", sa.Float(), False),
    ("reminder_sent", sa.Text(), False),
    ("review_escalation", sa.Integer(), True),
    ("review_lease_until", sa.Float(), False),
    ("review_sent", sa.Text(), False),
    ("review_told", sa.Integer(), True),
    ("review_told_lease", sa.Float(), False),
]
_TOLD = {2: "thread", 4: "requester"}  # review_told's bits
_ANNOUNCED = {1: "thread", 2: "requester", 4: "outcome"}  # announced's bits


def upgrade() -> None:
    deliveries = op.create_table(
        "slack_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("lease_until", sa.Float()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("sent_channel", sa.String(255)),
        sa.Column("sent_ts", sa.String(32)),
        sa.Column("refusal", sa.String(80)),
        sa.Column("done_at", sa.Float()),
    )
    op.create_index(
        "ix_slack_deliveries_key",
        "slack_deliveries",
        ["request_id", "kind", "recipient"],
        unique=True,
    )
    op.create_index("ix_slack_deliveries_due", "slack_deliveries", ["done_at", "due_at"])
    rows = _in_flight(op.get_bind(), time.time())
    if rows:
        op.bulk_insert(deliveries, rows)
    for name, _, _ in _DROPPED:
        # a plain DROP COLUMN (see 0013): batch mode would rebuild `requests`
        op.drop_column("requests", name)


def _in_flight(conn: sa.Connection, now: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(request_id: int, kind: str, recipient: str, due: float, done: bool) -> None:
        rows.append(
            {
                "request_id": request_id,
                "kind": kind,
                "recipient": recipient,
                "due_at": due,
                "attempts": 0,
                "done_at": now if done else None,
            }
        )

    untold = conn.execute(
        sa.text(
            "SELECT id, announced FROM requests WHERE notified_at IS NULL"
            " AND status IN ('succeeded', 'failed', 'unknown', 'denied', 'cancelled', 'expired')"
        )
    )
    for r in untold:
        add(r.id, "announced", "", 0.0, False)  # at once
        for bit, key in _ANNOUNCED.items():
            if r.announced & bit:
                add(r.id, "announced", key, 0.0, True)
    pending = conn.execute(
        sa.text(
            "SELECT id, created_at, reminder_step, reminder_done, reminder_sent FROM requests"
            " WHERE status = 'pending' AND card_ts IS NOT NULL AND expires_at > :now"
        ),
        {"now": now},
    )
    for r in pending:
        for step, kind in ((1, "reminded"), (2, "escalated")):
            if r.reminder_step < step:
                add(r.id, kind, "", r.created_at, False)
            elif r.reminder_step == step and r.reminder_done < step:
                add(r.id, kind, "", r.created_at, False)  # in order: the reminder first
                for key in json.loads(r.reminder_sent or "[]"):
                    add(r.id, kind, str(key), r.created_at, True)
    glass = conn.execute(
        sa.text(
            "SELECT id, review, review_due_at, review_escalation, review_sent, review_told"
            " FROM requests WHERE break_glass = 1"
        )
    )
    for r in glass:
        if r.review == "pending" or r.review_escalation:
            add(r.id, "review_escalated", "", r.review_due_at or now, r.review_escalation == 2)
        if r.review_escalation == 1:
            for key in json.loads(r.review_sent or "[]"):
                add(r.id, "review_escalated", str(key), now, True)
        if r.review in ("acknowledged", "flagged") and r.review_told < 8:
            add(r.id, "review_told", "", 0.0, False)
            for bit, key in _TOLD.items():
                if r.review_told & bit:
                    add(r.id, "review_told", key, 0.0, True)
    return rows


def downgrade() -> None:
    for name, kind, counter in _DROPPED:
        column = (
            sa.Column(name, kind, nullable=False, server_default="0")
            if counter
            else sa.Column(name, kind)
        )
        op.add_column("requests", column)
    op.drop_index("ix_slack_deliveries_due", "slack_deliveries")
    op.drop_index("ix_slack_deliveries_key", "slack_deliveries")
    op.drop_table("slack_deliveries")
