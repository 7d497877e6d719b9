"""Block Kit as data: the approval card in each state, the outcome lines, lists and errors."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.core.models import Action, Approval, Outcome, Request, Status, Target, TargetState
from bot.slack import blocks

APP = "sfv_app_abc123xyz456"
NUMBER = "+918000000001"
CREATED = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
EXPIRES = 1_700_003_600.0  # an hour later
FINISHED = 1_700_000_200.0
EXPIRES_SHOWN = "<!date^1700003600^{date_short_pretty} {time}|2023-11-14 23:13 UTC>"
CREATED_SHOWN = "<!date^1700000000^{date_short_pretty} {time}|2023-11-14 22:13 UTC>"
REASON_SHOWN = "`fraud on this DID, INC-4411`"
FINISHED_SHOWN = "<!date^1700000200^{date_short_pretty} {time}|2023-11-14 22:16 UTC>"
SLACK_SECTION_TEXT = 3000  # Slack's own limit for a section's or context element's text


def unlink(status: Status = Status.PENDING, **changes: Any) -> Request:
    """Request #7: Alice asks to unlink one number in acme; two approvals needed."""
    values: dict[str, Any] = {
        "id": 7,
        "org": "acme",
        "action": Action.UNLINK,
        "requester": "U0ALICE",
        "reason": "fraud on this DID, INC-4411",
        "status": status,
        "approvals_needed": 2,
        "created_at": CREATED,
        "expires_at": EXPIRES,
        "targets": (TargetState(Target(APP, NUMBER)),),
    }
    values.update(changes)
    return Request(**values)


def delete(*apps: str, **changes: Any) -> Request:
    targets = tuple(TargetState(Target(app)) for app in apps)
    return unlink(action=Action.DELETE, targets=targets, **changes)


def approved(*users: str) -> tuple[Approval, ...]:
    return tuple(Approval(u, CREATED + 60 * i) for i, u in enumerate(users, 1))


