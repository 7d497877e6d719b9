"""The only code that touches the database: `Store`, one facade over small single-job modules.

schema (tables) · engine (drivers, SQLite set-up, write gate) · database (transactions, loading)
· requests (creation, transitions, claims) · outbox (Slack posts to make) · migrate (Alembic).
"""

from bot.store.engine import async_url
from bot.store.migrate import SCHEMA_VERSION
from bot.store.outbox import Outbox
from bot.store.requests import Requests

__all__ = ["SCHEMA_VERSION", "Store", "async_url"]


class Store(Requests, Outbox):
    """Requests for the workflow (bot.core.ports.RequestStore) plus the notifier's outbox."""
