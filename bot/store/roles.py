"""What each consumer of the store may use of it: one small interface per role, so a layer is
handed only what it needs (the `Store` facade fills them all; the workflow's own roles are in
bot/core/ports.py). mypy checks the facade against each where the root hands it over."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

from bot.audit.events import AuditEvent, ChainLink
from bot.core.deliveries import Delivery, Kind
from bot.core.models import Status
from bot.core.ports import RequestListing, RequestLookup
from bot.core.preview import Purpose, StoredPreview
from bot.store.audit import Position
from bot.store.function_runs import FunctionRun

__all__ = [
    "AuditedStore",
    "CardStore",
    "DeliveryStore",
    "DoorStore",
    "EventStore",
    "HealthStore",
    "HomeStore",
    "SinkStore",
    "StepRunStore",
]


class CardStore(RequestLookup, Protocol):
    """The notifier's: each card's lease and record, and what Slack refused."""

    async def claim_card(self, request_id: int, now: float, lease_seconds: float) -> bool: ...

    async def clear_slack_problem(self, request_id: int) -> None: ...

    async def note_slack_problem(
        self, request_id: int, problem: str, now: float, *, release_card: bool = False
    ) -> bool: ...

    async def renew_card(self, request_id: int, until: float) -> None: ...

    async def latest_preview(
        self, request_id: int, purpose: Purpose | None = None
    ) -> StoredPreview | None: ...

    async def outbox(self, now: float) -> tuple[list[int], list[int]]: ...

    async def record_slack_post(
        self, request_id: int, step: str, channel: str, ts: str | None, now: float
    ) -> None: ...

    async def set_card(
        self,
        request_id: int,
        channel: str,
        ts: str,
        now: float,
        owed: Iterable[tuple[Kind, float]] = (),
    ) -> Status: ...


class DeliveryStore(RequestLookup, Protocol):
    """The Slack outbox's: deliveries claimed, posted, refused or dropped."""

    async def claim_delivery(
        self, delivery: Delivery, now: float, lease_seconds: float
    ) -> bool: ...

    async def delivered(
        self, delivery: Delivery, channel: str, ts: str | None, now: float
    ) -> None: ...

    async def deliveries(self, request_id: int, now: float) -> list[Delivery]: ...

    async def delivery_refused(
        self, delivery: Delivery, error: str, now: float, retry_at: float | None
    ) -> None: ...

    async def drop_delivery(self, delivery: Delivery, now: float) -> None: ...

    async def due_deliveries(self, now: float) -> list[int]: ...

    async def expand_delivery(
        self, step: Delivery, recipients: list[str], now: float, detail: dict[str, object]
    ) -> bool: ...

    async def previews(self, request_id: int) -> list[StoredPreview]: ...

    async def renew_delivery(self, delivery: Delivery, until: float) -> None: ...

    async def reschedule_delivery(self, delivery: Delivery, due_at: float) -> None: ...

    async def settle_announcements(self, now: float) -> list[int]: ...


class StepRunStore(RequestLookup, Protocol):
    """Workflow Builder steps': runs taken in, settled and completed once."""

    async def add_function_run(
        self, execution_id: str, callback_id: str, sealed_token: str | None, now: float
    ) -> bool: ...

    async def claim_function_run(
        self, execution_id: str, now: float, lease_seconds: float
    ) -> bool: ...

    async def complete_function_run(
        self, execution_id: str, outcome: str, now: float, detail: dict[str, object]
    ) -> bool: ...

    async def function_run(self, execution_id: str) -> FunctionRun | None: ...

    async def function_run_request(self, execution_id: str) -> int | None: ...

    async def function_runs_due(self, now: float, *, filing_grace: float) -> list[str]: ...

    async def function_runs_of(self, request_id: int) -> list[str]: ...

    async def note_function_problem(
        self, execution_id: str, problem: str, now: float, retry_in: float
    ) -> int: ...

    async def settle_function_run(
        self, execution_id: str, *, request_id: int | None = None, error: str | None = None
    ) -> None: ...


class HomeStore(RequestListing, Protocol):
    """The App Home's: who opened it, and what to show them."""

    async def home_viewers(self, users: Collection[str]) -> list[str]: ...

    async def remember_home(self, user: str, now: float) -> None: ...


class SinkStore(Protocol):
    """The audit log's live sink: batches in commit order, its cursor and lease."""

    async def advance_sink(
        self,
        sink: str,
        owner: str,
        *,
        delivered_from: Position,
        delivered_to: Position,
        now: float,
        lease_seconds: float,
    ) -> bool: ...

    async def lease_sink(
        self, sink: str, owner: str, now: float, lease_seconds: float
    ) -> Position | None: ...

    async def release_sink(self, sink: str, owner: str) -> None: ...

    async def sink_batch(self, after: Position, limit: int) -> list[AuditEvent]: ...

    async def sink_has_more(self, sink: str) -> bool: ...


class EventStore(Protocol):
    """The front doors': each Events API delivery taken in once, whichever replica gets it."""

    async def first_delivery(
        self, event_id: str, now: float, *, keep_seconds: float = ...
    ) -> bool: ...


class HealthStore(Protocol):
    """`/healthz`'s: whether the database answers and still has its file, what Slack refuses."""

    @property
    def database_file(self) -> str | None: ...

    async def ping(self) -> bool: ...

    async def slack_problems(self) -> list[tuple[int, str]]: ...


class DoorStore(EventStore, HealthStore, RequestLookup, Protocol):
    """What the Slack doors and listeners are handed (`Services.store`): the doors' and
    `/healthz`'s roles, a request read by number (a refusal links the pending one), and its
    newest preview (`/sfvopi status` shows it)."""

    async def latest_preview(
        self, request_id: int, purpose: Purpose | None = None
    ) -> StoredPreview | None: ...


class AuditedStore(Protocol):
    """`audit verify`'s: every chain in order, and requests whose history is gone."""

    async def chain_links(
        self, *, after: tuple[int, int] = (0, 0), limit: int = 1000
    ) -> list[ChainLink]: ...

    async def requests_without_events(self) -> list[int]: ...
