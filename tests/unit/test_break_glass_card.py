"""The break-glass card and its messages as data: who broke glass, the incident, why, each
target's result; the review buttons only while a finished run waits for one; the Flag form
and what a submitted one may and may not say."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.models import Action, Outcome, Request, Review, Status, Target, TargetState
from bot.core.preview import AppPreview, Preview, Purpose, StoredPreview
from bot.slack import break_glass
from bot.slack.modals import HOME

APP = "sfv_app_abc123xyz456"
NUMBER = "+918000000001"
CREATED = 1_700_000_000.0
DUE = CREATED + 30 * 60
DUE_SHOWN = "<!date^1700001800^{date_short_pretty} {time}|2023-11-14 22:43 UTC>"


def broken(status: Status = Status.SUCCEEDED, **changes: Any) -> Request:
    """Request #9: Dave broke glass on one unlink in acme, citing INC-4411."""
    outcome = Outcome.DONE if status.final else None
    values: dict[str, Any] = {
        "id": 9,
        "org": "acme",
        "action": Action.UNLINK,
        "requester": "U0DAVE",
        "reason": "fraud spike <!channel> *now*",
        "status": status,
        "approvals_needed": 0,
        "created_at": CREATED,
        "expires_at": CREATED + 3600,
        "targets": (TargetState(Target(APP, NUMBER), outcome, 200, "ok", 1),),
        "break_glass": True,
        "incident": "INC-4411",
        "review": Review.PENDING,
        "review_due_at": DUE,
        "finished_at": CREATED + 5 if status.final else None,
    }
    values.update(changes)
    return Request(**values)


