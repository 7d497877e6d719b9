"""Helpers for undo tests: the pre-image a request needs before it runs.

The bot records it right before each destructive call (the `preview` work on running.py);
until that lands, tests record it themselves through the store's API, read from the real
emulator with the same reader the bot uses (bot/core/preview.py)."""

from __future__ import annotations

from pydantic import SecretStr

from bot.core.models import Action, Request, Status, Target
from bot.core.preview import PreviewStore, Purpose, StoredPreview, read_preview
from bot.core.workflow import Workflow
from bot.sfvopi import SfvopiClient
from bot.slack.services import Services
from bot.store import Store
from tests.support.orgs import ORG_ENV

__all__ = ["ACME_KEY", "ran", "record_pre_image", "store_of"]

ACME_KEY = ORG_ENV["SFVOPI_API_KEY_ACME"]


async def record_pre_image(
    store: PreviewStore, client: SfvopiClient, request: Request, *, now: float, key: str = ACME_KEY
) -> StoredPreview:
    """Reads what `request` touches now and records it as its pre-image (before_execution)."""
    preview = await read_preview(
        client, SecretStr(key), request.action, [t.target for t in request.targets]
    )
    return await store.record_preview(request.id, Purpose.BEFORE_EXECUTION, preview, now=now)


async def ran(
    workflow: Workflow,
    store: PreviewStore,
    client: SfvopiClient,
    action: Action,
    targets: list[Target],
    approvers: tuple[str, ...] = ("U0BOB",),
) -> int:
    """A request filed by U0ALICE, its pre-image recorded, approved by `approvers`, run."""
    filed = await workflow.request(
        requester="U0ALICE", action=action, targets=targets, reason="fraud, INC-4411"
    )
    await record_pre_image(store, client, filed, now=workflow.shared.clock())
    for approver in approvers:
        done = await workflow.approve(filed.id, approver=approver)
    assert done.status is Status.SUCCEEDED, done.targets
    return filed.id


def store_of(services: Services) -> Store:
    """The bot's whole store (its doors hold it by role), to record a pre-image and read events."""
    store = services.store
    assert isinstance(store, Store)
    return store
