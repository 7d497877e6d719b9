"""Filing requests straight into a store (any RequestStore), for the store's own tests."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.core.models import Action, NewRequest, Request, Target
from bot.core.ports import RequestStore
from bot.errors import AlreadyPending

__all__ = ["APP", "NOW", "NUMBER", "OTHER", "broke_glass", "file", "refused_by"]

NOW = 1_700_000_000.0
NUMBER = Target("sfv_app_abc123xyz456", "+918000000001")
OTHER = Target("sfv_app_abc123xyz456", "+918000000002")
APP = Target("sfv_app_abc123xyz456")


async def file(
    store: RequestStore,
    targets: Sequence[Target] = (NUMBER,),
    *,
    again: bool = False,
    dedupe_key: str | None = None,
    org: str = "acme",
    reason: str = "fraud",
    needed: int = 1,
) -> int:
    """Files a request by U0ALICE (unlink, or delete for an app), due in an hour: its id."""
    request, _ = await store.create_request(
        NewRequest(
            org=org,
            action=Action.DELETE if targets[0].number is None else Action.UNLINK,
            requester="U0ALICE",
            reason=reason,
            targets=list(targets),
            now=NOW,
            expires_at=NOW + 3600,
            dedupe_key=dedupe_key,
            again=again,
        ),
        approvals_needed=needed,
    )
    return request.id


async def refused_by(store: RequestStore, targets: Sequence[Target] = (NUMBER,)) -> int:
    """The request holding `targets`, as the refusal of another one names it."""
    with pytest.raises(AlreadyPending) as refused:
        await file(store, targets)
    return refused.value.request_id


async def broke_glass(
    store: RequestStore, *, now: float = NOW, review_within: float = 3600, lease: float = 30
) -> tuple[Request, str]:
    """U0ALICE breaks glass on NUMBER at `now` (INC-1, its review due `review_within` after):
    the request, executing, and its claim (held for `lease` seconds from `now`)."""
    request, claim = await store.create_break_glass(
        NewRequest(
            org="acme",
            action=Action.UNLINK,
            requester="U0ALICE",
            reason="fraud",
            targets=[NUMBER],
            now=now,
            expires_at=now + 3600,
        ),
        incident="INC-1",
        review_due_at=now + review_within,
        lease_seconds=lease,
    )
    assert claim is not None
    return request, claim
