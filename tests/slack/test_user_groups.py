"""Roles granted to Slack user groups, as people see them: a group's members ask and approve
per the group's role, someone who leaves the group loses their approval at the quorum, and a
Slack that is slow to list a group never makes an ack late.

The bot is the real server; the stand-in answers `usergroups.users.list` from groups the test
sets and changes, as a workspace admin would; SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from bot.core.models import Action, NewRequest, Status, Target
from bot.core.org import OrgDirectory
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import SlackApiRefusal, SlackServerError
from bot.slack.services import Services
from bot.slack.usergroups import UserGroups
from bot.wiring import bootstrap, run_socket
from tests.support.bot import RunningBot
from tests.support.orgs import ORG_ENV, ORGS_YAML, write_orgs
from tests.support.slack import SLACK_APP_TOKEN, SLACK_BOT_TOKEN
from tests.support.slack_user import ask, card, card_text, click, request_id_in, told

ONCALL, OPS_TEAM = "S0ONCALL", "S0OPSTEAM"
GROUPED = ORGS_YAML.replace(
    "      U0VIC: viewer\n",
    f"      U0VIC: viewer\n      {ONCALL}: approver\n      {OPS_TEAM}: requester\n",
    1,
).replace("      ttl_minutes: 60\n", "      ttl_minutes: 60\n      remind_after_minutes: 10\n", 1)
GLOBEX_ONCALL = "S0GLXONCALL"
GLOBEX_GROUPED = GROUPED.replace(
    "      U0MULTI: approver\n", f"      U0MULTI: approver\n      {GLOBEX_ONCALL}: approver\n", 1
)
DELETE = "delete sfv_app_abc123xyz456 decommission, CHG-1207"
UNLINK = "unlink +918000000001 sfv_app_abc123xyz456 fraud on this DID, INC-4411"
REPO = Path(__file__).resolve().parents[2]
APPROVALS = "C0APPROVALS"


@pytest.fixture
def orgs() -> OrgDirectory:
    return parse_orgs(GROUPED, ORG_ENV)


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    """The same bot on each database (SQLite, and PostgreSQL where it is configured)."""
    return bot_settings.model_copy(update={"database_url": bot_database_url})


@pytest.fixture
def groups(slack: SlackStandin) -> SlackStandin:
    """Grace is on call (approver by the group alone), Vic too (a viewer himself), Nora is in
    the ops team (requester by the group alone)."""
    slack.set_usergroup(ONCALL, ["U0GRACE", "U0VIC"])
    slack.set_usergroup(OPS_TEAM, ["U0NORA"])
    return slack


async def refresh(bot: RunningBot) -> None:
    """What the background refresher does every few minutes, now."""
    assert bot.services.groups is not None
    await bot.services.groups.refresh([ONCALL, OPS_TEAM])


@pytest.mark.usefixtures("groups")
async def test_group_members_ask_and_approve_per_the_groups_role(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0NORA", DELETE))
    shown = await ask(slack, bot, "U0NORA", f"status {request_id}")
    assert f"request #{request_id}: waiting for approval" in shown

    await click(slack, bot, "U0GRACE", request_id, "approve")
    assert "1 of 2 (<@U0GRACE>)" in card_text(card(slack, request_id))
    await click(slack, bot, "U0VIC", request_id, "approve")  # his group's role is the higher

    done = await bot.services.store.get(request_id)
    assert done is not None and done.status is Status.SUCCEEDED
    assert done.approvers == ("U0GRACE", "U0VIC")
    assert emulator.effective[("delete", "sfv_app_abc123xyz456", None)] == 1
    assert "approver" in await ask(slack, bot, "U0GRACE", "whoami")


@pytest.mark.usefixtures("groups")
async def test_an_approval_from_someone_who_left_the_group_is_withdrawn_at_the_quorum(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    await click(slack, bot, "U0GRACE", request_id, "approve")
    slack.set_usergroup(ONCALL, ["U0VIC"])  # Grace is off call now
    await refresh(bot)

    await click(slack, bot, "U0BOB", request_id, "approve")
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.PENDING
    assert stored.approvers == ("U0BOB",)
    assert not emulator.writes
    withdrawn = [
        e for e in await bot.services.store.events(request_id) if e.kind == "approval_withdrawn"
    ]
    assert [e.detail["approver"] for e in withdrawn] == ["U0GRACE"]
    assert "1 of 2 (<@U0BOB>)" in card_text(card(slack, request_id))

    await click(slack, bot, "U0GRACE", request_id, "approve")  # no longer an approver at all
    assert "no request" in told(slack, "U0GRACE")[-1]


@pytest.mark.usefixtures("groups")
async def test_a_cold_cache_and_a_slow_slack_still_ack_in_time(
    slack: SlackStandin, bot: RunningBot
) -> None:
    slack.slow_down("usergroups.users.list", 4)  # longer than a role check waits (1 s)
    first = await slack.command("U0NORA", UNLINK, channel="C0OPS")
    assert first.ok, first  # answered within Slack's deadline, without the group's list
    assert first.ephemeral is not None
    assert "try again in a moment" in first.ephemeral.text
    assert not await bot.services.store.list_requests(orgs=["acme"])

    groups = bot.services.groups
    assert groups is not None
    await slack.wait_for(lambda: groups.listing(OPS_TEAM) is not None, timeout=30)  # background
    slack.slow_down("usergroups.users.list", 0)
    assert "waiting for 1 approval" in await ask(slack, bot, "U0NORA", UNLINK)


@pytest.mark.usefixtures("groups")
async def test_a_click_on_a_cold_cache_is_told_to_try_again(
    slack: SlackStandin, bot: RunningBot
) -> None:
    now = time.time()
    filed, _ = await bot.services.store.create_request(  # as another replica filed it
        NewRequest(
            org="acme",
            action=Action.UNLINK,
            requester="U0ALICE",
            reason="fraud on this DID",
            targets=[Target("sfv_app_abc123xyz456", "+918000000001")],
            now=now,
            expires_at=now + 3600,
        ),
        approvals_needed=1,
    )
    slack.slow_down("usergroups.users.list", 10)  # far longer than a role check waits
    await bot.services.notifier.sync(filed.id)  # this replica has read no group yet
    request_id = filed.id
    await click(slack, bot, "U0GRACE", request_id, "approve")
    assert "try again in a moment" in told(slack, "U0GRACE")[-1]
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.approvers == ()


@pytest.mark.usefixtures("groups")
async def test_a_request_is_cancelled_for_a_requester_who_left_the_group_never_for_a_cold_list(
    slack: SlackStandin, bot: RunningBot
) -> None:
    now = time.time()
    filed, _ = await bot.services.store.create_request(  # filed on another replica by Nora
        NewRequest(
            org="acme",
            action=Action.UNLINK,
            requester="U0NORA",
            reason="fraud on this DID",
            targets=[Target("sfv_app_abc123xyz456", "+918000000001")],
            now=now,
            expires_at=now + 3600,
        ),
        approvals_needed=1,
    )
    slack.slow_down("usergroups.users.list", 3)  # this replica cannot read the group yet
    await bot.sweep_once()
    await bot.settle()
    stored = await bot.services.store.get(filed.id)
    assert stored is not None and stored.status is Status.PENDING

    slack.slow_down("usergroups.users.list", 0)
    slack.set_usergroup(OPS_TEAM, [])  # Nora left the ops team
    await refresh(bot)
    await bot.sweep_once()
    await bot.settle()
    stored = await bot.services.store.get(filed.id)
    assert stored is not None and stored.status is Status.CANCELLED
    assert stored.decision_note == "its requester is no longer a requester in acme"


@pytest.mark.parametrize("refusal", ["missing_scope", "no_such_subteam"])
@pytest.mark.usefixtures("groups")
async def test_a_group_slack_will_not_list_grants_nobody_its_role(
    slack: SlackStandin, bot: RunningBot, refusal: str
) -> None:
    slack.fail("usergroups.users.list", SlackApiRefusal(refusal), SlackApiRefusal(refusal))
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))  # the first read
    await click(slack, bot, "U0GRACE", request_id, "approve")
    assert "no request" in told(slack, "U0GRACE")[-1]
    assert bot.services.groups is not None
    listing = bot.services.groups.listing(ONCALL)
    assert listing is not None and listing.members == frozenset()
    assert listing.problem == refusal

    await click(slack, bot, "U0BOB", request_id, "approve")  # direct members are unaffected
    done = await bot.services.store.get(request_id)
    assert done is not None and done.status is Status.SUCCEEDED


@pytest.mark.usefixtures("groups")
async def test_a_reminder_mentions_the_group_and_reaches_its_members(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    stored = await bot.services.store.get(request_id)
    assert stored is not None and bot.services.outbox is not None
    bot.services.outbox.clock = lambda: stored.created_at + 10 * 60
    await bot.sweep_once()
    await bot.settle()
    (reminder,) = [m.text for m in slack.thread(APPROVALS, card(slack, request_id).ts)]
    assert reminder.endswith(
        f"Who can approve: <!subteam^{ONCALL}>, <@U0BOB>, <@U0CAROL>, <@U0DAVE>"
    )
    for person in ("U0GRACE", "U0VIC", "U0BOB"):
        (dm,) = [m.text for m in slack.dms(person)]
        assert f"Request #{request_id} in *acme*" in dm


@pytest.mark.parametrize("orgs", [parse_orgs(GLOBEX_GROUPED, ORG_ENV)])
async def test_another_orgs_request_reads_as_a_missing_number_while_its_group_is_unread(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """Alice (acme) asks about globex's request while globex's group is not listed yet: the
    text a number that does not exist gets (before: "try again in a moment", a second late)."""
    slack.slow_down("usergroups.users.list", 10)  # longer than any role check waits
    now = time.time()
    theirs, _ = await bot.services.store.create_request(  # as another replica filed it
        NewRequest(
            org="globex",
            action=Action.DELETE,
            requester="U0GINA",
            reason="decommission",
            targets=[Target("sfv_app_globex000001")],
            now=now,
            expires_at=now + 3600,
        ),
        approvals_needed=1,
    )
    missing = theirs.id + 1  # no such request, as many digits
    assert len(str(missing)) == len(str(theirs.id))
    for command in ("status", "cancel"):
        hidden = await ask(slack, bot, "U0ALICE", f"{command} {theirs.id}")
        absent = await ask(slack, bot, "U0ALICE", f"{command} {missing}")
        assert hidden == absent.replace(f"#{missing}", f"#{theirs.id}"), command
        assert "no request" in hidden


# -- the same over Socket Mode -------------------------------------------------------------


@pytest.fixture
async def socket_services(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[Services]:
    """The bot over Socket Mode (app-level token, no signing secret), connected."""
    settings = bot_settings.model_copy(
        update={"slack_app_token": SecretStr(SLACK_APP_TOKEN), "slack_signing_secret": None}
    )
    slack.configure_socket(SLACK_APP_TOKEN)
    root = await bootstrap(settings, orgs=orgs, socket_mode=True)
    services = root.services
    task = asyncio.create_task(run_socket(root))
    try:
        await slack.wait_for(lambda: slack.connections >= 1, timeout=10)
        yield services
    finally:
        await services.background.settle(10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await root.close()
        await slack.wait_for(lambda: slack.connections == 0, timeout=5)


@pytest.mark.usefixtures("groups")
async def test_over_the_socket_a_slow_group_list_still_acks_in_time_then_works(
    slack: SlackStandin, socket_services: Services
) -> None:
    slack.slow_down("usergroups.users.list", 4)
    first = await slack.command("U0NORA", UNLINK, channel="C0OPS")
    assert first.transport == "socket"
    assert first.ok, first
    assert first.ephemeral is not None and "try again in a moment" in first.ephemeral.text

    groups = socket_services.groups
    assert groups is not None
    await slack.wait_for(lambda: groups.listing(OPS_TEAM) is not None, timeout=30)
    again = await slack.command("U0NORA", UNLINK, channel="C0OPS")
    assert again.ok and again.ephemeral is not None
    assert "waiting for 1 approval" in again.ephemeral.text


# -- check-config --online ---------------------------------------------------------------


async def check_config_online(
    slack: SlackStandin, tmp_path: Path, orgs_yaml: str = GROUPED
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SFVOPI_"))}
    env |= ORG_ENV | {
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
        "SLACK_API_URL": slack.api_url,
        "SFVOPI_ORGS_FILE": str(write_orgs(tmp_path, orgs_yaml)),
        "SFVOPI_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check-config",
        "--online",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_check_config_online_lists_each_groups_members(
    slack: SlackStandin, tmp_path: Path
) -> None:
    slack.set_usergroup(ONCALL, ["U0GRACE", "U0VIC"])
    slack.set_usergroup(OPS_TEAM, [])
    code, out, err = await check_config_online(slack, tmp_path)
    assert code == 0, err
    assert f"user group {ONCALL} (approver in acme): 2 members: U0GRACE, U0VIC" in out
    assert f"user group {OPS_TEAM} (requester in acme): 0 members: nobody" in out

    slack.delete_usergroup(OPS_TEAM)
    slack.drop_scope("usergroups.users.list")
    code, out, err = await check_config_online(slack, tmp_path)
    assert code == 1
    assert f"user group {ONCALL} (approver in acme): the Slack app lacks usergroups:read" in err
    slack.grant_scope("usergroups.users.list")
    code, out, err = await check_config_online(slack, tmp_path)
    assert code == 1
    assert f"user group {OPS_TEAM} (requester in acme): Slack has no user group with this id" in err
    assert "user group S0ONCALL (approver in acme): 2 members" not in err


NETOPS = "S0NETOPS"
NETOPS_ONLY = ORGS_YAML.replace(
    "      self_approval: false\n",
    f"""\
      self_approval: false
      rules:
        - {{name: prod, apps: ['sfv_app_prod_*'], approvers: [{NETOPS}]}}
      limits:
        - {{name: bulk, action: delete, per: requester, targets: 5, within: 1h, over: needs_admin}}
