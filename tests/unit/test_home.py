"""The App Home view as data: its sections, the card's own buttons, Slack's limits, and every
text a person typed shown inert."""

from __future__ import annotations

import re
from typing import Any

from bot.core.models import Action, Approval, Request, Status, Target, TargetState
from bot.sandbox.slack_workspace import block_errors, buttons
from bot.slack import blocks
from bot.slack.home import WAITING_SHOWN, home_view

HOSTILE = "<!channel> *ping* <https://evil.example|click> `x` \u202eevil"


def request(request_id: int, status: Status = Status.PENDING, **changes: object) -> Request:
    values: dict[str, object] = {
        "id": request_id,
        "org": "acme",
        "action": Action.UNLINK,
        "requester": "U0ALICE",
        "reason": f"reason {request_id}",
        "status": status,
        "approvals_needed": 1,
        "created_at": 1_700_000_000.0,
        "expires_at": 1_700_003_600.0,
        "targets": (TargetState(Target("app_abc123", "+918000000001")),),
    }
    values |= changes
    return Request(**values)  # type: ignore[arg-type]


def view(**kwargs: object) -> dict[str, Any]:
    given: dict[str, object] = {
        "orgs": ["acme"],
        "waiting": [],
        "mine": [],
        "decided": [],
        "updated": 1_700_000_500.0,
    }
    given |= kwargs
    return home_view("U0BOB", **given)  # type: ignore[arg-type]


def texts(shown: object) -> list[str]:
    found: list[str] = []
    if isinstance(shown, dict):
        if shown.get("type") == "mrkdwn":
            found.append(str(shown["text"]))
        for value in shown.values():
            found += texts(value)
    elif isinstance(shown, list):
        for value in shown:
            found += texts(value)
    return found


def test_waiting_requests_carry_the_cards_approve_and_deny_buttons() -> None:
    home = view(waiting=[request(4), request(9)])
    assert home["type"] == "home"
    found = buttons(home["blocks"])
    assert [(b, e["action_id"], e["value"]) for b, e in found] == [
        (blocks.card_block_id(4), blocks.APPROVE, "4"),
        (blocks.card_block_id(4), blocks.DENY, "4"),
        (blocks.card_block_id(9), blocks.APPROVE, "9"),
        (blocks.card_block_id(9), blocks.DENY, "9"),
    ]
    card_buttons = blocks.card(request(4))
    on_card = next(b for b in card_buttons if b["type"] == "actions")["elements"]
    assert found[0][1] == on_card[0] and found[1][1] == on_card[1]  # the very same buttons


def test_my_pending_requests_carry_cancel_and_my_finished_ones_nothing() -> None:
    mine = [request(5), request(3, Status.DENIED, decided_by="U0CAROL", decision_note="no")]
    home = home_view(
        "U0ALICE", orgs=["acme"], waiting=[], mine=mine, decided=[], updated=1_700_000_500.0
    )
    found = buttons(home["blocks"])
    assert [(e["action_id"], e["value"]) for _, e in found] == [(blocks.CANCEL, "5")]
    shown = "\n".join(texts(home))
    assert "*Your requests*" in shown and "*#5*" in shown and "*#3*" in shown
    assert "why: `no`" in shown
    assert "Nothing waits for you." in shown


def test_recent_decisions_are_listed() -> None:
    decided = [
        request(7, Status.SUCCEEDED, approvals=(Approval("U0BOB", 1.0, "checked"),)),
        request(6, Status.DENIED, decided_by="U0BOB"),
    ]
    shown = "\n".join(texts(view(decided=decided)))
    assert "*Latest decisions in your organizations*" in shown
    assert shown.index("*#7*") < shown.index("*#6*")
    assert "denied by <@U0BOB>" in shown


def test_someone_in_no_org_is_told_so_and_sees_no_buttons() -> None:
    home = home_view("U0EVE", orgs=[], waiting=[], mine=[], decided=[], updated=1.0)
    assert buttons(home["blocks"]) == []
    assert "not a member of any organization" in "\n".join(texts(home))


def test_a_notice_is_shown_first_and_inert() -> None:
    home = view(notice="request #3 has already succeeded <!here>")
    first = home["blocks"][1]
    assert first["text"]["text"] == (":warning: request #3 has already succeeded &lt;!here&gt;")


def test_typed_text_is_inert_everywhere_on_the_home() -> None:
    hostile = request(2, reason=HOSTILE, org="acme")
    done = request(1, Status.DENIED, reason=HOSTILE, decided_by="U0BOB", decision_note=HOSTILE)
    home = view(waiting=[hostile], mine=[hostile], decided=[done])
    for text in texts(home):
        for link in re.findall(r"<[^>]*>", text):
            assert link.startswith(("<@U0", "<!date^")), (link, text)
        assert "\u202e" not in text


def test_the_home_stays_within_slacks_limits_however_much_waits() -> None:
    many = [request(i, reason="r" * 500) for i in range(1, 60)]
    finished = [request(i, Status.FAILED) for i in range(100, 130)]
    home = view(waiting=many, mine=many, decided=finished)
    assert block_errors(home["blocks"], max_blocks=100) == []
    waiting = [b for b in home["blocks"] if b.get("block_id", "").startswith("sfvopi_request_")]
    assert len(waiting) == WAITING_SHOWN
    assert "… and 39 more" in "\n".join(texts(home))


def test_my_scheduled_request_says_when_it_runs_and_may_be_cancelled() -> None:
    """Approved, waiting for its window: listed "runs at …" with Cancel, on the Home as on
    its card (whose Approve and Deny are gone)."""
    held = request(6, Status.SCHEDULED, run_at=1_700_007_200.0, decided_by="U0BOB")
    home = home_view(
        "U0ALICE", orgs=["acme"], waiting=[], mine=[held], decided=[], updated=1_700_000_500.0
    )
    assert [(e["action_id"], e["value"]) for _, e in buttons(home["blocks"])] == [
        (blocks.CANCEL, "6")
    ]
    assert "runs at <!date^1700007200^" in "\n".join(texts(home))
    on_card = [e["action_id"] for _, e in buttons(blocks.card(held))]
    assert on_card == [blocks.CANCEL]
    assert block_errors(blocks.card(held)) == []