def by_type(built: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [b for b in built if b["type"] == kind]


def texts(built: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn/plain text in the blocks, in order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(built)
    return found


# -- the card while pending -----------------------------------------------------------------


def test_pending_card_says_everything_an_approver_needs() -> None:
    card = blocks.card(unlink(approvals=approved("U0BOB")))
    assert [b["type"] for b in card] == [
        "header",
        "section",
        "section",
        "section",
        "section",
        "section",
        "actions",
        "context",
    ]
    assert card[0]["text"] == {"type": "plain_text", "text": "Unlink 1 number — request #7"}
    assert card[1]["text"]["text"] == "*:hourglass_flowing_sand: Waiting for approval*"
    assert [f["text"] for f in card[2]["fields"]] == [
        "*Requested by*\n<@U0ALICE>",
        "*Organization*\nacme",
        "*Action*\nunlink",
        "*Approvals*\n1 of 2 (<@U0BOB>)",
    ]
    assert card[3]["text"]["text"] == f"*Targets*\n• `{NUMBER}` from `{APP}`"
    assert card[4]["text"] == {"type": "mrkdwn", "text": "*Reason*"}
    assert card[5]["text"] == {
        "type": "plain_text",
        "text": "fraud on this DID, INC-4411",
        "emoji": False,
    }
    assert card[7]["elements"] == [
        {
            "type": "mrkdwn",
            "text": f"Request #7 · expires {EXPIRES_SHOWN} · the requester cannot approve it",
        }
    ]


def test_pending_card_has_approve_deny_and_cancel_buttons_carrying_the_request() -> None:
    (actions,) = by_type(blocks.card(unlink()), "actions")
    assert actions["block_id"] == "sfvopi_request_7.pending.0"
    approve, deny, cancel = actions["elements"]
    assert [b["action_id"] for b in (approve, deny, cancel)] == [
        "sfvopi_approve",
        "sfvopi_deny",
        "sfvopi_cancel",
    ]
    assert [b["text"]["text"] for b in (approve, deny, cancel)] == [
        "Approve",
        "Deny",
        "Cancel (requester)",
    ]
    assert [b["value"] for b in (approve, deny, cancel)] == ["7", "7", "7"]
    assert approve["style"] == "primary"
    assert deny["style"] == "danger"
    assert "style" not in cancel


def test_no_button_carries_slacks_confirm_dialog() -> None:
    # Slack shows a button's confirm before the bot hears the click, so whoever may not decide
    # would be asked to confirm and refused after: the bot confirms in its own form instead
    for decision_buttons in by_type(blocks.card(unlink()), "actions"):
        for button in decision_buttons["elements"]:
            assert "confirm" not in button, button["action_id"]


def test_button_values_follow_the_request_id() -> None:
    (actions,) = by_type(blocks.card(unlink(id=2147483647)), "actions")
    assert actions["block_id"] == "sfvopi_request_2147483647.pending.0"
    assert {b["value"] for b in actions["elements"]} == {"2147483647"}


# -- the card once decided ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "changes", "line", "context"),
    [
        (
            Status.EXECUTING,
            {"approvals": approved("U0BOB", "U0CAROL")},
            "*:gear: Approved, running now*",
            "Request #7 · approved by <@U0BOB>, <@U0CAROL>",
        ),
        (
            Status.SUCCEEDED,
            {"approvals": approved("U0BOB", "U0CAROL"), "finished_at": FINISHED},
            "*:white_check_mark: Done*",
            f"Request #7 · approved by <@U0BOB>, <@U0CAROL> · finished {FINISHED_SHOWN}",
        ),
        (
            Status.FAILED,
            {"approvals": approved("U0BOB", "U0CAROL"), "finished_at": FINISHED},
            "*:x: Failed*",
            f"Request #7 · approved by <@U0BOB>, <@U0CAROL> · finished {FINISHED_SHOWN}",
        ),
        (
            Status.DENIED,
            {"decided_by": "U0BOB", "finished_at": FINISHED},
            "*:no_entry: Denied*",
            f"Request #7 · denied by <@U0BOB> · finished {FINISHED_SHOWN}",
        ),
        (
            Status.CANCELLED,
            {"decided_by": "U0ALICE", "finished_at": FINISHED},
            "*:heavy_multiplication_x: Cancelled*",
            f"Request #7 · cancelled by <@U0ALICE> · finished {FINISHED_SHOWN}",
        ),
        (
            Status.EXPIRED,
            {"decided_by": "bot", "finished_at": FINISHED},
            "*:alarm_clock: Expired*",
            f"Request #7 · no decision before {EXPIRES_SHOWN} · finished {FINISHED_SHOWN}",
        ),
        (
            Status.EXPIRED,
            {},
            "*:alarm_clock: Expired*",
            f"Request #7 · no decision before {EXPIRES_SHOWN}",
        ),
    ],
)
def test_decided_cards_have_no_buttons_and_say_who_decided(
    status: Status, changes: dict[str, Any], line: str, context: str
) -> None:
    card = blocks.card(unlink(status, **changes))
    assert by_type(card, "actions") == []
    assert card[1]["text"]["text"] == line
    assert [b["type"] for b in card[-2:]] == ["divider", "context"]
    assert card[-1]["elements"][0]["text"] == context


def test_a_bot_decision_names_nobody_but_says_why() -> None:
    card = blocks.card(unlink(Status.CANCELLED, decided_by="bot"))
    assert card[-1]["elements"][0]["text"] == "Request #7 · cancelled by the bot"
    why = "its requester is no longer a requester in acme"
    card = blocks.card(unlink(Status.CANCELLED, decided_by="bot", decision_note=why))
    assert card[-1]["elements"][0]["text"] == f"Request #7 · cancelled by the bot · why: `{why}`"


@pytest.mark.parametrize(
    ("status", "fallback"),
    [
        (Status.PENDING, "Unlink 1 number — request #7: waiting for approval"),
        (Status.EXECUTING, "Unlink 1 number — request #7: approved, running now"),
        (Status.SUCCEEDED, "Unlink 1 number — request #7: done"),
        (Status.FAILED, "Unlink 1 number — request #7: failed"),
        (Status.DENIED, "Unlink 1 number — request #7: denied"),
        (Status.CANCELLED, "Unlink 1 number — request #7: cancelled"),
        (Status.EXPIRED, "Unlink 1 number — request #7: expired"),
    ],
)
def test_card_text_is_the_notification_fallback(status: Status, fallback: str) -> None:
    assert blocks.card_text(unlink(status)) == fallback


# -- titles and approvals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("built", "title"),
    [
        (unlink(), "Unlink 1 number — request #7"),
        (
            unlink(
                targets=(TargetState(Target(APP, NUMBER)), TargetState(Target(APP, "+12025550100")))
            ),
            "Unlink 2 numbers — request #7",
        ),
        (delete("app_one"), "Delete 1 app — request #7"),
        (delete("app_one", "app_two", "app_three", id=12), "Delete 3 apps — request #12"),
    ],
)
def test_title_counts_what_goes(built: Request, title: str) -> None:
    assert blocks.title(built) == title
    assert blocks.card(built)[0]["text"]["text"] == title


