"""The tables, as SQLAlchemy Core: what the queries use and what migrations must produce.

A change here needs a new revision in bot/store/migrations/versions (tests/store compares them).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "approvals_t",
    "audit_cursor_t",
    "events_t",
    "function_runs_t",
    "home_viewers_t",
    "metadata",
    "pending_targets_t",
    "request_previews_t",
    "requests_t",
    "schema_meta_t",
    "slack_deliveries_t",
    "slack_events_t",
    "targets_t",
]

SLACK_ID = 255  # bot.core.ids.MAX_SLACK_ID: Slack ids of every length Slack uses

metadata = MetaData()

requests_t = Table(
    "requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("requester", String(SLACK_ID), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("approvals_needed", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("decided_by", String(SLACK_ID)),
    Column("finished_at", Float),
    Column("channel_id", String(SLACK_ID)),
    Column("response_url", Text),
    Column("dedupe_key", String(200), unique=True),
    Column("card_channel", String(SLACK_ID)),
    Column("card_ts", String(32)),
    Column("card_lease_until", Float),
    Column("claim_token", String(64)),
    Column("lease_until", Float),
    Column("executions", Integer, nullable=False, default=0),
    Column("notified_at", Float),
    Column("decision_note", Text),
    Column("slack_problem", String(80)),
    Column("slack_problem_told", String(80)),
    # break-glass (migration 0010): the flag and incident; the review (state, by whom, why,
    # when, when due; its escalation and telling are slack_deliveries)
    Column("break_glass", Integer, nullable=False, default=0, server_default="0"),
    Column("incident", String(64)),
    Column("review", String(16)),
    Column("reviewed_by", String(SLACK_ID)),
    Column("review_note", Text),
    Column("reviewed_at", Float),
    Column("review_due_at", Float),
    # filed by a Workflow Builder step (migration 0013): its requester is the workflow's word
    Column("filed_by_step", Integer, nullable=False, default=0, server_default="0"),
    # an undo (migration 0016): the request it takes back (bot/core/undo.py)
    Column("undoes", Integer),
    # scheduled execution (migration 0017): --at asked for; when a scheduled request runs,
    # and by when it must have run
    Column("run_after", Float),
    Column("run_at", Float),
    Column("run_until", Float),
    Index("ix_requests_status", "status"),
    Index("ix_requests_run_at", "run_at"),
    Index("ix_requests_undoes", "undoes"),
    Index("ix_requests_review", "review"),
    Index("ix_requests_org_created", "org", "created_at"),
)

# The Slack outbox (migration 0014): what a request owes Slack, written in the transaction that
# makes it owed. A step's own row (recipient "") is expanded, when due, into one row per
# recipient; each is claimed under a lease, posted once, and done (sent, or refused for good).
slack_deliveries_t = Table(
    "slack_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("recipient", String(300), nullable=False),
    Column("due_at", Float, nullable=False),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("sent_channel", String(SLACK_ID)),
    Column("sent_ts", String(32)),
    Column("refusal", String(80)),  # what Slack refused last
    Column("done_at", Float),
    Index("ix_slack_deliveries_key", "request_id", "kind", "recipient", unique=True),
    Index("ix_slack_deliveries_due", "done_at", "due_at"),
)

targets_t = Table(
    "targets",
    metadata,
    Column("request_id", Integer, ForeignKey("requests.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("app_id", String(80), nullable=False),
    Column("number", String(20)),
    Column("started_at", Float),
    Column("outcome", String(16)),
    Column("status_code", Integer),
    Column("message", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("finished_at", Float),
    # an undo's recreated app (migration 0016): its new id, recorded before numbers are linked
    Column("new_app_id", String(80)),
    Index("ix_targets_app_number", "app_id", "number"),
)

# "already pending?" as the database's rule (migration 0012): each target a pending request
# names is reserved, once per org, by one pending request (the oldest); a new request that
# is not filed `--again` must reserve all of its targets or is refused. `number` is "" for
# an app's deletion, so that the key has no NULL (NULLs are never equal in a unique key).
pending_targets_t = Table(
    "pending_targets",
    metadata,
    Column("org", String(64), primary_key=True),
    Column("app_id", String(80), primary_key=True),
    Column("number", String(20), primary_key=True),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False),
    Index("ix_pending_targets_request_id", "request_id"),
)

# What SFVoPI showed for a request (migration 0015): read at filing and before running, in
# order (`seq`); `body` is bot.core.preview.Preview's JSON, `fingerprint` its hash.
request_previews_t = Table(
    "request_previews",
    metadata,
    Column("request_id", Integer, ForeignKey("requests.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("purpose", String(32), nullable=False),
    Column("taken_at", Float, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("body", Text, nullable=False),
)

approvals_t = Table(
    "approvals",
    metadata,
    Column("request_id", Integer, ForeignKey("requests.id"), primary_key=True),
    Column("approver", String(SLACK_ID), primary_key=True),
    Column("at", Float, nullable=False),
    Column("note", Text),
)

events_t = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("actor", String(SLACK_ID), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False, default="{}"),
    # the audit chain (bot/audit/chain.py, docs/audit.md): a stable id, the hash links, and
    # the writing transaction's id (PostgreSQL; 0 on SQLite), which orders the live sink
    Column("uid", String(36), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("txid", BigInteger, nullable=False, server_default="0"),
    Index("ix_events_uid", "uid", unique=True),
    Index("ix_events_txid_id", "txid", "id"),
)

audit_cursor_t = Table(
    "audit_cursor",
    metadata,
    Column("sink", String(64), primary_key=True),  # which sink: a digest of its target
    Column("last_txid", BigInteger, nullable=False, default=0),  # delivered up to (txid, id)
    Column("last_event_id", Integer, nullable=False, default=0),
    Column("lease_until", Float),
    Column("owner", String(64)),  # the replica delivering now
)

slack_events_t = Table(
    "slack_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("received_at", Float, nullable=False),
    Index("ix_slack_events_received_at", "received_at"),
)

home_viewers_t = Table(
    "home_viewers",
    metadata,
    Column("user_id", String(SLACK_ID), primary_key=True),
    Column("opened_at", Float, nullable=False),
)

# Workflow Builder steps (migration 0009): one row per function execution Slack sent, until
# its step is completed (`token`, the execution's bot token, is dropped then)
function_runs_t = Table(
    "function_runs",
    metadata,
    Column("execution_id", String(64), primary_key=True),
    Column("callback_id", String(64), nullable=False),
    Column("request_id", Integer, ForeignKey("requests.id")),
    Column("error", Text),  # why filing was refused: the step fails with it
    Column("token", Text),
    Column("created_at", Float, nullable=False),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("problem", String(80)),  # what Slack refused last
    Column("completed_at", Float),
    Column("outcome", String(16)),
    Index("ix_function_runs_request_id", "request_id"),
    Index("ix_function_runs_completed_at", "completed_at"),
)

schema_meta_t = Table(
    "schema_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)
