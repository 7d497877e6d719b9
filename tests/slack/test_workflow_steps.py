"""Workflow Builder steps end to end: a workflow runs "Unlink numbers" or "Delete apps", the
step files a request through the same roles, card and approvals, and is completed once when
the request ends — over HTTP and Socket Mode, on SQLite and PostgreSQL, across a restart and
two replicas, through Slack refusing the completion; the execution's token never leaks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from pydantic import SecretStr

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from bot.core.models import Status
from bot.core.org import OrgDirectory
from bot.core.workflow.filing import Filing
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackApiRefusal, SlackStandin, StepRun
from tests.support.bot import RunningBot, SocketBot, start_bot
from tests.support.slack import SLACK_SIGNING_SECRET
from tests.support.slack_user import (
    APPROVALS,
    UNLINK,
    ask,
    card,
    card_text,
    click,
    confirm_if_asked,
    deny_with_reason,
    request_id_in,
    told,
)

NUMBER, SECOND, APP = "+918000000001", "+918000000002", "sfv_app_abc123xyz456"
UNLINK_INPUTS = {
    "org": "acme",
    "targets": f"{NUMBER} {APP}",
    "reason": "fraud on this DID, INC-4411",
    "requester": "U0ALICE",
}


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    """The usual settings, on each database in turn."""
    return bot_settings.model_copy(update={"database_url": bot_database_url})


async def run_step(
    slack: SlackStandin, bot: RunningBot | SocketBot, inputs: dict[str, Any], **kw: Any
) -> StepRun:
    """A workflow reaches the step; Slack's delivery is acked, and the work after it done."""
    run, delivered = await slack.run_step(kw.pop("callback_id", "unlink_numbers"), inputs, **kw)
    assert delivered.ok, delivered
    await bot.settle()
    return run


def filed(slack: SlackStandin) -> int:
    """The request number on the one card the step's request put in the approval channel."""
    (message,) = [m for m in slack.messages(APPROVALS) if "request #" in m.text]
    return int(message.text.split("request #")[1].split()[0].strip("*:,."))


def completions(slack: SlackStandin) -> list[str]:
    return [c.method for c in slack.calls if c.method.startswith("functions.complete")]


async def settled_run(slack: SlackStandin, run: StepRun, timeout: float = 20.0) -> StepRun:
    await slack.wait_for(lambda: run.state != "running", timeout=timeout)
    return run


async def approve(slack: SlackStandin, bot: RunningBot, request_id: int) -> None:
    """Two approvers approve: a step's request needs one approval more than its policy (one
    for unlink in acme), since whoever built the workflow may be one of them."""
    for approver in ("U0BOB", "U0CAROL"):
        await click(slack, bot, approver, request_id, "approve")


# -- the step files a request; the approval completes it ----------------------------------


async def test_an_approved_step_completes_once_with_its_outputs(
    slack: SlackStandin, emulator: Emulator, bot: RunningBot
) -> None:
    run = await run_step(slack, bot, UNLINK_INPUTS)
    request_id = filed(slack)
    assert run.state == "running", "a step waits for its request's approvals"
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.requester == "U0ALICE"  # the input, not the workflow

    await click(slack, bot, "U0BOB", request_id, "approve")
    await bot.settle()
    assert run.state == "running", "a step's request needs one approval more than its policy"
    await click(slack, bot, "U0CAROL", request_id, "approve")
    await settled_run(slack, run)

    assert run.state == "completed" and run.completions == 1
    assert run.outputs is not None
    assert run.outputs["request_number"] == request_id
    assert run.outputs["final_state"] == "succeeded"
    assert run.outputs["results"] == f"{NUMBER} on {APP}: done"
    assert completions(slack) == ["functions.completeSuccess"]
    events = await bot.services.store.events(request_id)
    assert [e.detail.get("outcome") for e in events if e.kind == "step_completed"] == ["success"]
    kept = await bot.services.store.function_run(run.execution_id)
    assert kept is not None and kept.sealed_token is None, "the token is dropped once completed"


