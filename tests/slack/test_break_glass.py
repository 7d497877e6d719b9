"""Break-glass as people meet it in Slack: an admin runs an unlink at once, citing an incident;
a red card says who, why and what happened; an approver acknowledges or flags it (never the
person who broke glass); an unreviewed one is escalated once; everyone else is refused.

The bot is the real server over the stand-ins, on SQLite and PostgreSQL. Time for the review
deadline is the review poster's clock, moved to the minute (no waiting); the sweeper is run by
hand, as every replica's timer runs it.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from bot.core.models import Review, Status
from bot.core.org import OrgDirectory
from bot.errors import Conflict
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.slack.blocks import UNDO
from tests.support.bot import RunningBot
from tests.support.filing import broke_glass
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.slack_user import (
    APPROVALS,
    UNLINK,
    ask,
    card,
    card_text,
    channel_texts,
    click,
    click_for_reason,
    dms,
    request_id_in,
    thread,
    told,
    type_and_submit,
)

SECOPS = "C0SECOPS"
GLASS = ORGS_YAML.replace(
    "      self_approval: false\n",
    "      self_approval: false\n"
    "      escalate_after_minutes: 45\n"
    f"      escalate_to: [{SECOPS}, U0CTO]\n"
    "      break_glass: {roles: [admin], require_incident: true, review_within_minutes: 30}\n",
    1,
)
BREAK = (
    "unlink +918000000001 sfv_app_abc123xyz456 --break-glass INC-4411 "
    "fraud spike on this DID, the approvers are asleep"
)
RUN = ("requested", "broke_glass", "claimed", "api_result", "executed", "succeeded")
PATH = "/superfone/sfvopi/apps/sfv_app_abc123xyz456/numbers/%2B918000000001"


@pytest.fixture
def orgs() -> OrgDirectory:
    return parse_orgs(GLASS, ORG_ENV)


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    """The same bot on each database (SQLite, and PostgreSQL where it is configured)."""
    return bot_settings.model_copy(update={"database_url": bot_database_url})


async def break_glass(slack: SlackStandin, bot: RunningBot, text: str = BREAK) -> int:
    """U0DAVE (an admin) breaks glass; the request's number, once it has run."""
    reply = await ask(slack, bot, "U0DAVE", text)
    assert "broke glass" in reply, reply
    request_id = request_id_in(reply)
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status.final and stored.card_ts is not None
    return request_id


def calls(emulator: Emulator) -> list[str]:
    return [c.raw_path for c in emulator.writes]


def buttons_of(slack: SlackStandin, request_id: int) -> list[str]:
    return [
        str(e.get("action_id"))
        for b in card(slack, request_id).blocks
        if b.get("type") == "actions"
        for e in b["elements"]
    ]


async def kinds(bot: RunningBot, request_id: int) -> list[str]:
    return [e.kind for e in await bot.services.store.events(request_id)]


async def sweep_at(bot: RunningBot, when: float) -> None:
    """Every replica's sweep, with the review poster's clock at `when`."""
    assert bot.services.outbox is not None
    bot.services.outbox.clock = lambda: when
    await bot.sweep_once()
    await bot.settle()


# -- breaking glass ------------------------------------------------------------------------


