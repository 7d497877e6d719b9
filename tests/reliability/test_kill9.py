"""kill -9 the real bot at each step of a request, restart it, and check nothing is lost or doubled.

Each case runs `sfvopi-bot serve` as a subprocess on a SQLite file (a copy of the session's
migrated template: the bot finds it at head). The bot dies either by a
failpoint (`SFVOPI_FAILPOINT`, see bot/failpoints.py: it SIGKILLs itself at that exact line)
or by a SIGKILL from the test (idle with the card posted; blocked inside the API call, which
the emulator holds). A second process on the same database (no failpoint) then has to finish
the job: its sweeper runs at start and every SFVOPI_SWEEP_INTERVAL_SECONDS, and takes over the
dead one's leases once they lapse (SFVOPI_LEASE_SECONDS).

Afterwards: the request ended succeeded; the API saw at most one effective call for the target;
Slack was told everything exactly once: one card (final, no buttons), one thread reply, one
requester notice, one outcome line.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.models import Outcome, Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import Message, SlackStandin
from bot.store import Store
from tests.support.database import fresh_bot_database
from tests.support.processes import BotProcess, bot_env, start_bot_process, swept, wait_until
from tests.support.slack import SLACK_SIGNING_SECRET
from tests.support.slack_user import confirm

APPROVALS = "C0APPROVALS"
OUTCOMES = "C0OPSLOG"
APP, NUMBER = "sfv_app_abc123xyz456", "+918000000001"
UNLINK = f"unlink {NUMBER} {APP} fraud on this DID, INC-4411"
LEASE = 1.5


@dataclass(frozen=True)
class KillPoint:
    name: str
    failpoint: str | None  # None: the test sends SIGKILL itself
    outcome: Outcome  # what the target records after recovery
    api_calls: int  # calls the emulator receives for the target in total


POINTS = [
    KillPoint("before_card", "before_card", Outcome.DONE, 1),
    # Slack posts are at least once: a crash between chat.postMessage and storing its ts
    # leaves an orphan card, and the restart posts a second one. The orphan's buttons still
    # work (clicks are decided from the store), and its first click retires it.
    KillPoint("after_card_posted", "after_card_posted", Outcome.DONE, 1),
    KillPoint("after_card", None, Outcome.DONE, 1),
    KillPoint("after_claim", "after_claim", Outcome.DONE, 1),
    # the pre-image kept, nothing sent yet: the restart runs it on that pre-image, not re-read
    KillPoint("after_pre_image", "after_pre_image", Outcome.DONE, 1),
    KillPoint("during_api", None, Outcome.ALREADY_ABSENT, 2),
    KillPoint("after_api", "after_api", Outcome.ALREADY_ABSENT, 2),
    KillPoint("after_finish", "after_finish", Outcome.DONE, 1),
    KillPoint("before_announce", "before_announce", Outcome.DONE, 1),
]


def cards(slack: SlackStandin, request_id: int) -> list[Message]:
    pattern = re.compile(rf"request #{request_id}\b")
    return [m for m in slack.messages(APPROVALS) if pattern.search(m.text)]


def outcome_lines(slack: SlackStandin, request_id: int) -> list[str]:
    pattern = re.compile(rf"#{request_id}\b")
    return [m.text for m in slack.messages(OUTCOMES) if pattern.search(m.text)]


def notices(slack: SlackStandin, user: str) -> list[str]:
    """What the requester was told after the ack: ephemerals (response_url) and DMs."""
    told = [e.text for e in slack.ephemerals(user) if not e.from_ack]
    return told + [m.text for m in slack.messages(user)]


def told_everything(slack: SlackStandin, request_id: int) -> bool:
    found = cards(slack, request_id)
    return (
        bool(found)
        and found[-1].action_ids() in ([], ["sfvopi_undo"])
        and bool(outcome_lines(slack, request_id))
        and bool(notices(slack, "U0ALICE"))
        and bool(slack.thread(APPROVALS, found[-1].ts))
    )


async def approve(slack: SlackStandin, request_id: int, ts: str | None = None) -> None:
    """U0BOB clicks Approve on the card (the one whose ts the store holds, if given) and
    confirms in the form it opens."""
    if ts is None:
        (card,) = cards(slack, request_id)
        ts = card.ts
    result = await slack.click("U0BOB", APPROVALS, ts, "sfvopi_approve")
    assert result.status == 200
    assert (await confirm(slack, "U0BOB")).status == 200


async def stored_card(store: Store, request_id: int, timeout: float = 15.0) -> str:
    """The ts of the card the store knows about, once one is recorded."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        request = await store.get(request_id)
        if request is not None and request.card_ts is not None:
            return request.card_ts
        assert asyncio.get_running_loop().time() < deadline, "no card recorded"
        await asyncio.sleep(0.05)