async def test_a_step_over_socket_mode_completes_too(
    slack: SlackStandin, socket_bot: SocketBot
) -> None:
    run, delivered = await slack.run_step(
        "delete_apps",
        {"targets": "sfv_app_def789ghi012", "reason": "decommission", "requester": "U0ALICE"},
    )
    assert delivered.ok and delivered.transport == "socket"
    await socket_bot.settle()
    request_id = filed(slack)
    for approver in ("U0BOB", "U0CAROL", "U0DAVE"):  # delete needs two in acme, a step's one more
        found = card(slack, request_id)
        assert (await slack.click(approver, APPROVALS, found.ts, "sfvopi_approve")).ok
        await socket_bot.settle()
        await confirm_if_asked(slack, socket_bot, approver)
    await settled_run(slack, run)
    assert run.state == "completed" and run.completions == 1
    assert run.outputs == {
        "request_number": request_id,
        "final_state": "succeeded",
        "results": "sfv_app_def789ghi012: done",
    }


async def test_a_denied_request_fails_the_step_with_the_reason(
    slack: SlackStandin, bot: RunningBot
) -> None:
    run = await run_step(slack, bot, UNLINK_INPUTS)
    request_id = filed(slack)
    await deny_with_reason(slack, bot, "U0BOB", request_id, "not during the change freeze")
    await settled_run(slack, run)
    assert run.state == "failed" and run.completions == 1
    assert run.error == (f"request #{request_id} was denied by U0BOB: not during the change freeze")
    assert completions(slack) == ["functions.completeError"]


# -- refused at filing: the step fails at once, nothing is filed ---------------------------


@pytest.mark.parametrize(
    ("inputs", "why"),
    [
        (UNLINK_INPUTS | {"requester": "U0VIC"}, "you are a viewer in acme"),
        (UNLINK_INPUTS | {"requester": "U0NOBODY"}, "not a member"),
        (UNLINK_INPUTS | {"targets": "banana"}, "needs at least one phone number"),
        (UNLINK_INPUTS | {"targets": "+91 sfv_app_abc123xyz456"}, "not a phone number"),
        (UNLINK_INPUTS | {"targets": f"{NUMBER} {APP} extra"}, "`extra` is not a target"),
        (UNLINK_INPUTS | {"targets": f"--again {NUMBER} {APP}"}, "`--again` is not a target"),
        (UNLINK_INPUTS | {"reason": "   "}, "a reason is required"),
        (UNLINK_INPUTS | {"requester": "not a user"}, "a person picked in the workflow"),
    ],
)
async def test_a_step_refused_at_filing_fails_at_once(
    slack: SlackStandin, bot: RunningBot, inputs: dict[str, Any], why: str
) -> None:
    run = await run_step(slack, bot, inputs)
    await settled_run(slack, run)
    assert run.state == "failed" and run.completions == 1
    assert run.error is not None and run.error.startswith("could not file the request: ")
    assert why in run.error
    assert not [m for m in slack.messages(APPROVALS) if "request #" in m.text]


