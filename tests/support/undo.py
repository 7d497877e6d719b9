"""Helpers for undo tests: a request run (the bot reads its pre-image right before the call),
and the store behind a running bot's doors."""

from __future__ import annotations

from bot.core.models import Action, Status, Target
from bot.core.workflow import Workflow
from bot.slack.services import Services
from bot.store import Store
from tests.support.orgs import ORG_ENV

__all__ = ["ACME_KEY", "ran", "store_of"]

ACME_KEY = ORG_ENV["SFVOPI_API_KEY_ACME"]


async def ran(
    workflow: Workflow,
    action: Action,
    targets: list[Target],
    approvers: tuple[str, ...] = ("U0BOB",),
) -> int:
    """A request filed by U0ALICE, approved by `approvers`, run (its pre-image read first)."""
    filed = await workflow.request(
        requester="U0ALICE", action=action, targets=targets, reason="fraud, INC-4411"
    )
    for approver in approvers:
        done = await workflow.approve(filed.id, approver=approver)
    assert done.status is Status.SUCCEEDED, done.targets
    return filed.id


def store_of(services: Services) -> Store:
    """The bot's whole store (its doors hold it by role), to record a pre-image and read events."""
    store = services.store
    assert isinstance(store, Store)
    return store
