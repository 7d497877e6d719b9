"""What the workflow needs of a store, as Protocols: one per part of the workflow (filing,
deciding, running, reading), each naming only what that part uses, and RequestStore, their
union. The core names the shapes, `bot.store` fills them, and nothing in the core imports
SQLAlchemy."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.core.deliveries import Kind
from bot.core.limits import LimitCheck
from bot.core.models import Event, NewRequest, Outcome, Request, Review, Status, Target
from bot.core.preview import Preview, PreviewStore, Purpose, StoredPreview
from bot.core.scheduling import Wait


@dataclass(frozen=True)
class ApprovalRecord:
    """What one approval click did, decided atomically."""

    request: Request
    counted: bool
    claim: str | None
    refused: Status | None = None
    stale: bool = False  # the preview the approver saw is no longer the newest: not counted


class RequestLookup(Protocol):
    """One request read by its number: what every part of the workflow needs."""

    async def get(self, request_id: int, *, orgs: Collection[str] | None = None) -> Request | None:
        """The request; None when there is none, or (given `orgs`) it is not of one of them."""
        ...


class RequestListing(Protocol):
    """Requests listed by org, status and requester (App Home, history, sweeps)."""

    async def list_requests(
        self,
        *,
        orgs: Iterable[str],
        statuses: Iterable[Status] | None = None,
        limit: int = 20,
        requester: str | None = None,
    ) -> list[Request]: ...


class FilingStore(Protocol):
    """What filing needs: a request stored, or a break-glass one stored already claimed."""

    async def create_request(
        self,
        new: NewRequest,
        *,
        approvals_needed: int,
        filed_by_step: bool = False,
        limits: LimitCheck | None = None,
    ) -> tuple[Request, bool]:
        """A pending request stored; a replay of the dedupe key: the first request, False.
        `limits`: counted and judged inside the insert's transaction, serialised per org, so
        two filings never both take the last slot (OverLimit: nothing stored; a replay of the
        dedupe key is never refused by them)."""
        ...

    async def create_break_glass(
        self,
        new: NewRequest,
        *,
        incident: str | None,
        review_due_at: float,
        lease_seconds: float,
        limits: LimitCheck | None = None,
    ) -> tuple[Request, str | None]:
        """A break-glass request stored already claimed (its claim token), in one transaction;
        a replay of the dedupe key: the first request and None."""
        ...


class TransitionStore(Protocol):
    """pending (or scheduled) → denied, cancelled or expired: one conditional write."""

    async def transition(
        self,
        request_id: int,
        *,
        to: Status,
        actor: str,
        now: float,
        kind: str,
        detail: dict[str, object] | None = None,
        source: Status = Status.PENDING,
    ) -> Request | None: ...


class DecidingStore(RequestLookup, RequestListing, TransitionStore, Protocol):
    """What deciding needs: approvals counted, transitions made, reviews recorded, expiry found;
    each one conditional write, so two deciders never both win."""

    async def approve(
        self,
        request_id: int,
        *,
        approver: str,
        now: float,
        lease_seconds: float,
        eligible: Collection[str] | None = None,
        needed: int = 0,
        note: str | None = None,
        quorum: Callable[[Sequence[str]], bool] | None = None,
        seen: int | None = None,
        wait: Wait | None = None,
    ) -> ApprovalRecord:
        """`wait`: the quorum holds it (scheduled) rather than claims it, its window not open.
        `quorum`: beyond the count, whether the eligible approvers fill what the policy's
        rules require of them (teams, one person each), asked inside the transaction.
        `seen`: the seq of the binding preview the approver was shown (0: none yet); when it
        is not the request's newest `filed`/`rebound` one, nothing is written (`stale`)."""
        ...

    async def latest_preview(
        self, request_id: int, purpose: Purpose | None = None
    ) -> StoredPreview | None: ...

    async def previews(self, request_id: int) -> list[StoredPreview]: ...

    async def review(
        self,
        request_id: int,
        *,
        reviewer: str,
        verdict: Review,
        note: str | None,
        now: float,
    ) -> Request | None:
        """Records a break-glass review once (None when it was not waiting for one)."""
        ...

    async def due_for_expiry(self, now: float) -> list[int]: ...


