"""Undo as data: who may undo what and when (the rules against a request as the store shows
it), what an undo puts back (from the pre-image), in which order it runs, which app a lost
create is adopted from, the Undo button and its line on the card and in the notice, the
`/sfvopi undo` grammar, the policy key, and the undo counter."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from bot.config.orgfile import parse_orgs
from bot.core import undo
from bot.core.apps import AppFields
from bot.core.models import Action, Outcome, Request, Review, Status, Target, TargetState
from bot.core.preview import AppPreview, Preview
from bot.errors import OrgFileError, ParseError
from bot.observability.metrics import BotMetrics
from bot.slack import blocks, break_glass
from bot.slack.grammar import parse
from tests.support.orgs import ORG_ENV, ORGS_YAML

NOW = 1_800_000_000.0
HOUR = 3600.0
APP, OTHER = "sfv_app_abc123xyz456", "sfv_app_def789ghi012"
FIELDS = AppFields(name="Main line", answer_url="https://voice.example.com/a")


def ran(
    action: Action = Action.UNLINK,
    outcomes: tuple[Outcome | None, ...] = (Outcome.DONE, Outcome.DONE),
    **changes: object,
) -> Request:
    """A request that ran an hour ago, its pre-image recorded, nothing undoing it."""
    targets = (
        [Target(APP, "+918000000001"), Target(APP, "+918000000002")]
        if action is Action.UNLINK
        else [Target(APP), Target(OTHER)]
    )
    request = Request(
        id=17,
        org="acme",
        action=action,
        requester="U0ALICE",
        reason="fraud",
        status=Status.SUCCEEDED,
        approvals_needed=1,
        created_at=NOW - 2 * HOUR,
        expires_at=NOW,
        targets=tuple(
            TargetState(t, o) for t, o in zip(targets, (*outcomes, None, None), strict=False)
        ),
        finished_at=NOW - HOUR,
        pre_image=True,
    )
    return replace(request, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({}, None),
        ({"status": Status.PENDING, "finished_at": None}, "only a request that ran"),
        ({"status": Status.DENIED}, "only a request that ran"),
        ({"status": Status.FAILED}, None),  # partly done: the done targets are put back
        ({"outcomes": (Outcome.ALREADY_ABSENT, Outcome.FAILED)}, "nothing to undo"),
        ({"pre_image": False}, "no pre-image was recorded"),
        ({"undo": (23, Status.PENDING)}, r"already being undone by request #23 \(pending\)"),
        ({"undo": (23, Status.SUCCEEDED)}, r"already undone \(by request #23\)"),
        ({"undoes": 9}, r"itself an undo \(of #9\)"),
        ({"finished_at": NOW - 24 * HOUR}, r"undo window \(24 h\) closed at"),
    ],
)
def test_who_may_undo_what(changes: dict[str, object], said: str | None) -> None:
    outcomes = changes.pop("outcomes", (Outcome.DONE, Outcome.DONE))
    request = ran(outcomes=outcomes, **changes)  # type: ignore[arg-type]
    why = undo.refusal(request, 24, NOW)
    if said is None:
        assert why is None
    else:
        assert why is not None
        assert re.search(said, why), why


def test_an_unlink_undone_puts_back_the_numbers_it_unlinked_only() -> None:
    request = ran(outcomes=(Outcome.DONE, Outcome.FAILED))
    assert undo.plan(request, Preview(Action.UNLINK, (), (), None)) == [
        Target(APP, "+918000000001")
    ]


def test_a_delete_undone_recreates_each_app_then_links_its_numbers() -> None:
    request = ran(Action.DELETE, (Outcome.DONE, Outcome.DONE))
    pre_image = Preview(
        Action.DELETE,
        (
            AppPreview(APP, True, "Main line", "ACTIVE", ("+918000000001",), FIELDS),
            AppPreview(OTHER, False, None, None, (), None),  # not found: nothing to recreate
        ),
        (),
        None,
    )
    assert undo.plan(request, pre_image) == [Target(APP), Target(APP, "+918000000001")]


def test_an_undo_runs_its_apps_before_their_numbers() -> None:
    targets = (
        TargetState(Target(APP)),
        TargetState(Target(APP, "+918000000001")),
        TargetState(Target(OTHER), Outcome.DONE, new_app_id="sfv_app_new"),
        TargetState(Target(OTHER, "+918000000002")),
    )
    request = ran(action=Action.UNDO, outcomes=(), undoes=17)
    request = replace(request, targets=targets, status=Status.EXECUTING)
    assert undo.phases(request) == [[0], [1, 3]]
    assert undo.recreated_app(request, OTHER) == (True, "sfv_app_new")
    assert undo.recreated_app(request, APP) == (True, None)
    assert undo.recreated_app(request, "sfv_app_elsewhere1") == (False, None)
    assert undo.phases(ran(outcomes=(None, None), status=Status.EXECUTING)) == [[0, 1]]
    assert undo.undid(request) is Action.DELETE


def test_a_lost_create_is_adopted_only_when_one_app_fits() -> None:
    since = 1_765_000_000.0  # 2025-12-06T05:46:40Z
    apps = [
        ("sfv_app_old", "Main line", "2025-12-01T00:00:00.000Z"),  # before the attempt
        ("sfv_app_new", "Main line", "2025-12-06T05:46:20.000Z"),  # SFVoPI's clock behind
        ("sfv_app_else", "Other", "2025-12-06T06:00:00.000Z"),
        ("sfv_app_bad", "Main line", "not a time"),
    ]
    assert undo.adoptable(apps, "Main line", since) == ["sfv_app_new"]
    assert undo.adoptable([*apps, ("sfv_app_two", "Main line", None)], "Main line", since) == [
        "sfv_app_new"
    ]


def test_the_card_offers_undo_until_the_window_ends() -> None:
    request = ran()
    offer = undo.offer(request, 24, NOW)
    assert offer == undo.Offer(until=NOW - HOUR + 24 * HOUR)
    shown = blocks.card(request, undo=offer)
    (actions,) = [b for b in shown if b["type"] == "actions"]
    (button,) = actions["elements"]
    assert (button["action_id"], button["value"]) == (blocks.UNDO, "17")
    assert "confirm" not in button  # a click only files the undo, which waits for approval
    assert actions["block_id"].startswith("sfvopi_undo_17.")
    assert "/sfvopi undo 17" in json.dumps(shown)


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({"pre_image": False}, "No undo: no pre-image was recorded"),
        ({"finished_at": NOW - 25 * HOUR}, "No undo: its undo window (24 h) closed"),
        ({"undo": (23, Status.PENDING)}, "Undo requested: request #23"),
        ({"undo": (23, Status.SUCCEEDED)}, "Undone by request #23"),
    ],
)
def test_the_card_says_why_there_is_no_undo(changes: dict[str, object], line: str) -> None:
    request = ran(**changes)  # type: ignore[arg-type]
    shown = blocks.card(request, undo=undo.offer(request, 24, NOW))
    assert [b for b in shown if b["type"] == "actions"] == []
    assert line in json.dumps(shown)


def test_nothing_is_said_of_undo_for_a_pending_request_or_an_undo() -> None:
    assert undo.offer(ran(status=Status.PENDING), 24, NOW) is None
    assert undo.offer(ran(undoes=9), 24, NOW) is None
    assert undo.offer(ran(outcomes=(Outcome.FAILED, Outcome.FAILED)), 24, NOW) is None


def test_the_requesters_notice_carries_the_button_while_offered() -> None:
    request = ran()
    text = blocks.requester_notice(request)
    shown = blocks.with_undo(text, request, undo.offer(request, 24, NOW))
    assert shown is not None and shown[0]["text"]["text"] == text
    assert [e["action_id"] for b in shown if b["type"] == "actions" for e in b["elements"]] == [
        blocks.UNDO
    ]
    assert blocks.with_undo(text, request, undo.offer(ran(pre_image=False), 24, NOW)) is None


def test_an_undos_card_says_what_it_puts_back_and_the_new_app_id() -> None:
    request = replace(
        ran(action=Action.UNDO, outcomes=(), undoes=17, id=23),
        targets=(
            TargetState(Target(APP), Outcome.DONE, new_app_id="sfv_app_new000000001"),
            TargetState(Target(APP, "+918000000001"), Outcome.FAILED, 409, "already linked"),
        ),
        status=Status.FAILED,
    )
    assert blocks.title(request) == "Undo request #17 (2 targets) — request #23"
    text = json.dumps(blocks.card(request))
    assert f"`{APP}` recreated as `sfv_app_new000000001` (a new app_id)" in text
    assert "`+918000000001` back on" in text and "already linked" in text
    assert "sfv_app_new000000001" in "\n".join(blocks.thread_details(request))


@pytest.mark.parametrize(
    ("text", "request_id", "reason", "glass"),
    [
        ("undo 17", 17, "", None),
        ("undo 17 wrong number", 17, "wrong number", None),
        ("undo 17 --break-glass INC-4411 outage", 17, "outage", "INC-4411"),
        ("--org acme undo 17 -- 18 was the one", 17, "18 was the one", None),
    ],
)
def test_the_undo_command(text: str, request_id: int, reason: str, glass: str | None) -> None:
    command = parse(text)
    assert (command.name, command.request_id, command.reason, command.break_glass) == (
        "undo",
        request_id,
        reason,
        glass,
    )


@pytest.mark.parametrize("text", ["undo", "undo seventeen", "undo 0"])
def test_an_undo_command_without_a_request_number_is_refused(text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)


def test_the_policy_undo_key() -> None:
    text = ORGS_YAML.replace(
        "      delete: {approvals: 2}\n",
        "      delete: {approvals: 2}\n      undo: {approvals: 2, window_hours: 4}\n",
    )
    policy = parse_orgs(text, ORG_ENV).get("acme").policy  # type: ignore[union-attr]
    assert (policy.approvals_needed(Action.UNDO), policy.undo_window_hours) == (2, 4)
    default = parse_orgs(ORGS_YAML, ORG_ENV).get("globex").policy  # type: ignore[union-attr]
    assert (default.approvals_needed(Action.UNDO), default.undo_window_hours) == (1, 24)
    wrong = ORGS_YAML.replace(
        "      delete: {approvals: 2}\n",
        "      delete: {approvals: 2}\n      undo: {window_hours: 0, days: 1}\n",
    )
    with pytest.raises(OrgFileError) as raised:
        parse_orgs(wrong, ORG_ENV)
    said = str(raised.value)  # each problem on the line it is written on (check-config's)
    assert ":10: org acme: policy undo window_hours must be at least 1, not 0" in said
    assert ":10: org acme: policy undo: unknown key 'days'" in said


def test_undos_are_counted_by_what_they_took_back() -> None:
    metrics = BotMetrics(["acme"], clock=lambda: NOW)
    finished = replace(
        ran(action=Action.UNDO, outcomes=(), undoes=17, id=23),
        targets=(TargetState(Target(APP, "+918000000001"), Outcome.DONE),),
    )
    metrics.changed(replace(finished, status=Status.EXECUTING))
    metrics.changed(finished)
    metrics.changed(finished)  # seen twice: counted once
    undos = metrics.undos.labels("acme", "unlink", "succeeded")._value.get()  # type: ignore[attr-defined]
    assert undos == 1


def test_a_break_glass_card_offers_undo_beside_its_review() -> None:
    request = ran(break_glass=True, incident="INC-4411", review=Review.PENDING)
    shown = break_glass.card(request, undo=undo.offer(request, 24, NOW))
    ids = [e["action_id"] for b in shown if b["type"] == "actions" for e in b["elements"]]
    assert ids[-1] == blocks.UNDO and len(ids) == 3  # Acknowledge, Flag, Undo


def test_the_undo_window_is_at_most_a_year() -> None:
    """Every finished request's card says until when Undo is offered: a window of 100,000,000
    hours ends past the year 9999, which no card could show (every card failed to render)."""
    wrong = ORGS_YAML.replace(
        "      delete: {approvals: 2}\n",
        "      delete: {approvals: 2}\n      undo: {window_hours: 100000000}\n",
    )
    with pytest.raises(OrgFileError) as raised:
        parse_orgs(wrong, ORG_ENV)
    assert "policy undo window_hours must be at most 8784, not 100000000" in str(raised.value)
