"""An approval bound to what was seen, through the workflow's Python API: the preview read
after filing (or by the sweep), read again before the first run and kept as the pre-image;
changed since approved, the request is pending again and the old approvals no longer count.
The store is the in-memory one; SFVoPI is the real emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine

from bot.config.orgfile import parse_orgs
from bot.core.deliveries import Kind
from bot.core.models import Status
from bot.core.preview import DRIFTED, PREVIEWED, Purpose
from bot.core.workflow import Workflow
from bot.core.workflow.binding import SWEEP_GRACE
from bot.core.workflow.shared import PREVIEWS_AT_ONCE
from bot.sandbox.emulator import ApiFault, Emulator
from tests.support.drift import APP, KEY, NEW, THREE
from tests.support.drift import file_delete as _delete
from tests.support.memory_store import MemoryStore
from tests.support.orgs import ORGS_YAML
from tests.support.workflow import Clock


async def test_the_sweep_reads_a_filed_request_never_previewed(
    workflow: Workflow, emulator: Emulator, memory_store: MemoryStore, clock: Clock
) -> None:
    request_id = await _delete(workflow, emulator)
    await workflow.binding.sweep()
    assert await memory_store.previews(request_id) == []  # its own read after the ack may come
    clock.now += SWEEP_GRACE + 1
    await workflow.binding.sweep()
    (stored,) = await memory_store.previews(request_id)
    assert stored.purpose is Purpose.FILED
    (app,) = stored.preview.apps
    assert (app.found, app.numbers) == (True, THREE)
    await workflow.binding.sweep()  # read once
    assert len(await memory_store.previews(request_id)) == 1


async def test_changed_after_approval_it_waits_for_approval_again(
    workflow: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    request_id = await _delete(workflow, emulator)
    filed = await workflow.binding.read_filed(request_id)
    assert filed is not None
    await workflow.add_approval(request_id, approver="U0BOB")
    emulator.link_behind("acme", APP, NEW)

    back = await workflow.approve(request_id, approver="U0CAROL")

    assert back.status is Status.PENDING
    assert back.approvals == ()  # given on the old preview: they no longer count
    assert emulator.has_app(KEY, APP)  # not run
    events = await memory_store.events(request_id)
    (drifted,) = [e for e in events if e.kind == DRIFTED]
    assert drifted.detail["old_fingerprint"] == filed.fingerprint
    assert drifted.detail["changes"] == [f"{NEW} is now linked to {APP}"]
    rebound = await memory_store.latest_preview(request_id)
    assert rebound is not None and rebound.purpose is Purpose.REBOUND
    assert drifted.detail["new_fingerprint"] == rebound.fingerprint
    assert (request_id, Kind.DRIFT_TOLD, f"thread#{rebound.seq}") in memory_store.owed
    assert [e.kind for e in events].count("approved") == 2  # the log keeps the history

    await workflow.add_approval(request_id, approver="U0BOB")
    done = await workflow.approve(request_id, approver="U0CAROL")
    assert done.status is Status.SUCCEEDED
    assert not emulator.has_app(KEY, APP)
    pre_image = await memory_store.latest_preview(request_id, Purpose.BEFORE_EXECUTION)
    assert pre_image is not None
    assert pre_image.preview.pre_images()[0].numbers == tuple(sorted((*THREE, NEW)))


async def test_rebind_on_change_false_runs_what_changed(
    make_workflow: Callable[..., Workflow],
    org_env: dict[str, str],
    emulator: Emulator,
    memory_store: MemoryStore,
) -> None:
    yaml = ORGS_YAML.replace(
        "delete: {approvals: 2}", "delete: {approvals: 2, rebind_on_change: false}", 1
    )
    workflow = make_workflow(parse_orgs(yaml, org_env))
    request_id = await _delete(workflow, emulator)
    await workflow.binding.read_filed(request_id)
    await workflow.add_approval(request_id, approver="U0BOB")
    emulator.link_behind("acme", APP, NEW)
    done = await workflow.approve(request_id, approver="U0CAROL")
    assert done.status is Status.SUCCEEDED
    assert not emulator.has_app(KEY, APP)
    kinds = [e.kind for e in await memory_store.events(request_id)]
    assert DRIFTED not in kinds
    pre_image = await memory_store.latest_preview(request_id)
    assert pre_image is not None and pre_image.purpose is Purpose.BEFORE_EXECUTION
    assert NEW in pre_image.preview.apps[0].numbers  # what it really deleted, for undo


async def test_sfvopi_down_before_running_runs_without_a_pre_image(
    workflow: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    request_id = await _delete(workflow, emulator)
    await workflow.binding.read_filed(request_id)
    await workflow.add_approval(request_id, approver="U0BOB")
    emulator.script(*[ApiFault.SERVER_ERROR] * 3, match=f"/apps/{APP}")  # the read's 3 tries
    done = await workflow.approve(request_id, approver="U0CAROL")
    assert done.status is Status.SUCCEEDED  # an incident is not blocked
    pre_image = await memory_store.latest_preview(request_id)
    assert pre_image is not None and pre_image.purpose is Purpose.BEFORE_EXECUTION
    assert pre_image.preview.unreadable is not None
    assert pre_image.preview.pre_images() == ()  # nothing to undo from


async def test_a_run_taken_over_after_its_pre_image_keeps_it(
    workflow: Workflow, emulator: Emulator, memory_store: MemoryStore, clock: Clock
) -> None:
    """The worker died right after keeping the pre-image: recovery neither reads again (what
    it read then is what it deletes) nor sends the request back; it runs once."""
    request_id = await _delete(workflow, emulator)
    await workflow.binding.read_filed(request_id)
    await workflow.add_approval(request_id, approver="U0BOB")
    result = await workflow.add_approval(request_id, approver="U0CAROL")
    assert result.claim is not None
    org = workflow.orgs.get("acme")
    assert await workflow.binding.before_run(result.request, result.claim, org) is None
    emulator.link_behind("acme", APP, NEW)  # after the pre-image: not what was approved either
    clock.now += 61  # the dead worker's lease lapses
    (done,) = await workflow.recover()
    assert done.status is Status.SUCCEEDED
    previews = await memory_store.previews(request_id)
    assert [p.purpose for p in previews] == [Purpose.FILED, Purpose.BEFORE_EXECUTION]
    assert emulator.effective[("delete", APP, None)] == 1


async def test_approved_on_an_unreadable_preview_is_asked_again_once_readable(
    workflow: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    emulator.script(*[ApiFault.SERVER_ERROR] * 3, match=f"/apps/{APP}")
    request_id = await _delete(workflow, emulator)
    filed = await workflow.binding.read_filed(request_id)
    assert filed is not None and filed.preview.unreadable is not None
    await workflow.add_approval(request_id, approver="U0BOB")
    back = await workflow.approve(request_id, approver="U0CAROL")
    assert back.status is Status.PENDING
    (drifted,) = [e for e in await memory_store.events(request_id) if e.kind == DRIFTED]
    assert "SFVoPI can be read now" in str(drifted.detail["changes"])
    kinds = [e.kind for e in await memory_store.events(request_id)]
    assert kinds.count(PREVIEWED) == 2


async def test_a_burst_of_filings_reads_its_previews_a_few_at_a_time(
    workflow: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    """The reads after filing run after the acks, but take CPU and the database's one writer
    from the acks still to come: a burst's previews are read PREVIEWS_AT_ONCE at a time."""
    requests = [
        await workflow.file(
            requester="U0ALICE",
            action="delete",
            targets=[f"sfv_app_burst{i:04d}"],
            reason="decommission, INC-9",
        )
        for i in range(3 * PREVIEWS_AT_ONCE)
    ]
    started: list[asyncio.Task[object]] = []

    def spawn(work: Coroutine[object, object, object], *, name: str) -> None:
        started.append(asyncio.create_task(work, name=name))

    with emulator.hold("/sfvopi/apps/") as held:
        for filed in requests:
            workflow.binding.after_filing(filed.request, spawn)
        await held.wait_arrived()
        await asyncio.sleep(0.3)  # time enough for every read to reach SFVoPI, were it let
        assert held.waiting == PREVIEWS_AT_ONCE
    await asyncio.wait_for(asyncio.gather(*started), 10)
    for filed in requests:
        assert len(await memory_store.previews(filed.request.id)) == 1