async def stored_notice(store: Store, request_id: int, timeout: float = 10.0) -> None:
    """Waits for the store to record that everyone was told (`announced`)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        request = await store.get(request_id)
        if request is not None and request.notified_at is not None:
            return
        assert asyncio.get_running_loop().time() < deadline, "never marked as told"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("point", POINTS)
async def test_kill9_at_each_step_then_restart(
    point: KillPoint,
    slack: SlackStandin,
    emulator: Emulator,
    orgs_yaml: str,
    tmp_path: Path,
    migrated_sqlite: Path,
) -> None:
    started = time.monotonic()
    database = fresh_bot_database(migrated_sqlite, tmp_path / "bot.db")
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        database,
        orgs_yaml,
        SFVOPI_LEASE_SECONDS=str(LEASE),
        SFVOPI_SWEEP_INTERVAL_SECONDS="0.3",
    )
    first_env = env | ({"SFVOPI_FAILPOINT": point.failpoint} if point.failpoint else {})
    first = await start_bot_process("first", first_env, tmp_path)
    second: BotProcess | None = None
    store = Store(database)
    try:
        await first.ready()
        slack.configure(first.url, SLACK_SIGNING_SECRET)
        asked = await slack.command("U0ALICE", UNLINK)
        assert asked.status == 200 and asked.ephemeral is not None, asked
        match = re.search(r"#(\d+)", asked.ephemeral.text)
        assert match, asked.ephemeral.text
        request_id = int(match.group(1))

        # -- crash -----------------------------------------------------------------------
        if point.name in ("before_card", "after_card_posted"):
            assert await first.died() == -signal.SIGKILL
            posted = 1 if point.name == "after_card_posted" else 0
            assert len(cards(slack, request_id)) == posted
        else:
            await wait_until(lambda: bool(cards(slack, request_id)), what="the card")
            if point.name == "after_card":
                await stored_card(store, request_id)  # posted *and* recorded, then killed
                await first.kill9()
            elif point.name == "during_api":
                with emulator.hold("%2B") as held:  # the unlink, not the reads before it
                    await approve(slack, request_id)
                    await wait_until(lambda: held.waiting >= 1, what="the held API call")
                    await first.kill9()
                # released: the emulator applies the call the dead bot can no longer hear
                await wait_until(
                    lambda: emulator.effective[("unlink", APP, NUMBER)] == 1,
                    what="the held call to apply",
                )
            else:
                await approve(slack, request_id)
                assert await first.died() == -signal.SIGKILL
        assert first.proc.returncode == -signal.SIGKILL
        lapsed = asyncio.get_running_loop().time() + LEASE  # every lease the dead one held
        crashed = await store.get(request_id)
        assert crashed is not None
        print(
            f"\n{point.name}: at the crash the request was {crashed.status.value}, "
            f"card {'posted' if crashed.card_ts else 'not posted'}, "
            f"{len(cards(slack, request_id))} card(s) in Slack, buttons "
            f"{cards(slack, request_id)[0].action_ids() if cards(slack, request_id) else '-'}, "
            f"effective API calls {emulator.effective[('unlink', APP, NUMBER)]}"
        )

        # -- restart on the same database ------------------------------------------------
        # Taken before the restart: its start-up sweep may post the replacement card (the
        # dead bot's lease has lapsed) before or after /healthz first answers.
        before_restart = cards(slack, request_id)
        second = await start_bot_process("second", env, tmp_path)
        await second.ready()
        slack.configure(second.url, SLACK_SIGNING_SECRET)
        if point.name == "after_card_posted":
            (orphan,) = before_restart
            assert await stored_card(store, request_id) != orphan.ts
            await approve(slack, request_id, orphan.ts)
        elif point.name in ("before_card", "after_card"):
            await approve(slack, request_id, await stored_card(store, request_id))
        await wait_until(
            lambda: told_everything(slack, request_id), timeout=20, what="Slack to be told"
        )
        await stored_notice(store, request_id)
        await swept([second], after=lapsed)  # room for a duplicate to show up, were one coming

        # -- the request, the API, and Slack -----------------------------------------------
        done = await store.get(request_id)
        assert done is not None
        assert done.status is Status.SUCCEEDED
        assert [t.outcome for t in done.targets] == [point.outcome]
        assert emulator.effective[("unlink", APP, NUMBER)] == 1
        calls = [c for c in emulator.calls if NUMBER.replace("+", "%2B") in c.raw_path]
        assert len(calls) == point.api_calls, calls
        kinds = [e.kind for e in await store.events(request_id)]
        assert kinds.count("succeeded") == 1
        assert kinds.count("announced") == 1
        assert kinds.count("card_posted") == 1
        kept = [p.purpose.value for p in await store.previews(request_id)]
        assert kept.count("before_execution") == 1, kept  # one pre-image, read before any call

        shown = cards(slack, request_id)
        if point.name == "after_card_posted":
            retired = [c for c in shown if c.ts != done.card_ts]
            assert [c.action_ids() for c in retired] == [[]]
            assert "posted twice" in str(retired[0].blocks)
            shown = [c for c in shown if c.ts == done.card_ts]
        assert len(shown) == 1, [(c.ts, c.action_ids()) for c in shown]
        (card,) = shown
        assert card.action_ids() in ([], ["sfvopi_undo"])
        assert "Done" in str(card.blocks)
        (details,) = slack.thread(APPROVALS, card.ts)
        assert NUMBER in details.text
        (notice,) = notices(slack, "U0ALICE")
        assert f"#{request_id}" in notice and "succeeded" in notice
        (line,) = outcome_lines(slack, request_id)
        assert "succeeded" in line
        print(
            f"{point.name}: recovered to {done.status.value}, target {done.targets[0].outcome}, "
            f"executions {done.executions}, API calls {len(calls)} (effective 1), "
            f"{time.monotonic() - started:.1f} s"
        )
    finally:
        await first.kill9()
        if second is not None:
            await second.stop()
        await store.close()