""",
    1,
)  # rule 'prod' on line 13


async def test_check_config_online_warns_when_no_admin_is_in_the_only_group_a_rule_admits(
    slack: SlackStandin, tmp_path: Path
) -> None:
    """Offline it can only say "unless"; with the group read, it is sure either way."""
    slack.set_usergroup(NETOPS, ["U0BOB", "U0CAROL"])
    code, out, err = await check_config_online(slack, tmp_path, NETOPS_ONLY)
    assert code == 0, err
    (warning,) = [line for line in out.splitlines() if line.startswith("warning:")]
    assert warning.startswith(
        f"warning: {tmp_path / 'orgs.yml'}:13: org acme: policy rule 1 'prod' lets only members "
        f"of {NETOPS} approve, and limit 1 'bulk' asks one more approval from an admin"
    )
    assert (
        f"and none of the org's admins (U0DAVE) is in {NETOPS} as Slack lists it now: a request "
        "over the limit under this rule can never be approved and expires after 60 minutes. "
        f"Add admin to the rule's approvers (approvers: [{NETOPS}, admin]), or add an admin to "
        f"{NETOPS}"
    ) in warning
    assert out.splitlines()[-1].startswith("check-config: 1 warning: the bot would start")
    assert f"user group {NETOPS} (approvers under rule 1 'prod' in acme): 2 members" in out

    slack.set_usergroup(NETOPS, ["U0BOB", "U0DAVE"])
    code, out, err = await check_config_online(slack, tmp_path, NETOPS_ONLY)
    assert code == 0, err
    assert "warning" not in out


# -- the cache itself, over the stand-in ---------------------------------------------------


async def test_a_stale_list_answers_at_once_while_it_is_read_again(slack: SlackStandin) -> None:
    now = [1000.0]
    client = AsyncWebClient(token=SLACK_BOT_TOKEN, base_url=slack.api_url)
    cache = UserGroups(client, max_age=60, cold_wait=5, clock=lambda: now[0])
    slack.set_usergroup(ONCALL, ["U0GRACE"])
    assert await cache.members([ONCALL]) == {ONCALL: frozenset({"U0GRACE"})}

    slack.set_usergroup(ONCALL, ["U0HANK"])
    slack.slow_down("usergroups.users.list", 0.5)
    now[0] += 61  # too old: answered from the last list, read again behind the scenes
    assert await cache.members([ONCALL]) == {ONCALL: frozenset({"U0GRACE"})}
    await cache.refresh([ONCALL])
    assert cache.known([ONCALL]) == {ONCALL: frozenset({"U0HANK"})}
    await cache.close()


async def test_a_passing_failure_keeps_the_last_known_list(slack: SlackStandin) -> None:
    client = AsyncWebClient(token=SLACK_BOT_TOKEN, base_url=slack.api_url)  # no retries
    cache = UserGroups(client, max_age=0, cold_wait=5)
    slack.set_usergroup(ONCALL, ["U0GRACE"])
    await cache.refresh([ONCALL])
    slack.fail("usergroups.users.list", SlackServerError())
    await cache.refresh([ONCALL])
    listing = cache.listing(ONCALL)
    assert listing is not None and listing.members == frozenset({"U0GRACE"})
    assert listing.problem is None
    assert [c.method for c in slack.calls].count("usergroups.users.list") == 2
    await cache.close()
