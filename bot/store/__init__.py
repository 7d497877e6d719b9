"""The only code that touches the database: `Store`, one facade over small single-job modules.

schema (tables) · engine (drivers, SQLite set-up, write gate) · database (transactions, loading)
· requests (creation, transitions, claims) · outbox (Slack posts to make) · slack_state (events
taken in, Home tabs opened) · audit (the chained log, its export and sink cursor) · migrate
(Alembic).
"""

from bot.store.audit import Audit
from bot.store.engine import async_url
from bot.store.migrate import SCHEMA_VERSION
from bot.store.outbox import Outbox
from bot.store.requests import Requests
from bot.store.slack_state import SlackState

__all__ = ["SCHEMA_VERSION", "Store", "async_url"]


class Store(Requests, Outbox, SlackState, Audit):
    """Requests for the workflow (bot.core.ports.RequestStore) plus the notifier's outbox and
    the Slack front doors' shared state (events taken in, Home tabs opened), and the audit
    log's reads (bot/audit)."""