@pytest.mark.parametrize(
    ("approvals", "needed", "text"),
    [
        ((), 2, "0 of 2"),
        (approved("U0BOB"), 2, "1 of 2 (<@U0BOB>)"),
        (approved("U0BOB", "U0CAROL"), 2, "2 of 2 (<@U0BOB>, <@U0CAROL>)"),
        (approved("U0BOB"), 1, "1 of 1 (<@U0BOB>)"),
    ],
)
def test_approvals_are_shown_k_of_n(
    approvals: tuple[Approval, ...], needed: int, text: str
) -> None:
    assert blocks.approvals_text(unlink(approvals=approvals, approvals_needed=needed)) == text


# -- targets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "line"),
    [
        (TargetState(Target(APP, NUMBER)), f"• `{NUMBER}` from `{APP}`"),
        (TargetState(Target(APP)), f"• `{APP}`"),
        (
            TargetState(Target(APP, NUMBER), Outcome.DONE, 200, "Number unlinked", 1),
            f":white_check_mark: `{NUMBER}` from `{APP}` — done",
        ),
        (
            TargetState(Target(APP), Outcome.ALREADY_ABSENT, 404, "App not found", 1),
            f":ballot_box_with_check: `{APP}` — already absent: App not found",
        ),
        (
            TargetState(Target(APP), Outcome.ALREADY_ABSENT, 404, None, 1),
            f":ballot_box_with_check: `{APP}` — already absent",
        ),
        (
            TargetState(Target(APP), Outcome.FAILED, 500, "db <down> & out", 3),
            f":x: `{APP}` — failed: db &lt;down&gt; &amp; out",
        ),
        (
            TargetState(Target(APP), Outcome.FAILED, None, "", 0),
            f":x: `{APP}` — failed",
        ),
    ],
)
def test_target_line(state: TargetState, line: str) -> None:
    assert blocks.target_line(state) == line


def test_the_card_lists_forty_targets_and_counts_the_rest() -> None:
    request = delete(*(f"app_{i:02}" for i in range(43)))
    targets = blocks.card(request)[3]
    lines = targets["text"]["text"].split("\n")
    assert lines[0] == "*Targets*"
    assert lines[1] == "• `app_00`"
    assert lines[40] == "• `app_39`"
    assert lines[41] == "… and 3 more (see the thread)"
    assert len(lines) == 42


def test_exactly_forty_targets_need_no_more_line() -> None:
    text = blocks.targets_text([TargetState(Target(f"app_{i}")) for i in range(40)])
    assert "more" not in text
    assert text.count("\n") == 39


# -- escaping user and API text -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U0BOB>", "&lt;@U0BOB&gt;"),
        ("<http://evil.example|approved>", "&lt;http://evil.example|approved&gt;"),
        ("&lt;", "&amp;lt;"),
        ("plain *bold* `code`", "plain *bold* `code`"),
    ],
)
def test_escape(text: str, escaped: str) -> None:
    assert blocks.escape(text) == escaped


