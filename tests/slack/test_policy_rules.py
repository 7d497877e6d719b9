"""Policy rules as people meet them in Slack, over the bot's real HTTP server with signed
requests: a refused request answered in the rule's own words with nothing filed, a protected
app that really needs two admins (the card names the rule), teams one person each, teams in
order, and `/sfvopi policy`."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config.settings import Settings
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot
from tests.support.emulator import ACME_KEY
from tests.support.policy_orgs import HOTLINE_SAYS, PROD_APP, RULES_YAML
from tests.support.slack_user import (
    APPROVALS,
    ask,
    card,
    card_text,
    click,
    request_id_in,
    told,
)

CORE_RULE = """\
        - name: core
          apps: ['sfv_app_core*']
          requires:
            - {approvers: [S0NETOPS]}
            - {approvers: [S0SEC]}
        - name: edge
          apps: ['sfv_app_edge*']
          requires_in_order: true
          requires:
            - {approvers: [S0NETOPS]}
            - {approvers: [S0SEC]}
"""


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    """On each database in turn: the quorum is decided in the approval's transaction."""
    return bot_settings.model_copy(update={"database_url": bot_database_url})


@pytest.fixture
def orgs_yaml() -> str:
    """acme's rules and two more (core apps need netops and security, one person each; edge
    apps netops first, then security), and workflow steps on in acme."""
    ruled = RULES_YAML.replace(
        "    members:\n      U0ERIN: admin\n", CORE_RULE + "    members:\n      U0ERIN: admin\n", 1
    )
    return ruled.replace("  globex:\n", "    workflow_steps: {enabled: true}\n  globex:\n", 1)


def shown(blocks: list[dict[str, Any]] | None) -> str:
    return "\n".join(b["text"]["text"] for b in blocks or ())