class RunningStore(RequestLookup, Protocol):
    """What running needs: claims and leases, and each target's result recorded under the claim."""

    async def stale_executions(self, now: float) -> list[tuple[int, str]]: ...

    async def reclaim(
        self, request_id: int, old_token: str, now: float, lease_seconds: float
    ) -> str | None: ...

    async def renew(self, request_id: int, claim: str, until: float) -> None: ...

    async def start_target(
        self, request_id: int, idx: int, claim: str, now: float, lease_until: float
    ) -> bool: ...

    async def record_target(
        self,
        request_id: int,
        idx: int,
        claim: str,
        *,
        outcome: Outcome,
        status_code: int | None,
        message: str,
        attempts: int,
        now: float,
        lease_until: float,
    ) -> None: ...

    async def finish(
        self, request_id: int, claim: str, *, status: Status, now: float
    ) -> Request: ...


class ScheduleStore(RequestLookup, TransitionStore, Protocol):
    """What scheduled execution needs: approved requests waiting for a window, claimed once."""

    async def scheduled(self, *, due_by: float | None = None, limit: int = 500) -> list[int]: ...

    async def claim_scheduled(
        self, request_id: int, *, now: float, lease_seconds: float
    ) -> tuple[str, Request] | None: ...

    async def reschedule(
        self, request_id: int, *, was: float, wait: Wait, now: float
    ) -> Request | None: ...


class UndoStore(Protocol):
    """What running an undo needs beyond a claim (bot/core/undo.py): a recreate attempted,
    recorded before the call, and the app it made, recorded before any number is linked."""

    async def attempt_create(
        self, request_id: int, idx: int, claim: str, now: float, lease_until: float
    ) -> float | None:
        """When an earlier attempt was made, if one was; records this one otherwise."""
        ...

    async def record_new_app(
        self,
        request_id: int,
        idx: int,
        claim: str,
        *,
        app_id: str,
        now: float,
        lease_until: float,
    ) -> str:
        """The app id kept for the target: the first one recorded."""
        ...


class ReadingStore(RequestLookup, RequestListing, Protocol):
    """What reading needs beyond a request: its event log, and how many a list left out."""

    async def events(self, request_id: int) -> list[Event]: ...

    async def count_requests(self, *, orgs: Iterable[str], statuses: Iterable[Status]) -> int: ...


class BindingStore(RequestLookup, PreviewStore, Protocol):
    """What binding an approval to its preview needs (bot/core/workflow/binding.py): the
    previews kept, the drift back to pending, the filed requests never previewed."""

    async def previews(self, request_id: int) -> list[StoredPreview]: ...

    async def drift(
        self,
        request_id: int,
        claim: str,
        preview: Preview,
        *,
        now: float,
        detail: dict[str, object],
        owed: Sequence[tuple[Kind, str]] = (),
    ) -> Request: ...

    async def unpreviewed(self, filed_before: float, limit: int = 100) -> list[int]: ...


class RequestStore(
    FilingStore,
    DecidingStore,
    RunningStore,
    ReadingStore,
    BindingStore,
    UndoStore,
    ScheduleStore,
    Protocol,
):
    """Durable requests; every transition atomic (one conditional UPDATE plus its event). The
    union of the roles above: a store (SQL, or a test's in-memory one) fills them all."""

    async def pending_with_targets(
        self, org: str, targets: Sequence[Target], *, not_dedupe_key: str | None = None
    ) -> dict[Target, int]: ...


class GroupMembers(Protocol):
    """Who is in a Slack user group, as far as the bot knows: a cache the Slack layer keeps
    fresh in the background. A group missing from an answer is not known yet (its refresh is
    under way); nobody waits on Slack longer than an ack allows."""

    def known(self, groups: Collection[str]) -> Mapping[str, frozenset[str]]:
        """The last known members of each group, at once; unknown ones are left out and
        fetched in the background."""
        ...

    async def members(self, groups: Collection[str]) -> Mapping[str, frozenset[str]]:
        """As `known`, but a group never fetched is waited for, briefly (a bounded wait well
        inside Slack's three seconds)."""
        ...


class Admission(Protocol):
    """Whether a new request may still be written now: the workflow asks right before
    filing. The Slack doors' answers-in-time rule (bot/slack/admission.py) fills it."""

    def check(self) -> None:
        """Raises a Refusal (e.g. Busy) to file nothing; returns to let the filing go on."""
        ...
