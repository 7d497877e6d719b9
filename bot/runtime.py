"""A ready workflow from settings: the store opened (and migrated), the client, the org file.

The composition root (`bot.wiring`) and Python callers (`bot.open_workflow`) build it from the
same pieces, so an incident bot with our database gets exactly the rules Slack users get.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.config.orgfile import load_orgs
from bot.config.settings import Settings, environ_with_dotenv
from bot.core.org import OrgDirectory, OrgsInForce
from bot.core.ports import Admission, GroupMembers
from bot.core.workflow import Workflow
from bot.sfvopi import SfvopiClient
from bot.sfvopi.client import Observer
from bot.store import Store


async def open_store(settings: Settings, *, upgrade_in_child_process: bool = True) -> Store:
    """The store, its schema created or upgraded.

    The bot upgrades a schema in a child process, so Alembic's ~12 MB never stay in it (issue
    16); `open_workflow` upgrades in the caller's own process, which may be no plain Python
    interpreter that a child could be started from."""
    store = Store(settings.database_url)
    await store.start(upgrade_in_child_process=upgrade_in_child_process)
    return store


def sfvopi_client(settings: Settings, *, observer: Observer | None = None) -> SfvopiClient:
    return SfvopiClient(
        settings.base_url,
        timeout=settings.api_timeout_seconds,
        tries=settings.api_tries,
        observer=observer,
    )


def workflow(
    settings: Settings,
    store: Store,
    orgs: OrgDirectory | OrgsInForce,
    client: SfvopiClient,
    *,
    groups: GroupMembers | None = None,
    admission: Admission | None = None,
    clock: Callable[[], float] = time.time,
) -> Workflow:
    return Workflow(
        store,
        orgs,
        client,
        concurrency=settings.api_concurrency,
        max_targets=settings.max_targets,
        lease_seconds=settings.lease_seconds,
        clock=clock,
        groups=groups,
        admission=admission,
    )


async def close_workflow(workflow: Workflow) -> None:
    await workflow.client.aclose()
    store = workflow.store
    if isinstance(store, Store):
        await store.close()


@asynccontextmanager
async def open_workflow(
    settings: Settings | None = None, *, orgs: OrgDirectory | None = None
) -> AsyncIterator[Workflow]:
    """`async with open_workflow() as workflow:` files, approves and reads requests from
    Python; settings default to the environment and `.env`, as for `sfvopi-bot serve`."""
    settings = settings or Settings()
    if orgs is None:
        orgs = load_orgs(settings.orgs_file, environ_with_dotenv())
    store = await open_store(settings, upgrade_in_child_process=False)
    ready = workflow(settings, store, orgs, sfvopi_client(settings))
    try:
        yield ready
    finally:
        await close_workflow(ready)
