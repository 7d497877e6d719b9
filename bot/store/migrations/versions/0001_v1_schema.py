"""The v1 schema: what metadata.create_all made before `announced` (schema_meta version 1).

Written out, not taken from bot.store.schema, so later edits there cannot change history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("requester", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approvals_needed", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("decided_by", sa.String(32)),
        sa.Column("finished_at", sa.Float),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("response_url", sa.Text),
        sa.Column("dedupe_key", sa.String(200), unique=True),
        sa.Column("card_channel", sa.String(32)),
        sa.Column("card_ts", sa.String(32)),
        sa.Column("card_lease_until", sa.Float),
        sa.Column("claim_token", sa.String(64)),
        sa.Column("lease_until", sa.Float),
        sa.Column("executions", sa.Integer, nullable=False),
        sa.Column("notified_at", sa.Float),
        sa.Column("notify_lease_until", sa.Float),
    )
    op.create_index("ix_requests_status", "requests", ["status"])
    op.create_index("ix_requests_org_created", "requests", ["org", "created_at"])
    schema_meta = op.create_table(
        "schema_meta",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(64), nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("approver", sa.String(32), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_events_request_id", "events", ["request_id"])
    op.create_table(
        "targets",
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("app_id", sa.String(80), nullable=False),
        sa.Column("number", sa.String(20)),
        sa.Column("started_at", sa.Float),
        sa.Column("outcome", sa.String(16)),
        sa.Column("status_code", sa.Integer),
        sa.Column("message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("finished_at", sa.Float),
    )
    op.bulk_insert(schema_meta, [{"key": "version", "value": "1"}])


def downgrade() -> None:
    for table in ("targets", "events", "approvals", "schema_meta", "requests"):
        op.drop_table(table)