async def test_a_refused_request_gets_the_rules_words_and_nothing_is_filed(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    for typed in (
        "unlink +911800000001 sfv_app_abc123xyz456 cleanup CHG-9",
        "unlink +911800000001 sfv_app_abc123xyz456 --break-glass INC-1 cleanup",
    ):
        reply = await ask(slack, bot, "U0ALICE", typed)
        assert HOTLINE_SAYS in reply and "rule 1 'hotlines'" in reply
    assert slack.messages(APPROVALS) == []
    assert await bot.services.store.list_requests(orgs=["acme"]) == []
    assert not emulator.writes


async def test_a_protected_app_really_needs_two_admins(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    emulator.add_app(ACME_KEY, PROD_APP)
    reply = await ask(slack, bot, "U0ALICE", f"delete {PROD_APP} decommission CHG-7")
    assert "waiting for 2 approvals" in reply
    assert "Policy: rule 2 'prod apps' — 2 approvals from admins; no break-glass" in reply
    request_id = request_id_in(reply)
    assert "Policy: rule 2 'prod apps' — 2 approvals from admins" in card_text(
        card(slack, request_id)
    )

    await click(slack, bot, "U0BOB", request_id, "approve")
    assert "only admins may approve this request" in told(slack, "U0BOB")[-1]
    await click(slack, bot, "U0DAVE", request_id, "approve")
    half = card(slack, request_id)
    assert "1 of 2 (<@U0DAVE>)" in card_text(half) and half.action_ids() != []
    assert emulator.has_app(ACME_KEY, PROD_APP)

    await click(slack, bot, "U0ERIN", request_id, "approve")
    assert card(slack, request_id).action_ids() in ([], ["sfvopi_undo"])
    assert not emulator.has_app(ACME_KEY, PROD_APP)


async def test_policy_says_which_rule_applies_and_why(slack: SlackStandin, bot: RunningBot) -> None:
    asked = await slack.command("U0VIC", f"policy delete {PROD_APP} sfv_app_x1", channel="C0OPS")
    assert asked.ephemeral is not None
    answer = shown(asked.ephemeral.blocks)
    assert "rule 2 'prod apps' — 2 approvals from admins; no break-glass" in asked.ephemeral.text
    assert "sfv_app_x1: no rule selects it, so the delete policy applies (2 approvals)" in answer
    assert "Break-glass: forbidden by rule 2 'prod apps'." in answer

    listed = await slack.command("U0VIC", "policy", channel="C0OPS")
    assert listed.ephemeral is not None
    assert "Policy rules of acme" in listed.ephemeral.text
    assert "rule 3 'dev apps': delete; apps 'sfv_app_dev*' → 1 approval" in shown(
        listed.ephemeral.blocks
    )

    bad = await slack.command("U0VIC", "policy delete sfv_app_x1 because", channel="C0OPS")
    assert bad.ephemeral is not None and "takes only the targets" in bad.ephemeral.text
    assert await bot.services.store.list_requests(orgs=["acme"]) == []


async def test_a_workflow_step_gets_the_rules_refusal_and_its_approvals(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """A step files through the same rules: refused in the rule's words, or needing the
    rule's approvals and the one more every step's request needs."""
    inputs = {"org": "acme", "reason": "cleanup CHG-3", "requester": "U0ALICE"}
    run, delivered = await slack.run_step(
        "unlink_numbers", inputs | {"targets": "+911800000001 sfv_app_abc123xyz456"}
    )
    assert delivered.ok
    await bot.settle()
    await slack.wait_for(lambda: run.state != "running", timeout=20.0)
    assert run.state == "failed" and run.error is not None
    assert HOTLINE_SAYS in run.error
    assert await bot.services.store.list_requests(orgs=["acme"]) == []

    run, delivered = await slack.run_step("delete_apps", inputs | {"targets": PROD_APP})
    assert delivered.ok
    await bot.settle()
    (request,) = await bot.services.store.list_requests(orgs=["acme"])
    assert request.approvals_needed == 3


async def test_two_teams_one_person_each_and_the_card_says_who(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    """Carol is in both teams: her approval fills one requirement only, so Bob's (netops)
    is still needed; Erin, in neither team, is refused; the card shows each requirement and
    who filled it."""
    slack.set_usergroup("S0NETOPS", ["U0BOB", "U0CAROL"])
    slack.set_usergroup("S0SEC", ["U0CAROL", "U0DAVE"])
    emulator.add_app(ACME_KEY, "sfv_app_core1")
    reply = await ask(slack, bot, "U0ALICE", "delete sfv_app_core1 decommission CHG-8")
    assert "waiting for 2 approvals" in reply
    request_id = request_id_in(reply)
    shown = card_text(card(slack, request_id))
    assert "1 from members of S0NETOPS: nobody yet" in shown
    assert "1 from members of S0SEC: nobody yet" in shown

    await click(slack, bot, "U0ERIN", request_id, "approve")
    assert told(slack, "U0ERIN")[-1].endswith(
        "this request needs 1 from members of S0NETOPS and 1 from members of S0SEC, and you "
        "are none of them"
    )
    await click(slack, bot, "U0CAROL", request_id, "approve")
    half = card(slack, request_id)
    assert half.action_ids() != [] and emulator.has_app(ACME_KEY, "sfv_app_core1")
    assert ":white_check_mark: 1 from members of S0NETOPS: <@U0CAROL>" in card_text(half)

    await click(slack, bot, "U0BOB", request_id, "approve")
    done = card(slack, request_id)
    assert done.action_ids() in ([], ["sfvopi_undo"]) and not emulator.has_app(
        ACME_KEY, "sfv_app_core1"
    )


async def test_teams_in_order_refuse_out_of_turn_at_the_click_and_the_card_says_who_waits(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    """Netops first, then security: Dave (security only) is refused at the click, no form
    opened, told netops waits; Carol (both) fills netops; Bob (netops only) is then refused,
    security waiting; Dave's approval completes it. The card shows the stages in order."""
    slack.set_usergroup("S0NETOPS", ["U0BOB", "U0CAROL"])
    slack.set_usergroup("S0SEC", ["U0CAROL", "U0DAVE"])
    emulator.add_app(ACME_KEY, "sfv_app_edge1")
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", "delete sfv_app_edge1 old CHG-9"))
    assert (
        "Requires, in order: 1. :hourglass_flowing_sand: 1 from members of S0NETOPS: nobody yet "
        "(waits now) → 2. :lock: 1 from members of S0SEC: nobody yet"
    ) in card_text(card(slack, request_id))

    found = card(slack, request_id)
    result = await slack.click("U0DAVE", APPROVALS, found.ts, "sfvopi_approve")
    assert result.status == 200
    await bot.settle()
    assert slack.modal_of("U0DAVE") is None
    assert told(slack, "U0DAVE")[-1].endswith(
        "this request's approvals go in order: members of S0NETOPS approve first (stage 1 of 2): "
        "0 of 1 so far"
    )
    await click(slack, bot, "U0CAROL", request_id, "approve")
    half = card_text(card(slack, request_id))
    assert (
        "1. :white_check_mark: 1 from members of S0NETOPS: <@U0CAROL> → "
        "2. :hourglass_flowing_sand: 1 from members of S0SEC: nobody yet (waits now)"
    ) in half
    await click(slack, bot, "U0BOB", request_id, "approve")
    assert (
        "members of S0SEC approve first (stage 2 of 2): 0 of 1 so far" in told(slack, "U0BOB")[-1]
    )
    assert emulator.has_app(ACME_KEY, "sfv_app_edge1")

    await click(slack, bot, "U0DAVE", request_id, "approve")
    done = card(slack, request_id)
    assert done.action_ids() in ([], ["sfvopi_undo"]) and not emulator.has_app(
        ACME_KEY, "sfv_app_edge1"
    )
