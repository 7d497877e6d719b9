"""The only code that touches the database: `Store`, one facade over small single-job modules.

schema (tables) · engine (drivers, SQLite set-up, write gate) · inline_sqlite (SQLite on the
loop's thread) · database (transactions, loading)
· requests (creation, reading) · transitions (approvals, claims, final states) · break_glass
(filed claimed, reviewed) · outbox (Slack posts to make: cards, and slack_deliveries)
· slack_state (events taken in, Home tabs opened)
· function_runs (Workflow Builder steps to complete) · audit (the chained log, its export and
sink cursor) · api_calls (the HTTP API's calls, as events) · migrate (Alembic) · migrate_child
(the upgrade in a child process) · previews (what SFVoPI showed for a request) · rebinding
(back to pending when it changed since approved) · scheduled and scheduled_hold (approved
requests waiting for their change window) · undo and undo_facts (a request taken back).
"""

from bot.store.api_calls import ApiCalls
from bot.store.audit import Audit
from bot.store.break_glass import BreakGlass
from bot.store.engine import async_url
from bot.store.function_runs import FunctionRuns
from bot.store.migrate import SCHEMA_VERSION
from bot.store.outbox import Outbox
from bot.store.previews import Previews
from bot.store.rebinding import Rebinding
from bot.store.scheduled import Scheduled
from bot.store.slack_state import SlackState
from bot.store.undo import Undos

__all__ = ["SCHEMA_VERSION", "Store", "async_url"]


class Store(
    BreakGlass,
    Rebinding,
    Scheduled,
    Undos,
    Outbox,
    SlackState,
    Audit,
    FunctionRuns,
    ApiCalls,
    Previews,
):
    """Requests for the workflow (bot.core.ports.RequestStore) plus the notifier's outbox and
    the Slack front doors' shared state (events taken in, Home tabs opened), and the audit
    log's reads (bot/audit), and the Workflow Builder steps waiting to be completed, and the
    HTTP API's record of its calls (bot/api), and break-glass requests' reviews, and the
    previews of what requests touch (bot/core/preview.py), and their drift, and undos.

    Handed whole only by the composition root (bot/wiring) and the commands that open it;
    every other consumer names its role (bot/store/roles.py, bot/core/ports.py)."""

    @property
    def database_file(self) -> str | None:
        """The file a SQLite database lives in; None for PostgreSQL or one in memory."""
        database = self.engine.url.database
        if not self.is_sqlite or not database or database == ":memory:":
            return None
        return None if database.startswith("file:") else database
