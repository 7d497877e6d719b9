"""Fixtures: the workflow through its Python API, on a clock the test moves and the real
emulator; its store is the in-memory one (the rules need no database) unless a module
overrides `workflow_store` with a real one (what only a database guarantees)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.core.models import Target
from bot.core.org import OrgDirectory
from bot.core.ports import RequestStore
from bot.core.workflow import Workflow
from bot.sandbox.emulator import Emulator
from bot.sfvopi import SfvopiClient
from tests.support.memory_store import MemoryStore

__all__ = [
    "UNLINK",
    "Clock",
    "client",
    "clock",
    "make_workflow",
    "unlink_request",
    "workflow",
    "workflow_store",
]

UNLINK = [Target("sfv_app_abc123xyz456", "+918000000001")]


class Clock:
    """A clock the test moves, so time-to-live is tested without waiting."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[SfvopiClient]:
    async with SfvopiClient(emulator.base_url, timeout=2.0, tries=3, backoff=0.001) as c:
        yield c


@pytest.fixture
def workflow_store(memory_store: MemoryStore) -> RequestStore:
    return memory_store


@pytest.fixture
def make_workflow(
    workflow_store: RequestStore, client: SfvopiClient, clock: Clock
) -> Callable[..., Workflow]:
    def make(orgs: OrgDirectory, **options: object) -> Workflow:
        return Workflow(workflow_store, orgs, client, clock=clock, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def workflow(make_workflow: Callable[..., Workflow], orgs: OrgDirectory) -> Workflow:
    return make_workflow(orgs)


async def unlink_request(workflow: Workflow, user: str = "U0ALICE", **kw: object) -> int:
    request = await workflow.request(
        requester=user,
        action="unlink",
        targets=UNLINK,
        reason="fraud, INC-4411",
        **kw,  # type: ignore[arg-type]
    )
    return request.id