@pytest.mark.parametrize(
    ("inputs", "why"),
    [
        (UNLINK_INPUTS | {"reason": "INC-4411 \ud800"}, "the reason contains characters that"),
        (UNLINK_INPUTS | {"reason": "\u200b\u202e \u2066\ufeff"}, "a reason is required"),
        (UNLINK_INPUTS | {"org": "ac\udc00me"}, "not a member of an organization named"),
        (UNLINK_INPUTS | {"targets": f"{NUMBER} sfv_app_\ud800"}, "is not an app id"),
    ],
    ids=["surrogate-reason", "invisible-reason", "surrogate-org", "surrogate-id"],
)
async def test_a_step_given_hostile_text_fails_at_once_saying_why(
    slack: SlackStandin,
    bot: RunningBot,
    inputs: dict[str, Any],
    why: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = await run_step(slack, bot, inputs)
    assert run.state == "failed", "completed right after the ack, not when the lease lapses"
    assert run.completions == 1 and run.error is not None
    assert run.error.startswith("could not file the request: ") and why in run.error
    run.error.encode("utf-8")
    assert not [m for m in slack.messages(APPROVALS) if "request #" in m.text]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# -- once: Slack's redelivery, a restart, two replicas, a refused completion ---------------


async def test_a_redelivered_step_files_one_request(slack: SlackStandin, bot: RunningBot) -> None:
    run = await run_step(slack, bot, UNLINK_INPUTS)
    # Slack delivers the same execution again under a new event id (not a retry)
    again, delivered = await slack.run_step(
        "unlink_numbers", UNLINK_INPUTS, execution_id=run.execution_id
    )
    assert delivered.ok
    await bot.settle()
    request_id = filed(slack)  # still one card
    await approve(slack, bot, request_id)
    await settled_run(slack, again)
    assert again.completions == 1 and again.refused == 0
    assert completions(slack) == ["functions.completeSuccess"]


async def test_a_step_completes_after_the_bot_restarts(
    slack: SlackStandin,
    bot_settings: Settings,
    orgs: OrgDirectory,
) -> None:
    first = await start_bot(bot_settings, orgs, slack)
    run = await run_step(slack, first, UNLINK_INPUTS)
    request_id = filed(slack)
    await first.stop()

    second = await start_bot(bot_settings, orgs, slack)
    try:
        await approve(slack, second, request_id)
        await settled_run(slack, run)
    finally:
        await second.stop()
    assert run.state == "completed" and run.completions == 1
    assert run.outputs is not None and run.outputs["request_number"] == request_id


async def test_a_refused_completion_is_retried_by_the_next_replica_to_start(
    slack: SlackStandin,
    bot_settings: Settings,
    orgs: OrgDirectory,
) -> None:
    """Slack refuses the completion; the bot stops before retrying; a fresh one finishes it."""
    first = await start_bot(bot_settings, orgs, slack)
    run = await run_step(slack, first, UNLINK_INPUTS)
    slack.fail("functions.completeSuccess", SlackApiRefusal("internal_error"))
    await approve(slack, first, filed(slack))
    await first.stop()
    assert run.state == "running"
    assert [c.error for c in slack.calls if c.method == "functions.completeSuccess"] == [
        "internal_error"
    ]

    second = await start_bot(bot_settings, orgs, slack)
    try:
        await sweep_until_settled(second, slack, run)
    finally:
        await second.stop()
    assert run.state == "completed" and run.completions == 1 and run.refused == 0


async def sweep_until_settled(bot: RunningBot, slack: SlackStandin, run: StepRun) -> None:
    """The replica's sweeper, run by hand until the step is completed (its retry waits for
    the refused attempt's back-off, one lease)."""
    async with asyncio.timeout(40):
        while run.state == "running":
            await bot.services.steps.sweep()  # type: ignore[union-attr]
            await slack.wait_changed(slack.version, 0.2)


async def test_two_replicas_complete_a_step_once(
    slack: SlackStandin,
    bot_settings: Settings,
    orgs: OrgDirectory,
) -> None:
    """The approval lands on one replica while the other sweeps as hard as it can."""
    one = await start_bot(bot_settings, orgs, slack)
    two = await start_bot(bot_settings, orgs, slack)
    try:
        slack.configure(one.url, SLACK_SIGNING_SECRET)  # Slack's deliveries reach replica one
        run = await run_step(slack, one, UNLINK_INPUTS)
        request_id = filed(slack)
        stop = asyncio.Event()

        async def sweep_on_two() -> None:
            assert two.services.steps is not None
            while not stop.is_set():
                await two.services.steps.sweep()
                await asyncio.sleep(0)

        sweeping = asyncio.create_task(sweep_on_two())
        await approve(slack, one, request_id)
        await settled_run(slack, run)
        await one.settle()
        stop.set()
        await sweeping
        await two.services.steps.sweep()  # type: ignore[union-attr]
    finally:
        await one.stop()
        await two.stop()
    assert run.completions == 1 and run.refused == 0
    assert completions(slack) == ["functions.completeSuccess"]


# -- the execution's token ----------------------------------------------------------------


async def test_the_execution_token_never_appears_in_logs_or_events(
    slack: SlackStandin, bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    slack.fail("functions.completeError", SlackApiRefusal("internal_error"))
    run = await run_step(slack, bot, UNLINK_INPUTS)
    request_id = filed(slack)
    await deny_with_reason(slack, bot, "U0BOB", request_id, "no")
    assert any(c.error == "internal_error" for c in slack.calls if "complete" in c.method)
    await sweep_until_settled(bot, slack, run)
    assert run.state == "failed"
    assert "Slack refused its completion" in caplog.text  # the error path ran and logged
    assert run.token not in caplog.text
    events = await bot.services.store.events(request_id)
    assert events and run.token not in repr(events)
    assert run.token not in repr(slack.snapshot())
    stored = await bot.services.store.function_run(run.execution_id)
    assert stored is not None and stored.sealed_token is None


# -- the trust model: the requester is only the workflow's word ----------------------------


BREAK_GLASS_POLICY = """\
      break_glass: {roles: [admin], require_incident: true, review_within_minutes: 60}
"""
STEPS_ON = """\
    workflow_steps: {enabled: true}
"""


@pytest.fixture
def orgs_yaml(orgs_yaml: str) -> str:
    """acme with a break-glass policy for admins and workflow steps on (globex, as usual,
    with neither)."""
    marker = "      self_approval: false\n"
    assert marker in orgs_yaml
    return orgs_yaml.replace(marker, marker + BREAK_GLASS_POLICY + STEPS_ON, 1)


async def test_a_step_naming_an_admin_cannot_break_glass(
    slack: SlackStandin, emulator: Emulator, bot: RunningBot
) -> None:
    """Issue 21: anyone who can build a workflow names an admin and cites an incident; the
    signed event is Slack's, but the name is not, so nothing runs and nothing is filed."""
    inputs = UNLINK_INPUTS | {"requester": "U0DAVE", "break_glass": "INC-4411"}
    run = await run_step(slack, bot, inputs)
    await settled_run(slack, run)
    assert run.state == "failed" and run.completions == 1 and run.outputs is None
    assert run.error is not None
    assert run.error.startswith("could not file the request: a workflow step cannot break glass")
    assert "--break-glass" in run.error
    assert not emulator.writes
    assert not [m for m in slack.messages(APPROVALS) if "request #" in m.text]
    assert await bot.services.store.list_requests(orgs=["acme"]) == []


async def test_a_step_into_an_org_without_workflow_steps_is_refused(
    slack: SlackStandin, bot: RunningBot
) -> None:
    run = await run_step(
        slack,
        bot,
        {"org": "globex", "targets": APP, "reason": "r", "requester": "U0GINA"},
        callback_id="delete_apps",
    )
    await settled_run(slack, run)
    assert run.state == "failed" and run.error == (
        "could not file the request: workflow steps are off in org globex; an admin can turn "
        "them on with workflow_steps in the org file"
    )
    assert await bot.services.store.list_requests(orgs=["globex"]) == []


async def test_a_step_names_only_the_requesters_the_org_file_lists(
    slack: SlackStandin, bot_settings: Settings, orgs_yaml: str, org_env: dict[str, str]
) -> None:
    """`requesters` bounds whom a workflow may name: Alice only through the user group (read
    from Slack), Carol not at all, though she holds the requester role."""
    slack.set_usergroup("S0STEPS", ["U0ALICE"])
    listed = orgs_yaml.replace(STEPS_ON, STEPS_ON.replace("}", ", requesters: [U0MULTI, S0STEPS]}"))
    running = await start_bot(bot_settings, parse_orgs(listed, org_env), slack)
    try:
        refused = await run_step(slack, running, UNLINK_INPUTS | {"requester": "U0CAROL"})
        await settled_run(slack, refused)
        by_group = await run_step(slack, running, UNLINK_INPUTS)
        listed_one = await run_step(
            slack, running, UNLINK_INPUTS | {"requester": "U0MULTI", "targets": f"{SECOND} {APP}"}
        )
        filed_by = [r.requester for r in await running.services.store.list_requests(orgs=["acme"])]
    finally:
        await running.stop()
    assert refused.state == "failed" and refused.error == (
        "could not file the request: workflow steps in org acme may not name U0CAROL as the "
        "requester: an admin lists whom they may name under workflow_steps requesters in the "
        "org file"
    )
    assert by_group.state == listed_one.state == "running"
    assert sorted(filed_by) == ["U0ALICE", "U0MULTI"]


async def test_a_policy_raised_after_a_step_filed_still_asks_the_step_s_one_more(
    slack: SlackStandin,
    emulator: Emulator,
    bot: RunningBot,
    orgs_yaml: str,
    org_env: dict[str, str],
) -> None:
    """The file is reloaded with unlink needing two: the step's request then needs three (the
    policy's two and the step's one), not the two it was filed with, on the card as in the
    quorum."""
    run = await run_step(slack, bot, UNLINK_INPUTS)
    request_id = filed(slack)
    raised = orgs_yaml.replace("      unlink: {approvals: 1}\n", "      unlink: {approvals: 2}\n")
    await bot.reload_orgs(parse_orgs(raised, org_env))
    await bot.settle()
    await approve(slack, bot, request_id)
    await bot.settle()
    assert run.state == "running" and not emulator.writes
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.PENDING
    assert "2 of 3 (<@U0BOB>, <@U0CAROL>)" in card_text(card(slack, request_id))

    await click(slack, bot, "U0DAVE", request_id, "approve")
    await settled_run(slack, run)
    assert run.state == "completed" and len(emulator.writes) == 1


async def test_the_named_requester_never_approves_a_step_s_request(
    slack: SlackStandin,
    emulator: Emulator,
    bot_settings: Settings,
    orgs_yaml: str,
    org_env: dict[str, str],
) -> None:
    """Even where self_approval is true: Bob may approve what he typed himself, but not what a
    workflow filed in his name; Carol's and Dave's approvals run it (a step's one more)."""
    relaxed = orgs_yaml.replace("self_approval: false", "self_approval: true")
    running = await start_bot(bot_settings, parse_orgs(relaxed, org_env), slack)
    try:
        typed = request_id_in(await ask(slack, running, "U0BOB", UNLINK))
        await click(slack, running, "U0BOB", typed, "approve")
        done = await running.services.store.get(typed)
        assert done is not None and done.status is Status.SUCCEEDED, "self-approval is on"
        calls = len(emulator.writes)

        run = await run_step(
            slack, running, UNLINK_INPUTS | {"requester": "U0BOB", "targets": f"{SECOND} {APP}"}
        )
        (newest,) = await running.services.store.list_requests(orgs=["acme"], limit=1)
        request_id = newest.id
        assert newest.filed_by_step and request_id != typed
        await click(slack, running, "U0BOB", request_id, "approve")
        assert "another approver must approve it" in told(slack, "U0BOB")[-1]
        stored = await running.services.store.get(request_id)
        assert stored is not None and stored.status is Status.PENDING and not stored.approvals
        assert len(emulator.writes) == calls
        assert request_id not in [
            r.id for r in await running.services.workflow.waiting_for("U0BOB")
        ]

        await click(slack, running, "U0CAROL", request_id, "approve")
        await click(slack, running, "U0DAVE", request_id, "approve")
        await settled_run(slack, run)
    finally:
        await running.stop()
    assert run.state == "completed" and run.outputs is not None
    assert run.outputs["final_state"] == "succeeded"


async def test_a_step_s_card_and_requested_event_say_a_workflow_named_the_requester(
    slack: SlackStandin, bot: RunningBot
) -> None:
    await run_step(slack, bot, UNLINK_INPUTS)
    request_id = filed(slack)
    assert "Filed by a workflow step; requester as named by the workflow" in card_text(
        card(slack, request_id)
    )
    events = await bot.services.store.events(request_id)
    assert events[0].kind == "requested" and events[0].actor == "U0ALICE"
    assert events[0].detail["filed_by"] == (
        "filed by a workflow step; requester as named by the workflow"
    )
    typed = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK.replace(NUMBER, SECOND)))
    assert "workflow step" not in card_text(card(slack, typed))
    assert "filed_by" not in (await bot.services.store.events(typed))[0].detail