def test_the_reason_is_plain_text_shown_as_typed_on_one_line() -> None:
    reason = "<!here> see <http://x.example|INC-1> &\n*now*\u202e :fire:"
    card = blocks.card(unlink(reason=reason))
    assert card[5]["text"] == {
        "type": "plain_text",
        "text": "<!here> see <http://x.example|INC-1> & *now* :fire:",
        "emoji": False,
    }


def test_an_invisible_reason_still_gives_slack_some_text() -> None:
    card = blocks.card(unlink(reason="\u200b\u200b"))
    assert card[5]["text"]["text"] == " "


def test_org_cannot_ping_or_link() -> None:
    request = unlink(org="a<!channel>")
    card = blocks.card(request)
    assert card[2]["fields"][1]["text"] == "*Organization*\na&lt;!channel&gt;"
    assert "<!channel>" not in json.dumps(card)
    assert blocks.outcome_summary(request).count("<") == 1  # only the requester's mention


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("fraud\non  this\tDID", "fraud on this DID"),
        ("a\u202eb\u200bc\u2028d", "a b c d"),
        ("  padded  ", "padded"),
        ("", ""),
    ],
)
def test_inert_puts_user_text_on_one_visible_line(text: str, shown: str) -> None:
    assert blocks.inert(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("INC-1", "`INC-1`"),
        ("*bold* <!here> & `x`", "`*bold* &lt;!here&gt; &amp; 'x'`"),
        ("two\nlines", "`two lines`"),
        ("", "``"),
    ],
)
def test_quoted_makes_user_text_inline_code(text: str, shown: str) -> None:
    assert blocks.quoted(text) == shown


def test_api_messages_in_target_lines_are_flattened_and_escaped() -> None:
    state = TargetState(Target(APP), Outcome.FAILED, 500, "line one\nline <two>", 3)
    assert blocks.target_line(state) == f":x: `{APP}` — failed: line one line &lt;two&gt;"


def test_errors_let_our_channel_links_through_but_nothing_else() -> None:
    built = blocks.error("post it in <#C0APPROVALS>, not <!channel> or <#nope>")
    assert built[0]["text"]["text"] == (
        ":warning: post it in <#C0APPROVALS>, not &lt;!channel&gt; or &lt;#nope&gt;"
    )


def test_errors_escape_their_message() -> None:
    assert blocks.error("no such org `<!everyone>` & co") == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":warning: no such org `&lt;!everyone&gt;` &amp; co",
            },
        }
    ]


def test_errors_point_to_the_help_in_one_line() -> None:
    built = blocks.error("unknown command `x`", usage=True)
    assert [b["type"] for b in built] == ["section", "context"]
    assert built[1]["elements"][0]["text"] == "`/sfvopi help` for every command and its options."


def test_the_help_names_every_command_and_the_options() -> None:
    for command in ("unlink", "delete", "status", "pending", "history", "cancel", "whoami", "help"):
        assert f"• `{command}" in blocks.USAGE
    assert "--org NAME" in blocks.USAGE


# -- Slack's text limits --------------------------------------------------------------------


def test_a_long_reason_is_cut_to_fit_a_section() -> None:
    card = blocks.card(unlink(reason="r" * 5000))
    assert card[5]["text"]["text"] == "r" * 2900


def test_a_reason_that_fits_is_kept_whole() -> None:
    assert blocks.card(unlink(reason="r" * 2900))[5]["text"]["text"] == "r" * 2900


def test_long_api_messages_keep_the_targets_section_within_slacks_limit() -> None:
    states = tuple(
        TargetState(Target(f"app_{i}"), Outcome.FAILED, 500, "m" * 500, 3) for i in range(40)
    )
    card = blocks.card(unlink(action=Action.DELETE, targets=states))
    for text in texts(card):
        assert len(text) <= SLACK_SECTION_TEXT
    assert card[3]["text"]["text"].endswith("…")


def test_a_long_request_list_is_clipped() -> None:
    requests = [unlink(id=i) for i in range(1, 200)]
    (section,) = blocks.request_list("History", requests)
    text = section["text"]["text"]
    assert 2800 < len(text) <= 2900
    assert text.startswith("*History*\n• *#1* unlink")
    assert text.endswith("…")
    assert whole_markup(text)


