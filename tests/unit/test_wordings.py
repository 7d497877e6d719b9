"""Messages that read right, as data: each line says what it means once, in the right tense,
with its stops."""

from __future__ import annotations

from typing import Any

from bot.core.models import Action, Request, Review, Status, Target, TargetState
from bot.errors import AlreadyPending
from bot.slack import blocks, break_glass

CREATED = 1_700_000_000.0
FINISHED = 1_700_000_200.0
DUE = 1_700_001_800.0
CREATED_SHOWN = "<!date^1700000000^{date_short_pretty} {time}|2023-11-14 22:13 UTC>"
FINISHED_SHOWN = "<!date^1700000200^{date_short_pretty} {time}|2023-11-14 22:16 UTC>"
DUE_SHOWN = "<!date^1700001800^{date_short_pretty} {time}|2023-11-14 22:43 UTC>"


def request(status: Status = Status.SUCCEEDED, **changes: Any) -> Request:
    """Request #4: Dave unlinks one number in acme."""
    values: dict[str, Any] = {
        "id": 4,
        "org": "acme",
        "action": Action.UNLINK,
        "requester": "U0DAVE",
        "reason": "fraud",
        "status": status,
        "approvals_needed": 2,
        "created_at": CREATED,
        "expires_at": CREATED + 3600,
        "finished_at": FINISHED,
        "targets": (TargetState(Target("sfv_app_abc123xyz456", "+918000000001")),),
    }
    values.update(changes)
    return Request(**values)


def broken_glass(status: Status = Status.SUCCEEDED, **changes: Any) -> Request:
    return request(
        status,
        break_glass=True,
        incident="INC-1",
        approvals_needed=0,
        decided_by="U0DAVE",
        **changes,
    )


def test_a_history_line_labels_when_it_finished() -> None:
    line = blocks.request_line(request())
    assert f"filed {CREATED_SHOWN}, finished {FINISHED_SHOWN}\n" in line


def test_a_decided_history_line_says_by_whom_and_when() -> None:
    line = blocks.request_line(request(Status.DENIED, decided_by="U0BOB"))
    assert f"filed {CREATED_SHOWN}, denied by <@U0BOB> {FINISHED_SHOWN}\n" in line


def test_a_break_glass_history_line_says_it_broke_glass_not_zero_of_zero() -> None:
    line = blocks.request_line(broken_glass())
    assert " — succeeded, broke glass (no approvals), by <@U0DAVE>" in line
    assert "0 of 0" not in line


def test_already_pending_ends_with_a_stop_before_the_card_link() -> None:
    refusal = AlreadyPending.naming("+918000000001", 4)
    shown = blocks.warning(refusal.message, "https://acme.slack.com/archives/C1/p1")
    assert (
        "to file another. <https://acme.slack.com/archives/C1/p1|See its card.>"
        in (shown["text"]["text"])
    )


def test_the_thread_reply_does_not_name_its_addressee_twice() -> None:
    assert blocks.thread_details(broken_glass())[0].startswith(
        "<@U0DAVE> *Request #4 succeeded.*\n"
    )
    cancelled = request(Status.CANCELLED, decided_by="U0DAVE")
    assert blocks.thread_details(cancelled)[0] == "<@U0DAVE> *Request #4 cancelled.*"


def test_the_thread_reply_names_someone_else_who_decided() -> None:
    cancelled = request(Status.CANCELLED, decided_by="U0ADMIN")
    assert blocks.thread_details(cancelled)[0] == (
        "<@U0DAVE> *Request #4 cancelled.* (cancelled by <@U0ADMIN>)"
    )


def test_an_escalation_to_come_says_if() -> None:
    assert blocks.escalation_line(DUE, ["C0SECOPS"]) == (
        f":rotating_light: If undecided by {DUE_SHOWN}, it is escalated to <#C0SECOPS>"
    )


def test_an_escalation_that_happened_says_so() -> None:
    assert blocks.escalation_line(DUE, ["C0SECOPS"], done=True) == (
        f":rotating_light: Escalated to <#C0SECOPS>: undecided by {DUE_SHOWN}"
    )


def test_the_card_says_escalated_once_its_time_has_come() -> None:
    pending = request(Status.PENDING, finished_at=None)
    before = blocks.card(pending, escalates_at=DUE, escalate_to=["C0SECOPS"], now=DUE - 1)
    after = blocks.card(pending, escalates_at=DUE, escalate_to=["C0SECOPS"], now=DUE)
    assert "If undecided by" in str(before)
    assert "Escalated to <#C0SECOPS>" in str(after)


def test_a_review_escalation_to_come_says_if() -> None:
    glass = broken_glass(review=Review.PENDING, review_due_at=DUE)
    card = break_glass.card(glass, escalate_to=("C0SECOPS",))
    assert f"If unreviewed by {DUE_SHOWN}, it is escalated to <#C0SECOPS>" in str(card)


def test_a_typo_is_answered_in_one_line_and_pointed_to_the_help() -> None:
    built = blocks.error("unknown command `unlnk`", usage=True)
    assert [b["type"] for b in built] == ["section", "context"]
    assert built[1]["elements"][0]["text"] == blocks.HELP_HINT
    assert "Usage" not in str(built)
