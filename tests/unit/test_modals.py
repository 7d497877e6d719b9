"""The decision form as data (a confirmation, with a reason or note field when the policy wants
one), and reading a submission back: only what we put in, checked."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bot.core.models import Action, Request, Status, Target, TargetState
from bot.core.org import Need
from bot.core.workflow import MAX_NOTE, Decision
from bot.sandbox.slack_workspace import block_errors
from bot.slack import modals

PENDING = Request(
    id=42,
    org="acme",
    action=Action.DELETE,
    requester="U0ALICE",
    reason="<!channel> decommission",
    status=Status.PENDING,
    approvals_needed=2,
    created_at=1_700_000_000.0,
    expires_at=1_700_003_600.0,
    targets=(TargetState(Target("sfv_app_abc123xyz456")),),
)


def submitted(modal: dict[str, Any], text: str | None) -> dict[str, Any]:
    """The view as Slack sends it back, with `text` typed (None: left empty)."""
    value = {"type": "plain_text_input", "value": text}
    return modal | {"state": {"values": {modals.TEXT_BLOCK: {modals.TEXT_ACTION: value}}}}


@pytest.mark.parametrize("decision", list(Decision))
@pytest.mark.parametrize("need", [Need.OPTIONAL, Need.REQUIRED])
def test_each_decision_has_its_modal(decision: Decision, need: Need) -> None:
    modal = modals.decision_modal(decision, PENDING, need, where="C0APPROVALS")
    assert modal["type"] == "modal"
    assert modal["callback_id"] == modals.CALLBACKS[decision]
    assert len(modal["title"]["text"]) <= 24 and "#42" in modal["title"]["text"]
    assert block_errors(modal["blocks"], max_blocks=100) == []
    field = modal["blocks"][-1]
    assert field["type"] == "input" and field["block_id"] == modals.TEXT_BLOCK
    assert field["optional"] is (need is Need.OPTIONAL)
    assert field["element"]["max_length"] == MAX_NOTE
    assert ("hint" in field) is (need is Need.REQUIRED)
    assert "&lt;!channel&gt;" in str(modal["blocks"])  # the request's reason, inert
    read = modals.read_submission(submitted(modal, "because"))
    assert read == modals.Submission(decision, 42, "C0APPROVALS", "because", field=True)


def test_an_empty_field_reads_as_an_empty_text() -> None:
    modal = modals.decision_modal(Decision.DENY, PENDING, Need.OPTIONAL, where=modals.HOME)
    read = modals.read_submission(submitted(modal, None))
    assert read == modals.Submission(Decision.DENY, 42, modals.HOME, "", field=True)


@pytest.mark.parametrize("decision", [Decision.APPROVE, Decision.DENY])
def test_a_decision_without_a_text_is_confirmed_in_a_form_without_a_field(
    decision: Decision,
) -> None:
    modal = modals.decision_modal(decision, PENDING, Need.NONE, where="C0APPROVALS")
    assert block_errors(modal["blocks"], max_blocks=100) == []
    assert all(b["type"] != "input" for b in modal["blocks"])
    verb = decision.value.capitalize()
    assert modal["submit"]["text"] == verb and modal["title"]["text"] == f"{verb} request #42"
    shown = [b["text"]["text"] for b in modal["blocks"] if b["type"] == "section"]
    # what is decided: the action and its count, the org, who asked, the targets, the reason
    assert shown[0].startswith("*Delete 1 app — request #42* in acme\nasked by <@U0ALICE>")
    assert shown[1] == "*Targets*\n• `sfv_app_abc123xyz456`"
    assert shown[2] == "*Reason*\n`&lt;!channel&gt; decommission`"
    # Slack sends a form without input blocks back with no values
    read = modals.read_submission(modal | {"state": {"values": {}}})
    assert read == modals.Submission(decision, 42, "C0APPROVALS", "", field=False)


def test_the_form_keeps_long_reasons_and_many_targets_within_slacks_limits() -> None:
    many = tuple(TargetState(Target(f"sfv_app_{i:04d}{'x' * 50}")) for i in range(500))
    huge = replace(PENDING, reason="<&>" * 3000, targets=many, org="a" * 64)
    modal = modals.decision_modal(Decision.APPROVE, huge, Need.OPTIONAL, where="C0APPROVALS")
    assert block_errors(modal["blocks"], max_blocks=100) == []
    assert len(modal["private_metadata"]) <= 3000
    sections = [b["text"]["text"] for b in modal["blocks"] if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections)
    targets, reason = sections[1], sections[2]
    assert targets.endswith(f"… and {500 - modals.TARGETS_SHOWN} more (see the thread)")
    assert reason.startswith("*Reason*\n`&lt;&amp;&gt;") and reason.endswith("…`")
    assert "<&>" not in reason  # nothing typed is live mrkdwn, however long


@pytest.mark.parametrize(
    "change",
    [
        {"callback_id": "someone_elses_modal"},
        {"private_metadata": "not json"},
        {"private_metadata": json.dumps([42])},
        {"private_metadata": json.dumps({"request": "42; DROP TABLE", "where": "C0APPROVALS"})},
        {"private_metadata": json.dumps({"request": 0, "where": "C0APPROVALS"})},
        {"private_metadata": json.dumps({"request": 42, "where": "<!here>"})},
        {"private_metadata": json.dumps({"request": 42, "where": "C0X" + "A" * 300})},
        {"private_metadata": json.dumps({"request": 42})},
        {"private_metadata": "x" * 5000},
        {"state": {"values": {modals.TEXT_BLOCK: {modals.TEXT_ACTION: {"value": 7}}}}},
        {"state": {"values": {modals.TEXT_BLOCK: "nope"}}},
        {"state": {"values": "nope"}},
        {"state": "nope"},
    ],
)
def test_a_view_that_is_not_ours_as_we_built_it_is_not_read(change: dict[str, Any]) -> None:
    modal = modals.decision_modal(Decision.DENY, PENDING, Need.OPTIONAL, where="C0APPROVALS")
    assert modals.read_submission(submitted(modal, "because") | change) is None


@pytest.mark.parametrize("view", [None, "view", [], 42])
def test_a_view_of_the_wrong_shape_is_not_read(view: object) -> None:
    assert modals.read_submission(view) is None


def test_errors_point_at_the_text_field() -> None:
    assert modals.errors("a reason is required") == {
        "response_action": "errors",
        "errors": {modals.TEXT_BLOCK: "a reason is required"},
    }


def test_a_refusal_goes_under_the_field_or_replaces_a_form_without_one() -> None:
    said = ":warning: request #42 is already approved"
    assert modals.refused(said, field=True) == modals.errors("request #42 is already approved")
    answer = modals.refused(said, field=False)
    assert answer["response_action"] == "update"
    view = answer["view"]
    assert view["type"] == "modal" and "submit" not in view
    assert len(view["title"]["text"]) <= 24 and block_errors(view["blocks"], max_blocks=100) == []
    assert view["blocks"][0]["text"]["text"] == said