HOSTILE = "&<>" * 167  # MAX_REASON and MAX_NOTE (500) long, five times that once escaped
MESSAGE_TEXT = 4000  # what Slack asks a message's top-level text to stay within


def whole_markup(text: str) -> bool:
    """No `<…>` token and no `&…;` entity cut open by clipping."""
    return (
        re.fullmatch(r"([^<>&]|<[^<>]*>|&(amp|lt|gt);)*", text) is not None
        and re.search(r"&[a-z]*…", text) is None
    )


def hostile(status: Status, count: int = 3) -> Request:
    states = tuple(
        TargetState(Target(f"app_{i:03}"), Outcome.FAILED, 500, HOSTILE, 3) for i in range(count)
    )
    notes = tuple(Approval(a.approver, a.at, HOSTILE) for a in approved("U0BOB", "U0CAROL"))
    return unlink(
        status,
        reason=HOSTILE,
        targets=states,
        approvals=notes,
        decided_by="U0DAVE",
        decision_note=HOSTILE,
        finished_at=FINISHED,
    )


@pytest.mark.parametrize("status", [Status.PENDING, Status.FAILED, Status.DENIED])
@pytest.mark.parametrize("count", [3, 100])
def test_hostile_text_at_its_longest_keeps_every_text_within_slacks_limits(
    status: Status, count: int
) -> None:
    request = hostile(status, count)
    for line in (blocks.outcome_summary(request), blocks.requester_notice(request)):
        assert len(line) <= MESSAGE_TEXT
        assert whole_markup(line)
    for chunk in blocks.thread_details(request):
        assert 0 < len(chunk) <= SLACK_SECTION_TEXT
        assert whole_markup(chunk)
    card = blocks.card(request)
    assert all(len(text) <= SLACK_SECTION_TEXT for text in texts(card))
    assert all(whole_markup(text) for text in mrkdwn(card))


