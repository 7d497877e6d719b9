"""Reminders and escalation as pure functions: when each step is due, and what it says (as
data), including the card's line saying when an undecided request is escalated."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.models import Action, Approval, Request, Status, Target, TargetState
from bot.core.org import Reminders
from bot.core.reminders import Due, ReminderState, Step, due, mention
from bot.slack import blocks

CREATED = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
EXPIRES = CREATED + 3600
POLICY = Reminders(10, 30, ("S0ONCALL", "C0SECOPS", "U0CTO"))
REMIND_AT, ESCALATE_AT = CREATED + 600, CREATED + 1800


def state(**changes: Any) -> ReminderState:
    values: dict[str, Any] = {
        "request_id": 7,
        "org": "acme",
        "action": Action.UNLINK,
        "created_at": CREATED,
        "expires_at": EXPIRES,
    }
    return ReminderState(**{**values, **changes})


def request(**changes: Any) -> Request:
    values: dict[str, Any] = {
        "id": 7,
        "org": "acme",
        "action": Action.UNLINK,
        "requester": "U0ALICE",
        "reason": "fraud",
        "status": Status.PENDING,
        "approvals_needed": 2,
        "created_at": CREATED,
        "expires_at": EXPIRES,
        "targets": (TargetState(Target("sfv_app_abc123xyz456", "+918000000001")),),
    }
    return Request(**{**values, **changes})


# -- when -----------------------------------------------------------------------------------


def test_nothing_is_due_before_the_reminder_time() -> None:
    assert due(POLICY, state(), REMIND_AT - 1) is None


def test_the_reminder_is_due_at_its_time_and_then_the_escalation() -> None:
    assert due(POLICY, state(), REMIND_AT) == Due(Step.REMIND, resume=False)
    assert due(POLICY, state(step=1, done=1), REMIND_AT + 60) is None
    assert due(POLICY, state(step=1, done=1), ESCALATE_AT) == Due(Step.ESCALATE, resume=False)
    assert due(POLICY, state(step=2, done=2), EXPIRES - 1) is None


def test_a_late_sweep_still_reminds_before_it_escalates() -> None:
    assert due(POLICY, state(), ESCALATE_AT + 60) == Due(Step.REMIND, resume=False)


def test_a_half_posted_step_is_resumed_once_its_lease_lapses() -> None:
    held = state(step=1, done=0, lease_until=REMIND_AT + 60)
    assert due(POLICY, held, REMIND_AT + 30) is None
    assert due(POLICY, held, REMIND_AT + 61) == Due(Step.REMIND, resume=True)


def test_a_due_escalation_waits_for_a_live_poster_then_takes_over() -> None:
    held = state(step=1, done=0, lease_until=ESCALATE_AT + 10)
    assert due(POLICY, held, ESCALATE_AT) is None
    assert due(POLICY, held, ESCALATE_AT + 11) == Due(Step.ESCALATE, resume=False)


def test_nothing_once_expired() -> None:
    assert due(POLICY, state(), EXPIRES) is None
    assert due(POLICY, state(step=1, done=0), EXPIRES + 1) is None


def test_a_policy_without_reminders_never_reminds() -> None:
    assert due(Reminders(), state(), EXPIRES - 1) is None


def test_escalation_alone_skips_the_reminder() -> None:
    only = Reminders(None, 30, ("U0CTO",))
    assert due(only, state(), REMIND_AT) is None
    assert due(only, state(), ESCALATE_AT) == Due(Step.ESCALATE, resume=False)


def test_steps_name_their_events() -> None:
    assert [s.kind for s in Step] == ["reminded", "escalated"]
    assert Step.REMIND.at(POLICY, CREATED) == REMIND_AT
    assert Step.ESCALATE.at(POLICY, CREATED) == ESCALATE_AT


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("S0ONCALL", "<!subteam^S0ONCALL>"),
        ("C0SECOPS", "<#C0SECOPS>"),
        ("G0PRIVATE", "<#G0PRIVATE>"),
        ("U0CTO", "<@U0CTO>"),
        ("W0GRID", "<@W0GRID>"),
    ],
)
def test_mentions(target: str, shown: str) -> None:
    assert mention(target) == shown


# -- what it says ----------------------------------------------------------------------------


def test_the_pending_card_says_when_and_to_whom_it_escalates() -> None:
    card = blocks.card(request(), escalates_at=ESCALATE_AT, escalate_to=POLICY.escalate_to)
    last = card[-1]
    assert last["type"] == "context"
    assert last["elements"][0]["text"] == (
        ":rotating_light: Undecided by <!date^1700001800^{date_short_pretty} {time}|2023-11-14 "
        "22:43 UTC>: escalated to <!subteam^S0ONCALL>, <#C0SECOPS>, <@U0CTO>"
    )


def test_a_card_without_escalation_or_decided_shows_none() -> None:
    assert "rotating_light" not in json.dumps(blocks.card(request()))
    decided = blocks.card(
        request(status=Status.DENIED, decided_by="U0BOB", finished_at=CREATED + 60),
        escalates_at=ESCALATE_AT,
        escalate_to=POLICY.escalate_to,
    )
    assert "rotating_light" not in json.dumps(decided)


def test_the_reminder_in_the_thread_names_who_can_approve() -> None:
    text = blocks.reminder_thread(
        request(approvals=(Approval("U0BOB", CREATED + 5),)), ["U0CAROL"], ["S0ONCALL"]
    )
    assert text == (
        ":bell: Request #7 is still waiting for 1 more approval. "
        "Who can approve: <!subteam^S0ONCALL>, <@U0CAROL>"
    )
    assert "nobody listed" in blocks.reminder_thread(request(), [], [])


def test_the_reminder_dm_links_the_card() -> None:
    link = "https://acme.slack.com/archives/C0APPROVALS/p1700000000000100"
    text = blocks.reminder_dm(request(org="<!channel>"), link)
    assert text.startswith(":bell: Request #7 in *&lt;!channel&gt;* (Unlink 1 number")
    assert "asked by <@U0ALICE>) is waiting for 2 more approvals" in text
    assert text.endswith(f"<{link}|Open the card>.")
    assert "Open the card in its approval channel" in blocks.reminder_dm(request(), None)


def test_the_escalation_mentions_its_targets_and_links_the_card() -> None:
    thread = blocks.escalation_thread(request(), ["S0ONCALL", "U0CTO"], ["U0BOB"])
    assert thread.startswith(":rotating_light: Escalated to <!subteam^S0ONCALL>, <@U0CTO>:")
    assert thread.endswith("still needs 2 more approvals. Who can approve: <@U0BOB>.")
    post = blocks.escalation_post(request(), "https://x.example/p1")
    assert post.startswith(":rotating_light: Escalated: request #7 in *acme*")
    assert post.endswith("<https://x.example/p1|Open the card>.")
