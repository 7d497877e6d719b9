"""Change windows, freezes and `--at` where the workflow decides (Python API, a clock the test
moves, the in-memory store, the real emulator): an approval outside the window holds the
request (scheduled, nothing called), the sweep runs it once when due, one not run before its
window closes expires; a freeze holds all but break-glass; `--at` is checked at filing; a
reloaded org file decides again; an org file without windows runs at once, as ever."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.config.orgfile import parse_orgs
from bot.core.models import Status, Target
from bot.core.org import OrgDirectory
from bot.core.workflow import Workflow
from bot.errors import InvalidRequest, NeverOpens
from bot.sandbox.emulator import Emulator
from tests.support.memory_store import MemoryStore
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.workflow import UNLINK, Clock

# the test clock starts on Friday 2027-01-15 at 08:00 UTC
HOUR = 3600.0
WINDOW = 'windows: [{days: mon-sun, from: "10:00", to: "11:00", tz: UTC}]'
FREEZE = "freezes: [{name: release, from: '2027-01-15 07:00', to: '2027-01-15 09:00', tz: UTC}]"
APP = "sfv_app_abc123xyz456"


def orgs(unlink: str = WINDOW, delete: str = FREEZE) -> OrgDirectory:
    text = ORGS_YAML.replace(
        "      unlink: {approvals: 1}\n      delete: {approvals: 2}\n",
        f"      unlink: {{approvals: 1, {unlink}}}\n      delete: {{approvals: 1, {delete}}}\n"
        "      schedule_within_hours: 24\n"
        "      break_glass: {roles: [requester], require_incident: false}\n",
        1,
    )
    return parse_orgs(text, ORG_ENV)


@pytest.fixture
def windowed(make_workflow: Callable[..., Workflow]) -> Workflow:
    return make_workflow(orgs())


async def unlink(workflow: Workflow, **kw: object) -> int:
    request = await workflow.request(
        requester="U0ALICE",
        action="unlink",
        targets=UNLINK,
        reason="fraud, INC-4411",
        **kw,  # type: ignore[arg-type]
    )
    return request.id


def calls(emulator: Emulator) -> int:
    return sum(emulator.effective.values())


async def test_approved_outside_its_window_it_waits_then_runs_once_when_it_opens(
    windowed: Workflow, memory_store: MemoryStore, clock: Clock, emulator: Emulator
) -> None:
    request_id = await unlink(windowed)
    held = await windowed.approve(request_id, approver="U0BOB")
    assert held.status is Status.SCHEDULED
    assert (held.run_at, held.run_until) == (clock.now + 2 * HOUR, clock.now + 3 * HOUR)
    assert held.decision_note == "runs at 10:00 UTC (window every day 10:00-11:00 UTC)"
    assert calls(emulator) == 0
    kinds = [e.kind for e in await memory_store.events(request_id)]
    assert kinds[-2:] == ["approved", "scheduled"] and "claimed" not in kinds
    clock.now += 2 * HOUR - 1  # a second before it opens: still waiting
    await windowed.sweep()
    assert (await windowed.status(request_id, user="U0ALICE")).status is Status.SCHEDULED
    clock.now += 1
    await windowed.sweep()
    await windowed.sweep()  # a second sweep (another replica's) finds nothing to run
    done = await windowed.status(request_id, user="U0ALICE")
    assert (done.status, done.executions, calls(emulator)) == (Status.SUCCEEDED, 1, 1)


async def test_not_run_before_its_window_closes_it_expires_saying_why(
    windowed: Workflow, clock: Clock, emulator: Emulator
) -> None:
    request_id = await unlink(windowed)
    await windowed.approve(request_id, approver="U0BOB")
    clock.now += 3 * HOUR  # every replica was down through the window
    await windowed.sweep()
    expired = await windowed.status(request_id, user="U0ALICE")
    assert expired.status is Status.EXPIRED and calls(emulator) == 0
    assert "was not run before" in (expired.decision_note or "")
    assert "file it again" in (expired.decision_note or "")


async def test_inside_its_window_it_runs_at_once(
    windowed: Workflow, clock: Clock, emulator: Emulator
) -> None:
    clock.now += 2.5 * HOUR
    request_id = await unlink(windowed)
    ran = await windowed.approve(request_id, approver="U0BOB")
    assert ran.status is Status.SUCCEEDED and calls(emulator) == 1


async def test_a_freeze_holds_all_but_break_glass_until_it_ends(
    windowed: Workflow, clock: Clock, emulator: Emulator
) -> None:
    filed = await windowed.request(
        requester="U0ALICE", action="delete", targets=[APP], reason="decommission CHG-1"
    )
    held = await windowed.approve(filed.id, approver="U0BOB")
    assert held.status is Status.SCHEDULED and held.run_at == clock.now + HOUR
    assert held.decision_note == "runs at 09:00 UTC (after the freeze 'release')"
    glass = await windowed.request(
        requester="U0ALICE",
        action="delete",
        targets=["sfv_app_def789ghi012"],
        reason="incident INC-9",
        break_glass="",
    )
    assert glass.status is Status.SUCCEEDED  # break-glass ignores the freeze
    clock.now += HOUR
    await windowed.sweep()
    done = await windowed.status(filed.id, user="U0ALICE")
    assert done.status is Status.SUCCEEDED and done.executions == 1


async def test_at_holds_it_until_the_time_asked_then_the_first_open_moment(
    windowed: Workflow, clock: Clock
) -> None:
    # asked for 10:30: open then, so it runs at 10:30 exactly
    request_id = await unlink(windowed, at="2027-01-15T10:30+00:00")
    held = await windowed.approve(request_id, approver="U0BOB")
    assert held.run_at == clock.now + 2.5 * HOUR and held.run_after == held.run_at
    assert "the time asked for" in (held.decision_note or "")
    # asked for 16:00+05:30 (10:30 UTC, as above) on a delete: no window, only after then
    filed = await windowed.request(
        requester="U0ALICE",
        action="delete",
        targets=[APP],
        reason="decommission CHG-1",
        at="2027-01-15T16:00+05:30",
    )
    assert filed.run_after == clock.now + 2.5 * HOUR
    # asked for 12:00, after today's window closed: tomorrow's 10:00
    request_id = await windowed.request(
        requester="U0ALICE",
        action="unlink",
        targets=[Target(APP, "+918000000002")],
        reason="fraud",
        at="2027-01-15T12:00Z",
    )
    later = await windowed.approve(request_id.id, approver="U0BOB")
    assert later.run_at == clock.now + 26 * HOUR


@pytest.mark.parametrize(
    ("at", "says"),
    [
        ("2027-01-15T07:59Z", "is in the past"),
        ("2027-01-16T08:01Z", "more than 24 hours ahead"),
        ("2027-01-15 10:00", r"is not a time like 2026-12-08T02:00\+05:30"),
    ],
)
async def test_at_is_refused_in_the_past_or_beyond_the_horizon(
    windowed: Workflow, memory_store: MemoryStore, at: str, says: str
) -> None:
    with pytest.raises(InvalidRequest, match=says):
        await unlink(windowed, at=at)
    assert await memory_store.list_requests(orgs=["acme"]) == []


async def test_break_glass_with_at_is_refused(windowed: Workflow) -> None:
    with pytest.raises(InvalidRequest, match="break-glass runs now"):
        await unlink(windowed, at="2027-01-15T10:30Z", break_glass="")


async def test_a_reloaded_org_file_decides_again(
    windowed: Workflow, clock: Clock, emulator: Emulator
) -> None:
    request_id = await unlink(windowed)
    await windowed.approve(request_id, approver="U0BOB")
    await windowed.sweep()  # checked under the file in force: still 10:00
    # the window widened to now: the next sweep (any replica's) runs it
    windowed.in_force.swap(
        orgs(unlink='windows: [{days: fri, from: "07:00", to: "11:00", tz: UTC}]')
    )
    await windowed.sweep()
    done = await windowed.status(request_id, user="U0ALICE")
    assert done.status is Status.SUCCEEDED and calls(emulator) == 1


async def test_a_freeze_added_after_approval_holds_it_longer(
    windowed: Workflow, clock: Clock, emulator: Emulator
) -> None:
    request_id = await unlink(windowed)
    await windowed.approve(request_id, approver="U0BOB")
    frozen = "freezes: [{from: '2027-01-15 00:00', to: '2027-01-16 00:00', tz: UTC}]"
    windowed.in_force.swap(orgs(unlink=f"{WINDOW}, {frozen}"))
    await windowed.sweep()
    moved = await windowed.status(request_id, user="U0ALICE")
    assert moved.status is Status.SCHEDULED and moved.run_at == clock.now + 26 * HOUR
    clock.now += 2 * HOUR
    await windowed.sweep()
    assert calls(emulator) == 0


async def test_windows_that_never_open_refuse_the_filing(
    make_workflow: Callable[..., Workflow], clock: Clock
) -> None:
    # the org file was checked when it was loaded; the clock moved on past every opening
    flow = make_workflow(
        orgs(unlink=f"{WINDOW}, freezes: [{{from: 2027-01-01, to: 2099-01-01, tz: UTC}}]")
    )
    with pytest.raises(NeverOpens, match="could never run"):
        await unlink(flow)


async def test_without_windows_an_approval_runs_at_once_as_ever(
    make_workflow: Callable[..., Workflow], orgs: OrgDirectory, emulator: Emulator
) -> None:
    flow = make_workflow(orgs)
    request_id = await unlink(flow)
    ran = await flow.approve(request_id, approver="U0BOB")
    assert ran.status is Status.SUCCEEDED and ran.run_at is None and calls(emulator) == 1