def mrkdwn(node: Any) -> list[str]:
    """Every mrkdwn text in the blocks (plain_text is shown as typed, so never clipped open)."""
    if isinstance(node, list):
        return [t for n in node for t in mrkdwn(n)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if node.get("type") == "mrkdwn" else []
    return own + [t for v in node.values() if isinstance(v, dict | list) for t in mrkdwn(v)]


def test_the_longest_reason_all_escaped_is_shown_whole_in_the_outcome_line() -> None:
    request = hostile(Status.DENIED)
    shown = "`" + blocks.escape(HOSTILE) + "`"
    assert f"Reason: {shown} Why it was denied: `&amp;&lt;&gt;" in blocks.outcome_summary(request)
    assert f"Reason: {shown}" in blocks.requester_notice(request)


@pytest.mark.parametrize(
    "token",
    ["<@U0ALICE>", CREATED_SHOWN, "<https://acme.slack.com/archives/C1/p1|the card>", "&amp;"],
)
def test_a_clip_boundary_inside_markup_keeps_it_whole_or_leaves_it_out(token: str) -> None:
    before = "x" * 50
    for limit in range(len(before) - 2, len(before) + len(token) + 3):
        clipped = blocks.clip(f"{before}{token} after", limit)
        assert len(clipped) <= limit
        assert clipped.endswith("…")
        assert token in clipped or clipped == before[: len(clipped) - 1] + "…"


def test_the_homes_latest_decisions_never_cut_a_mention_or_a_date() -> None:
    decided = [finished(Status.SUCCEEDED, DONE, id=i, reason="r" * (i % 97)) for i in range(60)]
    (section,) = blocks.request_list("Latest decisions", decided)
    assert section["text"]["text"].endswith("…")
    assert whole_markup(section["text"]["text"])


def test_a_hundred_target_card_with_long_answers_keeps_its_and_more_line() -> None:
    targets = blocks.card(hostile(Status.FAILED, 100))[3]["text"]["text"]
    assert len(targets) <= SLACK_SECTION_TEXT
    assert targets.startswith("*Targets*\n")
    assert targets.endswith("…\n… and 60 more (see the thread)")


def test_each_update_of_a_card_gives_its_buttons_a_new_block_id() -> None:
    states = [
        unlink(),
        unlink(approvals=approved("U0BOB")),
        unlink(approvals=approved("U0BOB", "U0CAROL"), approvals_needed=3),
    ]
    ids = [by_type(blocks.card(s), "actions")[0]["block_id"] for s in states]
    assert len(set(ids)) == len(ids)
    assert all(blocks.is_card_block_id(i, 7) and not blocks.is_card_block_id(i, 70) for i in ids)
    assert by_type(blocks.card(unlink()), "actions")[0]["block_id"] == ids[0]


# -- outcome summary, requester notice, thread details --------------------------------------


def finished(status: Status, *states: TargetState, **changes: Any) -> Request:
    return unlink(
        status,
        targets=states,
        approvals=approved("U0BOB", "U0CAROL"),
        finished_at=FINISHED,
        **changes,
    )


DONE = TargetState(Target(APP, NUMBER), Outcome.DONE, 200, "Number unlinked", 1)
ABSENT = TargetState(
    Target(APP, "+918000000002"), Outcome.ALREADY_ABSENT, 404, "Number not linked", 2
)
BROKEN = TargetState(Target(APP, "+918000000003"), Outcome.FAILED, 500, "boom <!here>", 3)
UNTRIED = TargetState(Target(APP, "+918000000004"))


@pytest.mark.parametrize(
    ("given", "summary"),
    [
        (
            finished(Status.SUCCEEDED, DONE, ABSENT),
            f":white_check_mark: #7 unlink `{NUMBER} on {APP}`, `+918000000002 on {APP}` "
            "in acme, asked by <@U0ALICE>, approved by <@U0BOB>, <@U0CAROL>: succeeded (2/2)."
            f" Reason: {REASON_SHOWN}",
        ),
        (
            finished(Status.FAILED, DONE, ABSENT, BROKEN, UNTRIED),
            f":x: #7 unlink `{NUMBER} on {APP}`, `+918000000002 on {APP}`, "
            f"`+918000000003 on {APP}`, +1 more in acme, asked by <@U0ALICE>, "
            "approved by <@U0BOB>, <@U0CAROL>: failed (2/4 done)."
            f" Reason: {REASON_SHOWN}",
        ),
        (
            delete("app_one", status=Status.DENIED, decided_by="U0BOB"),
            ":no_entry: #7 delete `app_one` in acme, asked by <@U0ALICE>, "
            f"denied by <@U0BOB>: denied. Reason: {REASON_SHOWN}",
        ),
        (
            delete("app_one", status=Status.CANCELLED, decided_by="U0ALICE"),
            ":heavy_multiplication_x: #7 delete `app_one` in acme, asked by <@U0ALICE>, "
            f"cancelled by <@U0ALICE>: cancelled. Reason: {REASON_SHOWN}",
        ),
        (
            delete("app_one", "app_two", status=Status.EXPIRED, decided_by="bot"),
            ":alarm_clock: #7 delete `app_one`, `app_two` in acme, asked by <@U0ALICE>: expired."
            f" Reason: {REASON_SHOWN}",
        ),
    ],
)
def test_outcome_summary(given: Request, summary: str) -> None:
    assert blocks.outcome_summary(given) == summary
    assert blocks.requester_notice(given) == "Your request " + summary.replace(
        ", asked by <@U0ALICE>", ""
    )


def test_thread_details_list_every_target_with_the_apis_answer() -> None:
    request = finished(Status.FAILED, DONE, ABSENT, BROKEN, UNTRIED)
    assert blocks.thread_details(request) == [
        "<@U0ALICE> *Request #7 failed.*\n"
        f":white_check_mark: `{NUMBER}` from `{APP}` — done (HTTP 200, 1 try)\n"
        f":ballot_box_with_check: `+918000000002` from `{APP}` — already absent: "
        "Number not linked (HTTP 404, 2 tries)\n"
        f":x: `+918000000003` from `{APP}` — failed: boom &lt;!here&gt; (HTTP 500, 3 tries)\n"
        f"• `+918000000004` from `{APP}`"
    ]


def test_thread_details_split_into_chunks_that_fit_and_lose_nothing() -> None:
    states = [
        TargetState(Target(f"app_{i:03}"), Outcome.FAILED, 502, "x" * 400, 3) for i in range(60)
    ]
    chunks = blocks.thread_details(finished(Status.FAILED, *states))
    assert len(chunks) > 1
    assert all(0 < len(chunk) <= 2900 for chunk in chunks)
    lines = "\n".join(chunks).split("\n")
    assert lines[0] == "<@U0ALICE> *Request #7 failed.*"
    assert lines[1:] == [
        f":x: `app_{i:03}` — failed: {'x' * 400} (HTTP 502, 3 tries)" for i in range(60)
    ]
    assert all(not chunk.startswith("\n") and not chunk.endswith("\n") for chunk in chunks)


# -- lists and other messages ---------------------------------------------------------------


def test_request_line() -> None:
    request = delete("app_one", "app_two", approvals=approved("U0BOB"), org="acme & co")
    assert blocks.request_line(request) == (
        "• *#7* delete `app_one`, `app_two` — pending, 1 of 2 (<@U0BOB>) approvals,"
        f" by <@U0ALICE> in acme &amp; co, filed {CREATED_SHOWN}, expires {EXPIRES_SHOWN}\n"
        f"      reason: {REASON_SHOWN}"
    )


def test_request_line_of_a_decided_request_says_who_and_when() -> None:
    request = delete("app_one", status=Status.DENIED, decided_by="U0BOB", finished_at=FINISHED)
    assert blocks.request_line(request) == (
        "• *#7* delete `app_one` — denied, 0 of 2 approvals, by <@U0ALICE> in acme,"
        f" filed {CREATED_SHOWN}, denied by <@U0BOB> {FINISHED_SHOWN}\n"
        f"      reason: {REASON_SHOWN}"
    )


def test_request_list() -> None:
    assert blocks.request_list("Pending", [delete("app_one"), delete("app_two", id=8)]) == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Pending*\n"
                "• *#7* delete `app_one` — pending, 0 of 2 approvals, by <@U0ALICE> in acme,"
                f" filed {CREATED_SHOWN}, expires {EXPIRES_SHOWN}\n      reason: {REASON_SHOWN}\n"
                "• *#8* delete `app_two` — pending, 0 of 2 approvals, by <@U0ALICE> in acme,"
                f" filed {CREATED_SHOWN}, expires {EXPIRES_SHOWN}\n      reason: {REASON_SHOWN}",
            },
        }
    ]


