"""The bot's Prometheus metrics, on a registry of its own (several bots in one process stay apart).

Every label comes from a small closed set: org names from the organization file, the action,
the decision, an endpoint template, a status code or class, a Slack method, a Slack error
code from a known list. Never a request id, a user id, a number or an app id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.models import Action, Request, Status
from bot.core.undo import undid

__all__ = ["OTHER", "BotMetrics", "MetricsSource", "ack_kind", "slack_error_label"]

log = logging.getLogger(__name__)

OTHER = "other"
REFRESH_TIMEOUT = 5.0
"""Seconds the sweeper's refresh of pending and outbox figures may take before it gives up."""
FRESH_SECONDS = 120.0
"""A pending request first heard of this long after it was filed was filed elsewhere (another
replica, before a restart): not counted here."""
REMEMBERED = 10_000
"""Requests whose last status is remembered, so a repeated notice is never counted twice."""

DECISIONS = frozenset({"approved", "denied", "cancelled", "expired"})
OUTCOMES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.UNKNOWN})
SFVOPI_STATUSES = frozenset({200, 401, 404, 500, 502, 503, 504})
SLACK_ERRORS = frozenset(
    {
        # what the bot's posts meet in practice (bot/slack/refusals.py explains them)
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "missing_scope",
        "restricted_action",
        "cannot_dm_bot",
        "user_not_found",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "not_allowed_token_type",
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_arguments",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "ekm_access_denied",
        "access_denied",
        "team_access_not_granted",
        # not Slack's codes: what the client met instead of an answer
        "timeout",
        "connection_error",
        "transport_error",
        "unreadable_response",
        "http_5xx",
        "http_4xx",
    }
)
ACK_KINDS = frozenset({"command", "interaction", "event", OTHER})
_INTERACTIONS = frozenset(
    {
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "block_suggestion",
    }
)
_EVENTS = frozenset({"event_callback", "url_verification", "app_rate_limited"})

DECISION_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
SFVOPI_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5)
SWEEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class MetricsSource(Protocol):
    """What the sweeper's refresh reads of the store."""

    async def pending_by_org(self) -> dict[str, tuple[int, float]]: ...

    async def outbox(self, now: float) -> tuple[list[int], list[int]]: ...


def slack_error_label(error: object) -> str:
    """A Slack error code as a label: one of SLACK_ERRORS, or "other"."""
    return error if isinstance(error, str) and error in SLACK_ERRORS else OTHER


_ENVELOPES = {"slash_commands": "command", "interactive": "interaction", "events_api": "event"}


def ack_kind(body: object) -> str:
    """What a Slack request was, as a label: command, interaction, event or other; from an
    HTTP body, or from a Socket Mode envelope's type."""
    if isinstance(body, str):
        return _ENVELOPES.get(body, OTHER)
    if not isinstance(body, Mapping):
        return OTHER
    if isinstance(body.get("command"), str):
        return "command"
    kind = body.get("type")
    if not isinstance(kind, str):  # a signed body is Slack's, but its JSON is not trusted
        return OTHER
    if kind in _INTERACTIONS:
        return "interaction"
    if kind in _EVENTS:
        return "event"
    return OTHER