async def test_an_unsigned_step_event_files_nothing(slack: SlackStandin, bot: RunningBot) -> None:
    """Anyone can post a `function_executed` body to the bot's URL; without Slack's signature
    it is refused before it is read, and no request or step run comes of it."""
    body = (
        b'{"type":"event_callback","event_id":"Ev0FORGED01","event":{"type":"function_executed",'
        b'"function":{"callback_id":"unlink_numbers"},"function_execution_id":"Fx0FORGED1",'
        b'"inputs":{"targets":"+918000000001 sfv_app_abc123xyz456","reason":"r",'
        b'"requester":"U0ALICE"},"bot_access_token":"xwfp-forged-not-real"}}'
    )
    ack = await slack.raw_post(body, {"Content-Type": "application/json"})
    await bot.settle()
    assert ack.status == 401
    assert await bot.services.store.function_run("Fx0FORGED1") is None
    assert not slack.messages(APPROVALS)


async def test_a_step_whose_filing_a_crash_cut_short_fails_saying_so(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """The bot took the run in and died before filing: after a lease, a sweep fails the step
    (a request it did file is found by its dedupe key instead; tests/store covers that)."""
    steps = bot.services.steps
    assert steps is not None
    run = StepRun(
        execution_id="Fx0CRASHED1", callback_id="unlink_numbers", inputs={}, token="xwfp-t-1"
    )
    slack.step_runs[run.execution_id] = run
    sealed = steps.sealer.seal(SecretStr(run.token))
    taken_at = time.time() - 2 * steps.lease_seconds
    await bot.services.store.add_function_run(run.execution_id, run.callback_id, sealed, taken_at)
    await steps.sweep()
    assert run.state == "failed" and run.completions == 1
    assert run.error == "the bot stopped while filing the request; run the step again"


# -- a step the bot cannot handle fails saying so, never stays in progress -------------------


async def fails_at_once(slack: SlackStandin, run: StepRun, why: str) -> None:
    """The step failed, once, with `why` in its message; nothing was filed."""
    await settled_run(slack, run)
    assert run.state == "failed" and run.completions == 1, run
    assert run.error is not None and why in run.error, run.error
    assert completions(slack) == ["functions.completeError"]
    assert not [m for m in slack.messages(APPROVALS) if "request #" in m.text]


@pytest.mark.parametrize(
    ("bent", "why"),
    [
        ({"function": "unlink_numbers"}, "the bot could not read"),
        ({"function": {"callback_id": None}}, "unknown step"),
        ({"function": {"callback_id": "drop_tables"}}, "unknown step `drop_tables`"),
        ({"function": {"callback_id": "x" * 300}}, "unknown step"),
        ({"inputs": ["not", "an", "object"]}, "the step has no inputs"),
    ],
)
async def test_a_step_event_the_bot_cannot_read_fails_its_step(
    slack: SlackStandin, bot: RunningBot, bent: dict[str, Any], why: str
) -> None:
    run, event = slack.step_event("unlink_numbers", UNLINK_INPUTS)
    assert (await slack.send_event(event | bent)).ok
    await bot.settle()
    await fails_at_once(slack, run, why)


async def test_a_step_event_routing_refuses_fails_its_step(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """A body Bolt cannot route (a stray `actions` field) is answered 200 and its step failed."""
    run, event = slack.step_event("unlink_numbers", UNLINK_INPUTS)
    body = {"type": "event_callback", "event_id": "Ev0STRAY01", "actions": "?", "event": event}
    assert (await slack.redeliver(body, retry=0)).ok
    await bot.settle()
    await fails_at_once(slack, run, "the bot could not read")


async def test_an_execution_id_the_bot_cannot_record_fails_its_step(
    slack: SlackStandin, bot: RunningBot
) -> None:
    run = await run_step(slack, bot, UNLINK_INPUTS, execution_id="Fx-0DASHED_1")
    await fails_at_once(slack, run, "its execution id")
    assert await bot.services.store.function_run(run.execution_id) is None


async def test_a_step_whose_filing_raises_fails_at_once(
    slack: SlackStandin,
    bot: RunningBot,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug or a blip while filing fails the step right after the ack, not a lease later."""

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug, with words the log must not carry")

    monkeypatch.setattr(Filing, "file", broken)  # every workflow's, the step's own view too
    run = await run_step(slack, bot, UNLINK_INPUTS)
    await fails_at_once(slack, run, "could not file the request: the bot failed while filing")
    stored = await bot.services.store.function_run(run.execution_id)
    assert stored is not None and stored.completed_at is not None
    assert "RuntimeError" in caplog.text and "words the log must not carry" not in caplog.text


async def test_a_step_the_bot_cannot_take_in_fails_at_once(
    slack: SlackStandin, bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store refusing the run itself (nothing recorded, no sweep to finish it): the step
    is failed straight from the event, with the execution's own token."""

    async def broken(*_: Any) -> bool:
        raise RuntimeError("database gone")

    monkeypatch.setattr(bot.services.store, "add_function_run", broken)
    run = await run_step(slack, bot, UNLINK_INPUTS)
    await fails_at_once(slack, run, "the bot failed while taking this step in")


async def test_a_step_event_over_the_socket_the_bot_cannot_read_fails_its_step(
    slack: SlackStandin, socket_bot: SocketBot
) -> None:
    run, event = slack.step_event("unlink_numbers", UNLINK_INPUTS)
    delivered = await slack.send_event(event | {"function": "unlink_numbers"})
    assert delivered.ok and delivered.transport == "socket"
    await socket_bot.settle()
    await fails_at_once(slack, run, "the bot could not read")