def text_of(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def actions(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_the_card_says_who_broke_glass_why_and_what_happened() -> None:
    card = break_glass.card(broken(), escalate_to=("C0SECOPS", "S0ONCALL"))
    assert card[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": ":rotating_light: Break-glass: Unlink 1 number — request #9",
        },
    }
    fields = [f["text"] for f in card[2]["fields"]]
    assert fields == [
        "*Broke glass*\n<@U0DAVE>",
        "*Incident*\n`INC-4411`",
        "*Organization*\nacme",
        "*Action*\nunlink",
    ]
    shown = text_of(card)
    assert "Ran without approval: done" in shown
    assert ":white_check_mark: `+918000000001` from `sfv_app_abc123xyz456` — done" in shown
    # the reason is plain text: no mention, no bold takes effect
    assert {"type": "plain_text", "text": "fraud spike <!channel> *now*", "emoji": False} in [
        b.get("text") for b in card
    ]
    assert [(e["action_id"], e["value"], e.get("style")) for e in actions(card)] == [
        ("sfvopi_review_ack", "9", "primary"),
        ("sfvopi_review_flag", "9", "danger"),
    ]
    escalation = (
        f"If unreviewed by {DUE_SHOWN}, it is escalated to <#C0SECOPS>, <!subteam^S0ONCALL>"
    )
    assert escalation in shown


def test_no_review_buttons_while_it_runs() -> None:
    card = break_glass.card(broken(Status.EXECUTING))
    assert actions(card) == []
    assert "Running now, without approval" in text_of(card)
    assert "Review needed* once it has run" in text_of(card)


@pytest.mark.parametrize(
    ("review", "note", "line"),
    [
        (Review.ACKNOWLEDGED, None, ":ballot_box_with_check: *Acknowledged by <@U0BOB>*"),
        (
            Review.FLAGGED,
            "no <!here> incident",
            ":triangular_flag_on_post: *Flagged by <@U0BOB>*: `no &lt;!here&gt; incident`",
        ),
    ],
)
def test_a_reviewed_card_says_by_whom_and_loses_its_buttons(
    review: Review, note: str | None, line: str
) -> None:
    request = broken(review=review, reviewed_by="U0BOB", review_note=note)
    card = break_glass.card(request, approvers=("U0BOB",))
    assert actions(card) == []
    assert break_glass.review_line(request) == line
    assert "escalated to" not in text_of(card)
    said = f"request #9 (unlink 1 number) was *{review.value}* by <@U0BOB>"
    assert said in break_glass.review_thread(request)
    assert break_glass.review_thread(request).startswith("<@U0DAVE> ")
    assert said in break_glass.review_notice(request)
    assert break_glass.review_notice(request).startswith("Your break-glass ")


def test_an_escalated_review_says_so_and_without_escalate_to_names_the_approvers() -> None:
    card = break_glass.card(broken(review_escalated=True), approvers=("U0BOB", "U0CAROL"))
    assert ":rotating_light: Review overdue: escalated to <@U0BOB>, <@U0CAROL>" in text_of(card)


def test_without_an_incident_the_card_says_none_given() -> None:
    card = break_glass.card(broken(incident=None))
    assert "*Incident*\nnone given" in [f["text"] for f in card[2]["fields"]]


def test_the_flag_form_names_the_request_and_where_it_was_clicked() -> None:
    modal = break_glass.flag_modal(broken(), where="C0APPROVALS")
    assert modal["callback_id"] == "sfvopi_review_flag_reason"
    assert json.loads(modal["private_metadata"]) == {"request": 9, "where": "C0APPROVALS"}
    (field,) = [b for b in modal["blocks"] if b["type"] == "input"]
    assert "optional" not in field and field["element"]["max_length"] == 500


def submitted(
    metadata: str, value: Any = "why", callback: str = "sfvopi_review_flag_reason"
) -> dict[str, Any]:
    return {
        "callback_id": callback,
        "private_metadata": metadata,
        "state": {"values": {"sfvopi_text": {"text": {"value": value}}}},
    }


def test_a_flag_form_reads_back_only_what_we_put_in_it() -> None:
    found = break_glass.read_flag(submitted(json.dumps({"request": 9, "where": "C0APPROVALS"})))
    assert found == break_glass.Flagged(9, "C0APPROVALS", "why")
    home = break_glass.read_flag(submitted(json.dumps({"request": 9, "where": HOME}), None))
    assert home == break_glass.Flagged(9, HOME, "")


@pytest.mark.parametrize(
    "view",
    [
        None,
        "a string",
        submitted(
            json.dumps({"request": 9, "where": "C0APPROVALS"}), callback="sfvopi_deny_reason"
        ),
        submitted(json.dumps({"request": "9 OR 1=1", "where": "C0APPROVALS"})),
        submitted(json.dumps({"request": 0, "where": "C0APPROVALS"})),
        submitted(json.dumps({"request": 9, "where": "#general"})),
        submitted(json.dumps([9, "C0APPROVALS"])),
        submitted("{not json"),
        submitted(json.dumps({"request": 9, "where": "C0APPROVALS", "pad": "x" * 300})),
        submitted(json.dumps({"request": 9, "where": "C0APPROVALS"}), value=["why"]),
    ],
)
def test_a_forged_flag_form_is_not_read(view: Any) -> None:
    assert break_glass.read_flag(view) is None


def test_the_reviewer_sees_what_it_touched_as_read_right_before_it_ran() -> None:
    """Nobody approved it: the pre-image is what the reviewer judges, SFVoPI's text inert."""
    numbers = ("+918000000001", "+918000000002")
    app = AppPreview(APP, found=True, name="<!here> prod *ivr*", status="active", numbers=numbers)
    preview = Preview(Action.DELETE, apps=(app,))
    stored = StoredPreview(
        9, 2, Purpose.BEFORE_EXECUTION, CREATED + 1, preview.fingerprint(), preview
    )
    request = broken(action=Action.DELETE, targets=(TargetState(Target(APP), Outcome.DONE),))
    card = break_glass.card(request, preview=stored)
    shown = text_of(card)
    assert "What it touched" in shown and "read right before running" in shown
    assert "deleting it unlinks these 2 numbers" in shown
    assert "<!here>" not in shown and "&lt;!here&gt;" in shown
    texts = [json.dumps(b) for b in card]
    touched = [i for i, t in enumerate(texts) if "What it touched" in t]
    assert touched == [texts.index(json.dumps(break_glass._section("*Reason*"))) - 1]
    assert "What it touched" not in text_of(break_glass.card(request))
