"""Two replicas of the real bot on one PostgreSQL, clicked at the same time: every request once.

Two `sfvopi-bot serve` processes share a fresh PostgreSQL database, as replicas behind a load
balancer would. Commands arrive at either; every approval card is approved by three approvers
(each submitting the form an Approve click opens) on both replicas at once (the same request,
the same instant, two processes); some requests
race a Deny against the approvals; some are left to expire, which both replicas' sweepers
(every 0.5 s) try to do at once. Then: every request executed at most once and every target
at most once at the API (the emulator counts effective calls), every card final with no
buttons, each outcome line and each requester notice posted exactly once, one `expired`
event per expired request.

Requests left to expire are filed through the store with an expiry three seconds away (the
org file's smallest ttl is one minute): their cards are posted by the replicas' outboxes, not
by a command, which exercises the sweeper's card posting on both replicas too.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.core.models import Action, NewRequest, Request, Status, Target
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import Message, SlackStandin
from tests.support.emulator import ACME_KEY
from tests.support.processes import bot_env, swept, wait_until
from tests.support.replicas import APPROVALS, click_at, file_command, serving, shown, submit_at
from tests.support.slack import SLACK_SIGNING_SECRET

OUTCOMES = "C0OPSLOG"
APPROVERS = ("U0BOB", "U0CAROL", "U0DAVE")  # U0DAVE is an admin, so an approver too
UNLINKS = 24  # one approval each
DELETES = 20  # two approvals each, two apps each
EXPIRING = 6
DENY_EVERY = 6  # every sixth request races a Deny against its approvals
WAVE = 6  # requests clicked at once (each with 6 clicks on two replicas)
LEASE = 2.0
QUICK_SWEEPS = {"SFVOPI_LEASE_SECONDS": str(LEASE), "SFVOPI_SWEEP_INTERVAL_SECONDS": "0.2"}


@dataclass
class Filed:
    request_id: int
    action: Action
    targets: list[Target]
    deny_race: bool = False
    expiring: bool = False


def effect(action: Action, target: Target) -> tuple[str, str, str | None]:
    return (action.value, target.app_id, target.number)


def card_of(slack: SlackStandin, request_id: int) -> list[Message]:
    pattern = re.compile(rf"request #{request_id}\b")
    return [m for m in slack.messages(APPROVALS) if pattern.search(m.text)]


def mentions(texts: list[str], request_id: int) -> int:
    pattern = re.compile(rf"#{request_id}\b")
    return sum(1 for text in texts if pattern.search(text))


async def test_two_replicas_execute_every_request_once(
    replica_database: str,
    slack: SlackStandin,
    emulator: Emulator,
    orgs_yaml: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        replica_database,
        orgs_yaml,
        SFVOPI_LEASE_SECONDS=str(LEASE),
        SFVOPI_SWEEP_INTERVAL_SECONDS="0.5",
    )
    async with serving(replica_database, env, tmp_path) as (replicas, store):
        slack.configure(replicas[0].url, SLACK_SIGNING_SECRET)

        # -- file requests: commands to either replica, and a few that will expire ----------
        filed: list[Filed] = []
        for i in range(UNLINKS + DELETES):
            if i < UNLINKS:
                app, number = f"sfv_app_relu{i:03d}", f"+9180001{i:05d}"
                emulator.add_app(ACME_KEY, app, [number, f"+9180002{i:05d}"])
                targets = [Target(app, number)]
                text = f"unlink {number} {app} replica test {i}"
                action = Action.UNLINK
            else:
                targets = [Target(f"sfv_app_reld{i:03d}{s}") for s in "ab"]
                for t in targets:
                    emulator.add_app(ACME_KEY, t.app_id, [])
                text = f"delete {' '.join(t.app_id for t in targets)} replica test {i}"
                action = Action.DELETE
            request_id = await file_command(slack, replicas[i % 2], text)
            filed.append(Filed(request_id, action, targets, deny_race=i % DENY_EVERY == 0))
        for i in range(EXPIRING):
            app, number = f"sfv_app_relx{i:03d}", f"+9180003{i:05d}"
            emulator.add_app(ACME_KEY, app, [number])
            now = time.time()
            request, created = await store.create_request(
                NewRequest(
                    org="acme",
                    action=Action.UNLINK,
                    requester="U0ALICE",
                    reason=f"left to expire {i}",
                    targets=[Target(app, number)],
                    now=now,
                    expires_at=now + 3,
                ),
                approvals_needed=1,
            )
            assert created
            filed.append(Filed(request.id, Action.UNLINK, [Target(app, number)], expiring=True))
        await wait_until(
            lambda: all(card_of(slack, f.request_id) for f in filed),
            timeout=20,
            what="every card (expiring ones from the replicas' outboxes)",
        )

        # -- click: three approvers on both replicas at once, request by request -----------
        acks: Counter[tuple[str, int]] = Counter()
        approval_clicks = 0
        clicked = [f for f in filed if not f.expiring]
        async with aiohttp.ClientSession() as http:

            async def hammer(f: Filed) -> None:
                nonlocal approval_clicks
                clicks = []
                for user in APPROVERS:
                    denies = f.deny_race and user == "U0DAVE"
                    action_id = "sfvopi_deny" if denies else "sfvopi_approve"
                    approval_clicks += 0 if denies else 2
                    for replica in replicas:
                        clicks.append((replica, user, action_id))
                seen = await shown(store, f.request_id)
                statuses = await asyncio.gather(
                    *(
                        submit_at(http, slack, r, u, f.request_id, a, seen=seen)
                        for r, u, a in clicks
                    )
                )
                for (replica, _, _), status in zip(clicks, statuses, strict=True):
                    acks[(replica.name, status)] += 1

            for start in range(0, len(clicked), WAVE):
                await asyncio.gather(*(hammer(f) for f in clicked[start : start + WAVE]))

            # the expiring ones: wait for both sweepers to race over them, then click anyway
            expiring = [f for f in filed if f.expiring]

            async def all_expired() -> bool:
                got = [await store.get(f.request_id) for f in expiring]
                return all(r is not None and r.status is Status.EXPIRED for r in got)

            # liveness, not speed: a sweep on a loaded 2-core machine also runs recoveries and
            # Slack updates, so the bound is generous
            deadline = time.monotonic() + 60
            while not await all_expired():
                assert time.monotonic() < deadline, "the sweepers never expired the requests"
                await asyncio.sleep(0.1)
            for f in expiring:
                card = copy.deepcopy(card_of(slack, f.request_id)[0])
                if card.action_ids():  # a stale card: click it on both replicas
                    for replica in replicas:
                        status = await click_at(
                            http, slack, replica, "U0BOB", card, "sfvopi_approve"
                        )
                        acks[(replica.name, status)] += 1
                        approval_clicks += 1
        clicked_at = time.monotonic()

        # -- everything told ----------------------------------------------------------------
        async def loaded() -> list[Request]:
            got = [await store.get(f.request_id) for f in filed]
            assert all(r is not None for r in got)
            return [r for r in got if r is not None]

        deadline = time.monotonic() + 30
        while not all(r.notified_at is not None for r in await loaded()):
            assert time.monotonic() < deadline, [
                (r.id, r.status.value) for r in await loaded() if r.notified_at is None
            ]
            await asyncio.sleep(0.1)
        told_at = time.monotonic()
        # room for a duplicate to show up, were one coming: past every lease taken so far
        await swept(replicas, after=asyncio.get_running_loop().time() + LEASE, passes=2)
        for replica in replicas:
            assert replica.proc.returncode is None, replica.output()

        # -- the checks ---------------------------------------------------------------------
        assert set(acks) <= {(r.name, 200) for r in replicas}, acks
        per_replica = {r.name: acks[(r.name, 200)] for r in replicas}
        assert min(per_replica.values()) >= 100, per_replica
        assert approval_clicks >= 200

        outcome_lines = [m.text for m in slack.messages(OUTCOMES)]
        alice = [m.text for m in slack.dms("U0ALICE")]
        executed = denied = expired = takeovers = 0
        for f, request in zip(filed, await loaded(), strict=True):
            kinds = Counter(e.kind for e in await store.events(request.id))
            where = f"request #{request.id} ({request.status.value}): {dict(kinds)}"
            if f.expiring:
                assert request.status is Status.EXPIRED, where
                assert kinds["expired"] == 1, where
                assert not request.approvals, where
                expired += 1
            elif request.status is Status.DENIED:
                assert f.deny_race, where
                assert kinds["denied"] == 1 and kinds["claimed"] == 0, where
                denied += 1
            else:
                assert request.status is Status.SUCCEEDED, where
                # one claim; a takeover only if the live worker's lease lapsed under load
                assert kinds["claimed"] == 1, where
                assert request.executions == 1 + kinds["reclaimed"], where
                takeovers += kinds["reclaimed"]
                assert kinds["succeeded"] == 1, where
                assert len(request.approvals) == request.approvals_needed, where
                executed += 1
            ran = request.status is Status.SUCCEEDED
            for target in f.targets:
                assert emulator.effective[effect(f.action, target)] == int(ran), (where, target)
            assert kinds["card_posted"] == 1, where
            assert kinds["announced"] == 1, where
            (card,) = card_of(slack, request.id)
            assert card.action_ids() in ([], ["sfvopi_undo"]), where
            assert mentions(outcome_lines, request.id) == 1, where
            assert mentions(alice, request.id) == 1, where
        assert max(emulator.effective.values()) == 1
        assert sum(emulator.effective.values()) == sum(
            len(f.targets)
            for f, r in zip(filed, await loaded(), strict=True)
            if r.status is Status.SUCCEEDED
        )
        assert len(outcome_lines) == len(filed)
        assert executed >= 30 and expired == EXPIRING

        for replica in replicas if takeovers else []:
            seen = replica.log.read_text(encoding="utf-8", errors="replace").splitlines()
            for line in [x for x in seen if "taking over" in x or "LostClaim" in x][:4]:
                print(f"\n{replica.name}: {line[:160]}", end="")
        print(
            f"\nreplicas: {len(filed)} requests ({UNLINKS} unlink, {DELETES} delete x2 apps, "
            f"{EXPIRING} expiring), {approval_clicks} approval clicks "
            f"+ {sum(acks.values()) - approval_clicks} deny clicks, acks per replica "
            f"{per_replica}; {executed} executed, {denied} denied, {expired} expired, "
            f"{takeovers} lease takeovers; "
            f"{sum(emulator.effective.values())} effective API calls, "
            f"{len(emulator.calls)} API calls; clicks done at "
            f"{clicked_at - started:.1f} s, all told at {told_at - started:.1f} s"
        )


async def test_two_survivors_finish_a_dead_replicas_work_once(
    replica_database: str,
    slack: SlackStandin,
    emulator: Emulator,
    orgs_yaml: str,
    tmp_path: Path,
) -> None:
    """Replica A dies (kill -9) with ten calls in flight; B and C race to take each over."""
    started = time.monotonic()
    env = bot_env(tmp_path, slack, emulator, replica_database, orgs_yaml, **QUICK_SWEEPS)
    async with serving(replica_database, env, tmp_path, "abc") as (replicas, store):
        victim, *survivors = replicas
        filed: list[Filed] = []
        for i in range(10):
            app, number = f"sfv_app_relk{i:03d}", f"+9180004{i:05d}"
            emulator.add_app(ACME_KEY, app, [number])
            text = f"unlink {number} {app} replica crash test {i}"
            request_id = await file_command(slack, victim, text)
            filed.append(Filed(request_id, Action.UNLINK, [Target(app, number)]))
        await wait_until(
            lambda: all(card_of(slack, f.request_id) for f in filed), what="every card"
        )
        for f in filed:  # and recorded: a kill between the two would post a second card
            for _ in range(100):
                request = await store.get(f.request_id)
                if request is not None and request.card_ts is not None:
                    break
                await asyncio.sleep(0.05)
        with emulator.hold("%2B") as held:  # the unlinks, not the reads before them
            async with aiohttp.ClientSession() as http:
                for f in filed:
                    card = copy.deepcopy(card_of(slack, f.request_id)[0])
                    seen = await shown(store, f.request_id)
                    approved = submit_at(
                        http, slack, victim, "U0BOB", f.request_id, "sfvopi_approve", seen=seen
                    )
                    assert await approved == 200
            await wait_until(lambda: held.waiting == len(filed), what="ten held calls")
            await victim.kill9()
            lapsed = asyncio.get_running_loop().time() + LEASE  # every lease the victim held
        # released: the dead replica's calls now take effect, unheard
        await wait_until(lambda: sum(emulator.effective.values()) == len(filed), what="effects")

        deadline = time.monotonic() + 20
        while True:
            got = [await store.get(f.request_id) for f in filed]
            if all(r is not None and r.notified_at is not None for r in got):
                break
            assert time.monotonic() < deadline, [(r.id, r.status) for r in got if r]
            await asyncio.sleep(0.1)
        told_at = time.monotonic()
        await swept(survivors, after=lapsed)  # room for a duplicate to show up, were one coming

        outcome_lines = [m.text for m in slack.messages(OUTCOMES)]
        alice = [m.text for m in slack.dms("U0ALICE")]
        reclaimers: Counter[str] = Counter()
        for f in filed:
            request = await store.get(f.request_id)
            assert request is not None
            events = await store.events(request.id)
            kinds = Counter(e.kind for e in events)
            where = f"request #{request.id} ({request.status.value}): {dict(kinds)}"
            assert request.status is Status.SUCCEEDED, where
            assert kinds["claimed"] == 1 and kinds["reclaimed"] == 1, where
            assert request.executions == 2, where
            assert kinds["succeeded"] == 1 and kinds["announced"] == 1, where
            assert [t.message for t in request.targets] == ["Number not linked to this app"]
            assert emulator.effective[effect(f.action, f.targets[0])] == 1, where
            (card,) = card_of(slack, request.id)
            assert card.action_ids() in ([], ["sfvopi_undo"]) and "Done" in str(card.blocks), where
            assert mentions(outcome_lines, request.id) == 1, where
            assert mentions(alice, request.id) == 1, where
            reclaimers[str(request.decided_by)] += 1
        assert len([c for c in emulator.calls if c.method == "DELETE"]) == 2 * len(filed)
        # one pre-image each, kept by the dead replica before its call: never read again
        for f in filed:
            kept = [p.purpose.value for p in await store.previews(f.request_id)]
            assert kept.count("before_execution") == 1, (f.request_id, kept)
        for survivor in survivors:
            assert survivor.proc.returncode is None, survivor.output()
        print(
            f"\nreplica crash: {len(filed)} calls in flight at kill -9; both survivors swept; "
            f"{len(filed)} reclaimed once each, {len(emulator.calls)} API calls, "
            f"{sum(emulator.effective.values())} effective; all told at "
            f"{told_at - started:.1f} s"
        )


async def test_two_replicas_check_a_drift_once_and_run_nothing(
    replica_database: str,
    slack: SlackStandin,
    emulator: Emulator,
    orgs_yaml: str,
    tmp_path: Path,
) -> None:
    """A delete approved on both replicas at once after a number was linked to its app behind
    the bot's back: one claim, one read, one drift, back to pending, nothing deleted."""
    env = bot_env(tmp_path, slack, emulator, replica_database, orgs_yaml, **QUICK_SWEEPS)
    app, new = "sfv_app_drift0000001", "+918000599999"
    async with serving(replica_database, env, tmp_path) as (replicas, store):
        emulator.add_app(ACME_KEY, app, ["+918000500001", "+918000500002"])
        emulator.add_numbers(ACME_KEY, [new])
        request_id = await file_command(slack, replicas[0], f"delete {app} drift test")

        async def previewed() -> bool:
            return bool(await store.previews(request_id))

        for _ in range(200):
            request = await store.get(request_id)
            if request is not None and request.card_ts and await previewed():
                break
            await asyncio.sleep(0.05)
        await wait_until(lambda: "unlinks these 2" in str(card_of(slack, request_id)[0].blocks))
        card = card_of(slack, request_id)[0]
        async with aiohttp.ClientSession() as http:
            seen = await shown(store, request_id)
            carol = await submit_at(
                http, slack, replicas[0], "U0CAROL", request_id, "approve", seen=seen
            )
            assert carol == 200
            emulator.link_behind("acme", app, new)
            clicks = await asyncio.gather(  # Bob's form, submitted to both replicas at once
                *(
                    submit_at(http, slack, r, "U0BOB", request_id, "approve", seen=seen)
                    for r in replicas
                )
            )
        assert clicks == [200, 200]
        for _ in range(200):
            kinds = [e.kind for e in await store.events(request_id)]
            if "drifted" in kinds:
                break
            await asyncio.sleep(0.05)
        await wait_until(lambda: "did not run" in str(slack.thread(APPROVALS, card.ts)))
        await asyncio.sleep(2 * LEASE)  # both sweepers pass: nothing else may happen

        request = await store.get(request_id)
        assert request is not None and request.status is Status.PENDING
        counted = Counter(e.kind for e in await store.events(request_id))
        assert counted["claimed"] == 1 and counted["drifted"] == 1, counted
        assert counted["reclaimed"] == 0, counted
        kept = [p.purpose.value for p in await store.previews(request_id)]
        assert kept == ["filed", "rebound"], kept
        assert emulator.has_app(ACME_KEY, app)
        assert not [c for c in emulator.calls if c.method == "DELETE"]
        lines = [m.text for m in slack.thread(APPROVALS, card.ts) if "did not run" in m.text]
        assert len(lines) == 1 and f"{new} is now linked to {app}" in lines[0]
        assert "unlinks these 3 numbers" in str(card_of(slack, request_id)[0].blocks)
