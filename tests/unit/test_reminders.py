"""Reminders and escalation as pure functions: when each step is due, and what it says (as
data), including the card's line saying when an undecided request is escalated."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.deliveries import mention
from bot.core.models import Action, Approval, Request, Status, Target, TargetState
from bot.core.org import Reminders
from bot.slack import blocks

CREATED = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
EXPIRES = CREATED + 3600
POLICY = Reminders(10, 30, ("S0ONCALL", "C0SECOPS", "U0CTO"))
REMIND_AT, ESCALATE_AT = CREATED + 600, CREATED + 1800


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
        ":rotating_light: If undecided by <!date^1700001800^{date_short_pretty} {time}|2023-11-14 "
        "22:43 UTC>, it is escalated to <!subteam^S0ONCALL>, <#C0SECOPS>, <@U0CTO>"
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