def test_an_empty_request_list_says_so() -> None:
    assert blocks.request_list("History", []) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*History*\nNothing here."}}
    ]


def test_retired_card_points_to_the_live_one_without_buttons() -> None:
    assert blocks.retired_card(unlink(), "the card in #approvals") == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":link: This card for request #7 was posted twice; "
                "see the card in #approvals.",
            },
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Unlink 1 number — request #7"}],
        },
    ]


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.PENDING])
def test_status_blocks_of_a_decided_request_are_its_card(status: Status) -> None:
    request = unlink(status, decided_by="U0BOB", finished_at=FINISHED)
    assert blocks.status_blocks(request) == blocks.card(request)


def test_status_blocks_of_a_pending_request_have_no_buttons() -> None:
    built = blocks.status_blocks(unlink())
    assert by_type(built, "actions") == []
    assert built[:5] == blocks.card(unlink())[:5]


def test_status_blocks_of_a_pending_request_say_when_it_expires_once() -> None:
    built = blocks.status_blocks(unlink())
    assert sum(EXPIRES_SHOWN in text for text in texts(built)) == 1


def test_message_blocks() -> None:
    assert blocks.message_blocks("*hi*") == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}
    ]


def test_when_gives_a_local_time_with_a_utc_fallback() -> None:
    assert blocks.when(0) == "<!date^0^{date_short_pretty} {time}|1970-01-01 00:00 UTC>"
    assert blocks.when(EXPIRES + 0.9) == EXPIRES_SHOWN
