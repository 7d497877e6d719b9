"""A worker that dies mid-execution is finished later by another, honestly and only once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.core.models import Outcome, Status, Target
from bot.core.org import OrgDirectory
from bot.core.workflow import Workflow
from bot.sandbox.emulator import Emulator
from bot.sfvopi import SfvopiClient
from bot.store import Store
from tests.support.database import StoreFactory
from tests.support.orgs import write_orgs

NUMBER = Target("sfv_app_abc123xyz456", "+918000000001")


async def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def test_a_worker_killed_during_the_api_call_is_recovered_on_next_start(
    store_factory: StoreFactory,
    orgs: OrgDirectory,
    orgs_yaml: str,
    org_env: dict[str, str],
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    store = await store_factory.open()
    async with SfvopiClient(emulator.base_url, backoff=0.001) as client:
        workflow = Workflow(store, orgs, client, lease_seconds=1.0)
        request = await workflow.request(
            requester="U0ALICE", action="unlink", targets=[NUMBER], reason="INC-1"
        )
        held = emulator.hold("%2B")  # the unlink, not the preview's reads before it
        schema = store_factory.schema if store_factory.kind == "postgres" else ""
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.crash_worker",
            store_factory.url,
            schema,
            emulator.base_url,
            str(write_orgs(tmp_path, orgs_yaml)),
            str(request.id),
            env={**os.environ, **org_env},
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            await wait_until(lambda: held.waiting >= 1)
        finally:
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
        held.release()
        await wait_until(lambda: emulator.effective[("unlink", NUMBER.app_id, NUMBER.number)])

        stuck = await workflow.status(request.id, user="U0ALICE")
        assert stuck.status is Status.EXECUTING
        await asyncio.sleep(1.1)
        recovered = await workflow.recover()
        assert [r.id for r in recovered] == [request.id]
        final = recovered[0]
        assert final.status is Status.SUCCEEDED
        assert final.targets[0].outcome is Outcome.ALREADY_ABSENT
        assert final.targets[0].message == "Number not linked to this app"
        assert emulator.effective[("unlink", NUMBER.app_id, NUMBER.number)] == 1
        assert await workflow.recover() == []


async def test_a_claim_never_sent_is_run_normally_after_the_lease(
    store: Store, orgs: OrgDirectory, emulator: Emulator
) -> None:
    async with SfvopiClient(emulator.base_url, backoff=0.001) as client:
        dead = Workflow(store, orgs, client, lease_seconds=0.2)
        request = await dead.request(
            requester="U0ALICE",
            action="unlink",
            targets=[NUMBER, Target("sfv_app_abc123xyz456", "+918000000009")],
            reason="INC-2",
        )
        claimed = await dead.add_approval(request.id, approver="U0BOB")
        assert claimed.claim is not None

        live = Workflow(store, orgs, client, lease_seconds=0.2)
        assert await live.recover() == []
        await asyncio.sleep(0.25)
        (final,) = await live.recover()
        assert final.status is Status.FAILED
        outcomes = [(t.outcome, t.message) for t in final.targets]
        assert outcomes == [
            (Outcome.DONE, "success"),
            (Outcome.FAILED, "Number not linked to this app"),
        ]
        assert final.executions == 2


async def test_a_slow_call_keeps_its_lease_alive(
    store: Store, orgs: OrgDirectory, emulator: Emulator
) -> None:
    async with SfvopiClient(emulator.base_url, backoff=0.001) as client:
        busy = Workflow(store, orgs, client, lease_seconds=0.3)
        other = Workflow(store, orgs, client, lease_seconds=0.3)
        request = await busy.request(
            requester="U0ALICE", action="unlink", targets=[NUMBER], reason="INC-3"
        )
        emulator.latency = 1.0
        running = asyncio.create_task(busy.approve(request.id, approver="U0BOB"))
        await asyncio.sleep(0.7)
        assert await other.recover() == []
        final = await running
        assert final.status is Status.SUCCEEDED
        assert final.executions == 1
        emulator.latency = 0


@pytest.mark.parametrize("kind", ["requested"])
async def test_events_survive_a_reopened_store(
    store_factory: StoreFactory, orgs: OrgDirectory, emulator: Emulator, kind: str
) -> None:
    first = await store_factory.open()
    async with SfvopiClient(emulator.base_url) as client:
        request = await Workflow(first, orgs, client).request(
            requester="U0ALICE", action="unlink", targets=[NUMBER], reason="r"
        )
    await first.close()
    reopened = await store_factory.open()
    assert [e.kind for e in await reopened.events(request.id)] == [kind]
    assert (await reopened.get(request.id)) == request