class BotMetrics:
    """One bot's metrics; the parts of the bot report here, `/metrics` shows `registry`."""

    def __init__(
        self,
        orgs: Iterable[str] | Callable[[], Collection[str]] = (),
        *,
        clock: Callable[[], float] = time.time,
    ):
        # no `…_created` series beside each counter and histogram: Prometheus' text format shows
        # them as gauges of their own, doubling the series for nothing an operator reads
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.clock = clock
        # the org names in force: fixed, or read each time from the org file in force
        fixed = frozenset(() if callable(orgs) else orgs)
        self._org_names = orgs if callable(orgs) else lambda: fixed
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.filed = Counter(
            "sfvopi_bot_requests_filed",
            "Requests filed (stored pending), by org and action.",
            ["org", "action"],
            registry=r,
        )
        self.decisions = Counter(
            "sfvopi_bot_decisions",
            "Requests decided: approved (quorum reached), denied, cancelled, expired.",
            ["org", "action", "decision"],
            registry=r,
        )
        self.executions = Counter(
            "sfvopi_bot_executions",
            "Executions finished, by outcome: succeeded, failed, unknown.",
            ["org", "action", "outcome"],
            registry=r,
        )
        self.drifts = Counter(
            "sfvopi_bot_drifts",
            "Approved requests not run because what they touch changed since approved "
            "(back to pending).",
            ["org", "action"],
            registry=r,
        )
        self.undos = Counter(
            "sfvopi_bot_undos",
            "Undos finished, by what they took back (unlink, delete) and outcome: succeeded, "
            "failed, unknown.",
            ["org", "undid", "outcome"],
            registry=r,
        )
        self.time_to_decision = Histogram(
            "sfvopi_bot_time_to_decision_seconds",
            "Seconds from filing a request to its decision.",
            ["org", "decision"],
            buckets=DECISION_BUCKETS,
            registry=r,
        )
        self.sfvopi_requests = Counter(
            "sfvopi_bot_sfvopi_requests",
            "HTTP requests to SFVoPI (each attempt), by endpoint template and status "
            "(a code, a class such as 4xx, or timeout / connect_error / dropped / "
            "transport_error).",
            ["endpoint", "status"],
            registry=r,
        )
        self.sfvopi_duration = Histogram(
            "sfvopi_bot_sfvopi_request_duration_seconds",
            "Seconds per HTTP request to SFVoPI (each attempt), by endpoint template.",
            ["endpoint"],
            buckets=SFVOPI_BUCKETS,
            registry=r,
        )
        self.slack_calls = Counter(
            "sfvopi_bot_slack_api_calls",
            "Slack Web API answers (each attempt, refusals included), by method.",
            ["method"],
            registry=r,
        )
        self.slack_errors = Counter(
            "sfvopi_bot_slack_api_errors",
            "Slack Web API refusals and failures (each attempt), by method and error code.",
            ["method", "error"],
            registry=r,
        )
        self.outbox = Gauge(
            "sfvopi_bot_outbox_backlog",
            "What Slack has not been told yet, as of the last sweep: cards not posted (or not "
            "updated), outcomes not announced.",
            ["kind"],
            registry=r,
        )
        self.ack_duration = Histogram(
            "sfvopi_bot_ack_duration_seconds",
            "Seconds from a Slack request's arrival to its ack being sent, by front door "
            "(http, socket_mode) and kind (command, interaction, event, other).",
            ["door", "kind"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.commands_shed = Counter(
            "sfvopi_bot_commands_shed",
            "Slash commands refused busy (nothing filed) because they could not be answered "
            "in time, by front door and stage: gate (at once), late (before the write) or "
            "locked (another process held the database's write lock past the budget).",
            ["door", "stage"],
            registry=r,
        )
        self.sweeps = Counter(
            "sfvopi_bot_sweeps",
            "Sweeps run (expiry, recovery, Slack outbox), by result: ok or failed.",
            ["result"],
            registry=r,
        )
        self.sweep_duration = Histogram(
            "sfvopi_bot_sweep_duration_seconds",
            "Seconds per completed sweep.",
            buckets=SWEEP_BUCKETS,
            registry=r,
        )
        self.last_sweep = Gauge(
            "sfvopi_bot_last_sweep_timestamp_seconds",
            "Unix time of the last completed sweep (0 before the first).",
            registry=r,
        )
        self.sweep_lag = Gauge(
            "sfvopi_bot_sweep_lag_seconds",
            "Seconds since the last completed sweep (since start before the first).",
            registry=r,
        )
        self.sweep_lag.set_function(self._sweep_lag)
        self._started = clock()
        self._last_sweep: float | None = None
        self._pending: dict[str, tuple[int, float]] = {}
        self._seen: OrderedDict[int, Status] = OrderedDict()
        for kind in ("cards", "announcements"):
            self.outbox.labels(kind).set(0)
        for result in ("ok", "failed"):
            self.sweeps.labels(result)
        r.register(_PendingCollector(self))
        ProcessCollector(registry=r)

    def org(self, name: str) -> str:
        """An org name as a label: one of the organization file's, or "other"."""
        return name if name in self._org_names() else OTHER

    # -- the workflow's listener ----------------------------------------------------------

    def changed(self, request: Request) -> None:
        """Counts what a change of request means; a notice repeated (or seen twice) counts
        once. A decision or outcome is counted by the replica that made it."""
        before = self._seen.get(request.id)
        self._seen[request.id] = request.status
        self._seen.move_to_end(request.id)
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        if before is request.status:
            return
        org, action, status = self.org(request.org), request.action.value, request.status
        if status is Status.PENDING and before is Status.EXECUTING:
            self.drifts.labels(org, action).inc()  # counted by the replica that drifted it
        elif status is Status.PENDING:
            fresh = self.clock() - request.created_at < FRESH_SECONDS
            if before is None and not request.approvals and fresh:
                self.filed.labels(org, action).inc()
        elif status is Status.EXECUTING:
            if before in (None, Status.PENDING) and request.executions <= 1:
                self._decided(request, "approved", self.clock())
        elif status in OUTCOMES:
            self.executions.labels(org, action, status.value).inc()
            if request.action is Action.UNDO:
                self.undos.labels(org, undid(request).value, status.value).inc()
        elif status.value in DECISIONS:
            self._decided(request, status.value, request.finished_at or self.clock())

    def _decided(self, request: Request, decision: str, at: float) -> None:
        org = self.org(request.org)
        self.decisions.labels(org, request.action.value, decision).inc()
        self.time_to_decision.labels(org, decision).observe(max(0.0, at - request.created_at))

    # -- the other parts' reports ---------------------------------------------------------

    def sfvopi_request(self, endpoint: str, status: int | str, seconds: float) -> None:
        """One HTTP attempt to SFVoPI (the client's observer)."""
        if isinstance(status, int):
            status = str(status) if status in SFVOPI_STATUSES else f"{status // 100}xx"
        self.sfvopi_requests.labels(endpoint, status).inc()
        self.sfvopi_duration.labels(endpoint).observe(seconds)

    def slack_answer(self, method: str, error: str | None) -> None:
        """One Slack Web API attempt; `error` when Slack refused it or no answer came."""
        self.slack_calls.labels(method).inc()
        if error is not None:
            self.slack_errors.labels(method, slack_error_label(error)).inc()

    def acked(self, door: str, kind: str, seconds: float) -> None:
        self.ack_duration.labels(door, kind if kind in ACK_KINDS else OTHER).observe(seconds)

    def shed(self, door: str, stage: str) -> None:
        self.commands_shed.labels(door, stage).inc()

    @contextlib.contextmanager
    def sweeping(self) -> Iterator[None]:
        """Times one sweep; a completed one moves the last-sweep time."""
        started = time.perf_counter()
        try:
            yield
        except Exception:
            self.sweeps.labels("failed").inc()
            raise
        self.sweep_duration.observe(time.perf_counter() - started)
        self.sweeps.labels("ok").inc()
        self._last_sweep = self.clock()
        self.last_sweep.set(self._last_sweep)

    def _sweep_lag(self) -> float:
        since = self._last_sweep if self._last_sweep is not None else self._started
        return max(0.0, self.clock() - since)

    async def refresh(self, store: MetricsSource) -> None:
        """Pending requests and the outbox, read from the store (bounded by REFRESH_TIMEOUT);
        a failure keeps the last figures and is logged, never raised."""
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT):
                pending = await store.pending_by_org()
                cards, untold = await store.outbox(self.clock())
        except Exception as exc:
            log.warning("could not refresh the pending and outbox metrics (%s)", exc)
            return
        self._pending = pending
        self.outbox.labels("cards").set(len(cards))
        self.outbox.labels("announcements").set(len(untold))

    def pending_families(self) -> list[Metric]:
        """Pending requests per org, and the age of the oldest, from the last refresh; the age
        is reckoned at scrape time, so it grows between sweeps as it does in fact."""
        count = GaugeMetricFamily(
            "sfvopi_bot_pending_requests",
            "Requests waiting for a decision, by org (as of the last sweep).",
            labels=["org"],
        )
        age = GaugeMetricFamily(
            "sfvopi_bot_oldest_pending_age_seconds",
            "Age of the oldest request waiting for a decision, by org (0 when none).",
            labels=["org"],
        )
        now = self.clock()
        totals: dict[str, tuple[int, float]] = {name: (0, now) for name in self._org_names()}
        for name, (n, oldest) in self._pending.items():
            label = self.org(name)
            had, first = totals.get(label, (0, now))
            totals[label] = (had + n, min(first, oldest))
        for label in sorted(totals):
            n, oldest = totals[label]
            count.add_metric([label], n)
            age.add_metric([label], max(0.0, now - oldest) if n else 0.0)
        return [count, age]


class _PendingCollector(Collector):
    def __init__(self, metrics: BotMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics.pending_families()

    def describe(self) -> Iterable[Metric]:
        return self.metrics.pending_families()
