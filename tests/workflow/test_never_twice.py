"""Never twice, where only a database can promise it: fifty approvers clicking at once, and
two workflows (replicas) on one database, execute a request once. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.config.orgfile import parse_orgs
from bot.core.models import Status
from bot.core.org import OrgDirectory
from bot.core.ports import RequestStore
from bot.core.workflow import Workflow
from bot.errors import Conflict
from bot.sandbox.emulator import Emulator
from bot.sfvopi import SfvopiClient
from bot.store import Store
from tests.support.database import StoreFactory
from tests.support.workflow import Clock, unlink_request


@pytest.fixture
def workflow_store(store: Store) -> RequestStore:
    return store


def crowd_orgs(env: dict[str, str], approvals: int) -> OrgDirectory:
    members = "\n".join(f"      U0APP{i:03d}: approver" for i in range(50))
    return parse_orgs(
        f"""
organizations:
  acme:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0APPROVALS
    policy:
      unlink: {{approvals: {approvals}}}
      delete: {{approvals: {approvals}}}
    members:
      U0ALICE: requester
{members}
""",
        env,
    )


@pytest.mark.parametrize("approvals", [1, 2])
async def test_fifty_concurrent_approvals_execute_once(
    make_workflow: Callable[..., Workflow],
    org_env: dict[str, str],
    emulator: Emulator,
    approvals: int,
) -> None:
    workflow = make_workflow(crowd_orgs(org_env, approvals))
    request_id = await unlink_request(workflow)

    async def click(i: int) -> object:
        try:
            return await workflow.approve(request_id, approver=f"U0APP{i:03d}")
        except Conflict as refused:
            return refused

    await asyncio.gather(*(click(i) for i in range(50)))
    final = await workflow.status(request_id, user="U0ALICE")
    assert final.status is Status.SUCCEEDED
    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1
    assert len([c for c in emulator.calls if c.method == "DELETE"]) == 1
    kinds = [e.kind for e in await workflow.events(request_id, user="U0ALICE")]
    assert kinds.count("claimed") == 1
    assert kinds.count("succeeded") == 1
    assert approvals <= kinds.count("approved") <= 50


async def test_two_workflows_on_one_database_execute_once(
    store_factory: StoreFactory,
    client: SfvopiClient,
    orgs: OrgDirectory,
    emulator: Emulator,
    clock: Clock,
) -> None:
    stores = [await store_factory.open(), await store_factory.open()]
    replicas = [Workflow(s, orgs, client, clock=clock) for s in stores]
    request = await replicas[0].request(
        requester="U0ALICE", action="delete", targets=["sfv_app_abc123xyz456"], reason="r"
    )
    outcomes = await asyncio.gather(
        *(
            replicas[i % 2].approve(request.id, approver=who)
            for i, who in enumerate(["U0BOB", "U0CAROL", "U0DAVE", "U0BOB", "U0CAROL", "U0DAVE"])
        ),
        return_exceptions=True,
    )
    assert all(not isinstance(o, Exception) or isinstance(o, Conflict) for o in outcomes)
    assert emulator.effective[("delete", "sfv_app_abc123xyz456", None)] == 1
    assert (await replicas[1].status(request.id, user="U0BOB")).status is Status.SUCCEEDED
