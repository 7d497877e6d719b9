"""How the workflow's notices become counts: each filing, decision and outcome once, however
often a request is announced, and only by the replica that made it; unknown orgs as "other"."""

from __future__ import annotations

from dataclasses import replace

from bot.core.models import Action, Approval, Request, Status, Target, TargetState
from bot.observability.metrics import BotMetrics, slack_error_label
from bot.slack import refusals

T0 = 1_700_000_000.0


def pending(request_id: int = 1, org: str = "acme", created_at: float = T0) -> Request:
    return Request(
        id=request_id,
        org=org,
        action=Action.UNLINK,
        requester="U0ALICE",
        reason="fraud",
        status=Status.PENDING,
        approvals_needed=1,
        created_at=created_at,
        expires_at=created_at + 3600,
        targets=(TargetState(Target("sfv_app_abc123xyz456", "+918000000001")),),
    )


def value(metrics: BotMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return found or 0.0


def test_a_filing_counts_once_and_only_where_it_was_fresh() -> None:
    now = [T0 + 1]
    metrics = BotMetrics(["acme"], clock=lambda: now[0])
    metrics.changed(pending(1))
    metrics.changed(pending(1))  # announced again (a reload, a reminder)
    metrics.changed(pending(2, created_at=T0 - 3600))  # filed long ago, first heard of now
    approved_once = replace(pending(3), approvals=(Approval("U0BOB", T0),))
    metrics.changed(approved_once)  # one of two approvals: not a filing
    metrics.changed(pending(4, org="initech"))
    filed = "sfvopi_bot_requests_filed_total"
    assert value(metrics, filed, org="acme", action="unlink") == 1
    assert value(metrics, filed, org="other", action="unlink") == 1


def test_a_decision_counts_once_with_its_delay_and_a_recovery_is_no_approval() -> None:
    metrics = BotMetrics(["acme"], clock=lambda: T0 + 90)
    request = pending(1)
    metrics.changed(request)
    executing = replace(request, status=Status.EXECUTING, executions=1)
    metrics.changed(executing)  # the claim
    metrics.changed(executing)  # the execution starting
    metrics.changed(replace(executing, status=Status.SUCCEEDED, finished_at=T0 + 95))
    retaken = replace(pending(2), status=Status.EXECUTING, executions=2)
    metrics.changed(retaken)  # a sweeper took over a dead worker's run
    metrics.changed(replace(retaken, status=Status.UNKNOWN))
    denied = replace(pending(3), status=Status.DENIED, finished_at=T0 + 600)
    metrics.changed(denied)
    metrics.changed(denied)

    acme = {"org": "acme", "action": "unlink"}
    decisions = "sfvopi_bot_decisions_total"
    assert value(metrics, decisions, **acme, decision="approved") == 1
    assert value(metrics, decisions, **acme, decision="denied") == 1
    executions = "sfvopi_bot_executions_total"
    assert value(metrics, executions, **acme, outcome="succeeded") == 1
    assert value(metrics, executions, **acme, outcome="unknown") == 1
    delay = "sfvopi_bot_time_to_decision_seconds_sum"
    assert value(metrics, delay, org="acme", decision="approved") == 90
    assert value(metrics, delay, org="acme", decision="denied") == 600


def test_every_slack_refusal_the_bot_explains_keeps_a_label_of_its_own() -> None:
    """The metrics' closed label set and bot/slack/refusals.py list Slack's codes apart (the
    layers may not import each other): an explained code counted as "other" would hide it."""
    explained = (set(refusals.TRANSIENT) | set(refusals.TOKEN) | set(refusals.FIXES)) - {
        "connection"  # a network failure, labelled by what the client met (timeout, ...)
    }
    assert explained
    assert {code: slack_error_label(code) for code in explained} == {c: c for c in explained}
    assert slack_error_label("no_such_code_from_slack") == "other"