async def test_an_admin_breaks_glass_and_it_runs_once_without_a_second_person(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = await break_glass(slack, bot)

    assert calls(emulator) == [PATH]
    stored = await bot.services.store.get(request_id)
    assert stored is not None
    assert stored.status is Status.SUCCEEDED and stored.executions == 1
    assert stored.incident == "INC-4411" and stored.review is Review.PENDING
    assert stored.approvals == ()

    shown = card_text(card(slack, request_id))
    assert ":rotating_light: Break-glass: Unlink 1 number" in shown
    assert "*Broke glass*\\n<@U0DAVE>" in shown and "`INC-4411`" in shown
    assert "Ran without approval: done" in shown
    assert "`+918000000001` from `sfv_app_abc123xyz456` — done" in shown
    assert "fraud spike on this DID" in shown
    # what nobody approved, as read right before it ran: the reviewer judges that
    assert "*What it touched* (read right before running" in shown
    assert "`+918000000001` was linked to `sfv_app_abc123xyz456`" in shown
    # its review, then Undo (the pre-image was read before it ran)
    assert buttons_of(slack, request_id) == ["sfvopi_review_ack", "sfvopi_review_flag", UNDO]
    assert "escalated to <#C0SECOPS>, <@U0CTO>" in shown

    found = await kinds(bot, request_id)
    assert [k for k in found if k in RUN] == list(RUN)  # the card is posted meanwhile
    assert found.count("card_posted") == 1
    events = {e.kind: e.detail for e in await bot.services.store.events(request_id)}
    assert events["broke_glass"] == {
        "incident": "INC-4411",
        "reason": "fraud spike on this DID, the approvers are asleep",
    }
    assert events["executed"] == {
        "targets": [{"target": "+918000000001 on sfv_app_abc123xyz456", "outcome": "done"}]
    }
    (outcome,) = channel_texts(slack, "C0OPSLOG")
    assert "broke glass without approval (incident `INC-4411`)" in outcome

    status = await ask(slack, bot, "U0BOB", f"status {request_id}")
    assert status.startswith(f"Break-glass Unlink 1 number — request #{request_id} by <@U0DAVE>")
    await bot.sweep_once()  # every replica's sweeper: nothing runs again
    await bot.settle()
    assert calls(emulator) == [PATH]


@pytest.mark.parametrize(
    ("user", "text", "said"),
    [
        ("U0ALICE", BREAK, "break-glass in acme is only for: admin; you are a requester"),
        ("U0BOB", BREAK, "break-glass in acme is only for: admin; you are an approver"),
        (
            "U0DAVE",
            "unlink +918000000001 sfv_app_abc123xyz456 --break-glass no incident at hand",
            "break-glass in acme needs an incident id, e.g. `--break-glass INC-4411`",
        ),
        (
            "U0GINA",
            "unlink +918000000009 sfv_app_globex000001 --break-glass INC-1 urgent",
            "org globex has no break-glass policy",
        ),
        ("U0DAVE", "delete sfv_app_empty0000001 --break-glass=INC-x oops", "is not an incident id"),
    ],
)
async def test_break_glass_is_refused_where_the_policy_does_not_allow_it(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator, user: str, text: str, said: str
) -> None:
    reply = await ask(slack, bot, user, text, channel="C0OPS")
    assert said in reply
    assert calls(emulator) == []
    assert slack.messages(APPROVALS) == []
    assert await bot.services.store.list_requests(orgs=["acme", "globex"]) == []


async def test_without_break_glass_the_same_command_still_waits_for_approval(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    reply = await ask(slack, bot, "U0DAVE", UNLINK)
    assert "is waiting for 1 approval" in reply
    assert calls(emulator) == []


async def test_who_may_break_glass_is_read_from_the_org_file_and_groups_in_force(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    slack.set_usergroup("S0ONCALL", ["U0ZED"])
    grouped = GLASS.replace(
        "      U0VIC: viewer\n", "      U0VIC: viewer\n      S0ONCALL: admin\n", 1
    )
    await bot.reload_orgs(parse_orgs(grouped, ORG_ENV))
    reply = await ask(slack, bot, "U0ZED", BREAK)  # an admin through the on-call group
    assert "broke glass" in reply, reply
    stored = await bot.services.store.get(request_id_in(reply))
    assert stored is not None and stored.requester == "U0ZED"
    assert stored.status is Status.SUCCEEDED

    await bot.reload_orgs(parse_orgs(ORGS_YAML, ORG_ENV))  # break-glass turned off
    reply = await ask(slack, bot, "U0DAVE", BREAK.replace("+918000000001", "+918000000002"))
    assert "org acme has no break-glass policy" in reply
    assert len(calls(emulator)) == 1


# -- the review ----------------------------------------------------------------------------


async def test_an_approver_acknowledges_it_once(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = await break_glass(slack, bot)

    await click(slack, bot, "U0BOB", request_id, "review_ack")

    shown = card_text(card(slack, request_id))
    assert ":ballot_box_with_check: *Acknowledged by <@U0BOB>*" in shown
    assert buttons_of(slack, request_id) == [UNDO]  # reviewed: no review buttons left
    (said,) = [t for t in thread(slack, request_id) if "acknowledged" in t]
    assert said.startswith(f"<@U0DAVE> :ballot_box_with_check: request #{request_id}")
    assert any(
        f"Your break-glass :ballot_box_with_check: request #{request_id}" in dm
        and "*acknowledged* by <@U0BOB>" in dm
        for dm in dms(slack, "U0DAVE")
    )
    reviewed = [e for e in await bot.services.store.events(request_id) if e.kind == "reviewed"]
    assert [(e.actor, e.detail) for e in reviewed] == [("U0BOB", {"review": "acknowledged"})]

    with pytest.raises(Conflict, match="already reviewed"):
        await bot.services.workflow.review(
            request_id, reviewer="U0CAROL", verdict=Review.FLAGGED, note="late"
        )
    await bot.sweep_once()
    await bot.settle()
    assert len([t for t in thread(slack, request_id) if "acknowledged" in t]) == 1
    assert calls(emulator) == [PATH]


async def test_an_approver_flags_it_and_says_why(slack: SlackStandin, bot: RunningBot) -> None:
    request_id = await break_glass(slack, bot)

    modal = await click_for_reason(slack, bot, "U0CAROL", request_id, "review_flag")
    assert modal.view["callback_id"] == "sfvopi_review_flag_reason"
    empty = await type_and_submit(slack, bot, "U0CAROL", "")
    assert empty.errors == {"sfvopi_text": "Say why you flag it."}
    done = await type_and_submit(slack, bot, "U0CAROL", "no <!channel> incident was open")

    assert done.closed
    shown = card_text(card(slack, request_id))
    assert "*Flagged by <@U0CAROL>*: `no &lt;!channel&gt; incident was open`" in shown
    assert buttons_of(slack, request_id) == [UNDO]  # reviewed: no review buttons left
    assert any("*flagged* by <@U0CAROL>" in t for t in thread(slack, request_id))
    assert any("*flagged* by <@U0CAROL>" in dm for dm in dms(slack, "U0DAVE"))
    events = await bot.services.store.events(request_id)
    assert [e.detail for e in events if e.kind == "reviewed"] == [
        {"review": "flagged", "note": "no <!channel> incident was open"}
    ]


async def test_a_flag_note_of_invisible_or_invalid_text_keeps_the_form_open(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = await break_glass(slack, bot)
    await click_for_reason(slack, bot, "U0CAROL", request_id, "review_flag")
    blank = await type_and_submit(slack, bot, "U0CAROL", "\u200b\u202e\u2066")
    assert blank.errors == {"sfvopi_text": "Say why you flag it."}
    broken = await type_and_submit(slack, bot, "U0CAROL", "no incident \ud800")
    assert broken.errors == {"sfvopi_text": "the note contains characters that are not valid text"}
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.review is Review.PENDING


@pytest.mark.parametrize(
    ("user", "button", "said"),
    [
        ("U0DAVE", "review_ack", "you broke glass on this request: another approver must"),
        ("U0DAVE", "review_flag", "you broke glass on this request: another approver must"),
        ("U0VIC", "review_ack", "needs the approver role in acme; you are a viewer"),
        ("U0ALICE", "review_flag", "needs the approver role in acme; you are a requester"),
        ("U0NOBODY", "review_ack", "there is no request #"),
    ],
)
async def test_only_another_approver_may_review(
    slack: SlackStandin, bot: RunningBot, user: str, button: str, said: str
) -> None:
    request_id = await break_glass(slack, bot)

    await click(slack, bot, user, request_id, button)

    assert any(said in t for t in told(slack, user)), told(slack, user)
    assert slack.modal_of(user) is None
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.review is Review.PENDING
    assert "reviewed" not in await kinds(bot, request_id)


async def test_forged_button_values_and_forms_are_refused(
    slack: SlackStandin, bot: RunningBot
) -> None:
    other = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))  # an ordinary request
    request_id = await break_glass(
        slack, bot, "delete sfv_app_empty0000001 --break-glass INC-7 stale app"
    )
    ts = card(slack, request_id).ts

    for value, said in [
        ("abc", "That button does not name a request."),
        ("-1", "That button does not name a request."),
        (str(other), f"request #{other} did not break glass"),
        ("999999", "there is no request #999999"),
    ]:
        result = await slack.click("U0BOB", APPROVALS, ts, "sfvopi_review_ack", value=value)
        assert result.status == 200
        await bot.settle()
        assert any(said in t for t in told(slack, "U0BOB")), (value, told(slack, "U0BOB"))

    await click_for_reason(slack, bot, "U0BOB", request_id, "review_flag")
    view = slack.modal_of("U0BOB")
    assert view is not None
    typed = {"sfvopi_text": {"text": {"type": "plain_text_input", "value": "forged"}}}
    for metadata in [
        json.dumps({"request": other, "where": APPROVALS}),
        json.dumps({"request": "1; DROP TABLE", "where": APPROVALS}),
        json.dumps({"request": request_id, "where": "not-a-channel"}),
        "not json",
    ]:
        forged = view.to_dict() | {"private_metadata": metadata, "state": {"values": typed}}
        result = await slack.submit_payload("U0BOB", forged)
        assert result.errors, metadata
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.review is Review.PENDING
    assert (await bot.services.store.get(other)).status is Status.PENDING  # type: ignore[union-attr]


# -- the review's escalation ---------------------------------------------------------------


async def test_an_unreviewed_request_is_escalated_once(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = await break_glass(slack, bot)
    stored = await bot.services.store.get(request_id)
    assert stored is not None
    filed = stored.created_at

    await sweep_at(bot, filed + 29 * 60)
    assert not any("Review overdue" in t for t in thread(slack, request_id))

    await sweep_at(bot, filed + 30 * 60)
    (overdue,) = [t for t in thread(slack, request_id) if "Review overdue" in t]
    assert "<#C0SECOPS>, <@U0CTO>: please acknowledge or flag it" in overdue
    (posted,) = channel_texts(slack, SECOPS)
    assert posted.startswith(":rotating_light: Review overdue: <@U0DAVE> broke glass")
    assert "/archives/C0APPROVALS/p" in posted
    assert dms(slack, "U0CTO") == [posted]
    assert "Review overdue: escalated" in card_text(card(slack, request_id))

    await sweep_at(bot, filed + 40 * 60)  # again, and on every replica: nothing more
    await sweep_at(bot, filed + 50 * 60)
    assert len([t for t in thread(slack, request_id) if "Review overdue" in t]) == 1
    assert len(channel_texts(slack, SECOPS)) == 1
    assert (await kinds(bot, request_id)).count("review_escalated") == 1

    await click(slack, bot, "U0BOB", request_id, "review_ack")  # reviewed late: still told
    assert "Acknowledged by <@U0BOB>" in card_text(card(slack, request_id))


async def test_a_reviewed_request_is_never_escalated(slack: SlackStandin, bot: RunningBot) -> None:
    request_id = await break_glass(slack, bot)
    await click(slack, bot, "U0BOB", request_id, "review_ack")
    stored = await bot.services.store.get(request_id)
    assert stored is not None

    await sweep_at(bot, stored.created_at + 31 * 60)

    assert not any("Review overdue" in t for t in thread(slack, request_id))
    assert channel_texts(slack, SECOPS) == []
    assert "review_escalated" not in await kinds(bot, request_id)


async def test_without_escalate_to_the_approvers_are_told(
    slack: SlackStandin, bot: RunningBot, orgs: OrgDirectory
) -> None:
    plain = GLASS.replace("      escalate_after_minutes: 45\n", "").replace(
        f"      escalate_to: [{SECOPS}, U0CTO]\n", ""
    )
    await bot.reload_orgs(parse_orgs(plain, ORG_ENV))
    request_id = await break_glass(slack, bot)
    stored = await bot.services.store.get(request_id)
    assert stored is not None

    await sweep_at(bot, stored.created_at + 30 * 60)

    (overdue,) = [t for t in thread(slack, request_id) if "Review overdue" in t]
    assert "<@U0BOB>, <@U0CAROL>: please acknowledge or flag it" in overdue
    for approver in ("U0BOB", "U0CAROL"):
        (dm,) = dms(slack, approver)
        assert dm.startswith(":rotating_light: Review overdue"), approver
    assert not any("Review overdue" in dm for dm in dms(slack, "U0DAVE"))


async def test_a_card_brought_up_to_date_escalates_an_overdue_review_without_a_hang(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """Its worker died half an hour ago, after recording the end but before Slack heard: the
    sweep that brings its card up to date announces the outcome and finds the review overdue.
    Escalating it updates the card from inside that very update, whose per-request lock must
    not be waited on again (it was: the sweep hung for good)."""
    filed = time.time() - 31 * 60
    request, claim = await broke_glass(bot.services.store, now=filed, review_within=30 * 60)
    await bot.services.store.finish(request.id, claim, status=Status.FAILED, now=filed + 1)

    # what the notifier's sweep does for an outcome never told
    await asyncio.wait_for(bot.services.notifier.sync(request.id), 20)  # before: never returned
    await bot.settle(20)
    stored = await bot.services.store.get(request.id)
    assert stored is not None and stored.notified_at is not None
    assert len([t for t in thread(slack, request.id) if "Review overdue" in t]) == 1
    assert "Review overdue: escalated" in card_text(card(slack, request.id))
    assert (await kinds(bot, request.id)).count("review_escalated") == 1
