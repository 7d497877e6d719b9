"""The tables, as SQLAlchemy Core: what the queries use and what migrations must produce.

A change here needs a new revision in bot/store/migrations/versions (tests/store compares them).
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

__all__ = ["approvals_t", "events_t", "metadata", "requests_t", "schema_meta_t", "targets_t"]

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
    Column("notify_lease_until", Float),
    Column("decision_note", Text),
    Column("slack_problem", String(80)),
    Column("slack_problem_told", String(80)),
    Column("announced", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_requests_status", "status"),
    Index("ix_requests_org_created", "org", "created_at"),
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
)

approvals_t = Table(
    "approvals",
    metadata,
    Column("request_id", Integer, ForeignKey("requests.id"), primary_key=True),
    Column("approver", String(SLACK_ID), primary_key=True),
    Column("at", Float, nullable=False),
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
)

schema_meta_t = Table(
    "schema_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)
