"""The policy's words in Block Kit, as data: the card's policy line and its required teams
with who filled each, and `/sfvopi policy`'s answer; the org file's text shown inert."""

from __future__ import annotations

from typing import Any

from bot.core.models import Action, Request, Status, Target, TargetState
from bot.slack import blocks
from bot.slack.blocks.policy import LINES_SHOWN, policy_answer

REQUEST = Request(
    id=7,
    org="acme",
    action=Action.DELETE,
    requester="U0ALICE",
    reason="decommission",
    status=Status.PENDING,
    approvals_needed=2,
    created_at=1_700_000_000.0,
    expires_at=1_700_003_600.0,
    targets=(TargetState(Target("sfv_app_core1")),),
)


def contexts(built: list[dict[str, Any]]) -> list[str]:
    return [b["elements"][0]["text"] for b in built if b["type"] == "context"]


def test_a_card_without_rules_has_no_policy_line() -> None:
    assert not any("Policy" in t for t in contexts(blocks.card(REQUEST)))


def test_the_card_names_the_rule_and_each_team_and_who_filled_it() -> None:
    built = blocks.card(
        REQUEST,
        policy="rule 2 'core <!channel>' — 2 approvals",
        requirements=[
            ("1 from members of S0NETOPS", 1, ["U0BOB"]),
            ("1 from members of S0SEC", 1, []),
        ],
    )
    shown = contexts(built)
    assert "Policy: rule 2 'core &lt;!channel&gt;' — 2 approvals" in shown
    assert (
        "Requires :white_check_mark: 1 from members of S0NETOPS: <@U0BOB> · "
        ":hourglass_flowing_sand: 1 from members of S0SEC: nobody yet"
    ) in shown


def test_the_policy_answer_is_a_heading_and_bullets_within_slack_s_limits() -> None:
    lines = ["delete x in acme: rule 1 <@U0X>", *(f"line {i} " + "x" * 200 for i in range(60))]
    head, body = policy_answer(lines)
    assert head["text"]["text"] == "*delete x in acme: rule 1 &lt;@U0X&gt;*"
    text = body["text"]["text"]
    assert len(text) <= blocks.SECTION_LIMIT
    assert text.startswith("• line 0 ")
    assert f"… and {60 - LINES_SHOWN} more" in text
    assert policy_answer(["acme has no policy rules: unlink 1 approval"])[0]["type"] == "section"


def test_stages_in_order_are_numbered_with_the_one_that_waits_now() -> None:
    built = blocks.card(
        REQUEST,
        requirements=[
            ("1 from members of S0NETOPS", 1, ["U0BOB"]),
            ("1 from members of S0SEC", 1, []),
            ("1 from admins", 1, []),
        ],
        in_order=True,
    )
    assert (
        "Requires, in order: 1. :white_check_mark: 1 from members of S0NETOPS: <@U0BOB> → "
        "2. :hourglass_flowing_sand: 1 from members of S0SEC: nobody yet (waits now) → "
        "3. :lock: 1 from admins: nobody yet"
    ) in contexts(built)
