"""Limits where the workflow decides (Python API, in-memory store): over a limit, refused
(OverLimit, a NotAllowed) with nothing stored, break-glass too; a limit counts only the
action it names; an org without limits files as ever, and its `requested` event is unchanged."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.config.orgfile import parse_orgs
from bot.core.models import Status, Target
from bot.core.workflow import Workflow
from bot.errors import NotAllowed, OverLimit
from tests.support.memory_store import MemoryStore
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.policy_orgs import RULES_YAML, with_limits
from tests.support.workflow import Clock

LIMITS = """\
      limits:
        - {action: unlink, per: requester, targets: 2, within: 30m}
"""
APP = "sfv_app_abc123xyz456"


@pytest.fixture
def limited(make_workflow: Callable[..., Workflow]) -> Workflow:
    """acme's rules and break-glass (policy_orgs.py), and at most 2 unlinks per half hour."""
    text = with_limits(ORGS_YAML, LIMITS)
    glass = "      break_glass: {roles: [requester], require_incident: false}\n"
    return make_workflow(parse_orgs(text.replace(LIMITS, LIMITS + glass), ORG_ENV))


async def unlink(workflow: Workflow, number: int, **kw: object) -> int:
    request = await workflow.request(
        requester="U0ALICE",
        action="unlink",
        targets=[Target(APP, f"+91800000{number:04d}")],
        reason="cleanup CHG-1",
        **kw,  # type: ignore[arg-type]
    )
    return request.id


async def test_over_the_limit_every_way_of_filing_is_refused(
    limited: Workflow, memory_store: MemoryStore, clock: Clock
) -> None:
    await unlink(limited, 1)
    await unlink(limited, 2, break_glass="")  # break-glass counts as filed
    for glass in (None, ""):
        with pytest.raises(OverLimit) as refused:
            await unlink(limited, 3, break_glass=glass)
        assert isinstance(refused.value, NotAllowed)
        assert "frees at" in refused.value.message
        assert refused.value.frees_at == clock.now + 1800
    await limited.request(
        requester="U0ALICE", action="delete", targets=[APP], reason="decommission CHG-2"
    )
    assert len(await memory_store.list_requests(orgs=["acme"])) == 3
    clock.now += 1800
    await unlink(limited, 3)


async def test_an_org_without_limits_records_no_limits(
    make_workflow: Callable[..., Workflow], memory_store: MemoryStore
) -> None:
    workflow = make_workflow(parse_orgs(RULES_YAML, ORG_ENV))
    request_id = await unlink(workflow, 1)
    (requested,) = [e for e in await memory_store.events(request_id) if e.kind == "requested"]
    assert "limits" not in requested.detail


ADMIN_LIMIT = """\
      limits:
        - {action: unlink, per: requester, targets: 2, within: 30m, over: needs_admin}
"""


@pytest.fixture
def admin_limited(make_workflow: Callable[..., Workflow]) -> Workflow:
    """At most 2 unlinks per half hour; over it, an admin must approve too."""
    text = with_limits(ORGS_YAML, ADMIN_LIMIT)
    glass = "      break_glass: {roles: [requester], require_incident: false}\n"
    return make_workflow(parse_orgs(text.replace(ADMIN_LIMIT, ADMIN_LIMIT + glass), ORG_ENV))


async def test_over_a_needs_admin_limit_it_is_filed_and_an_admin_must_approve_too(
    admin_limited: Workflow, memory_store: MemoryStore
) -> None:
    within = await unlink(admin_limited, 1)
    assert (await memory_store.get(within)).needs_admin is None  # type: ignore[union-attr]
    await unlink(admin_limited, 2)
    over = await unlink(admin_limited, 3)
    request = await admin_limited.status(over, user="U0ALICE")
    assert request.approvals_needed == 2
    assert request.needs_admin == (
        "over limit 1 (at most 2 targets unlinked per requester per hour: 2 used, this "
        "request 1): an admin must approve too"
    ).replace("per hour", "per 30 minutes")
    (requested,) = [e for e in await memory_store.events(over) if e.kind == "requested"]
    assert requested.detail["needs_admin"] == request.needs_admin
    assert requested.detail["limits"][0]["over"] is True  # type: ignore[index]

    await admin_limited.approve(over, approver="U0BOB")
    carol = await admin_limited.approve(over, approver="U0CAROL")  # two, but no admin
    assert carol.status is Status.PENDING
    dave = await admin_limited.approve(over, approver="U0DAVE")  # the admin
    assert dave.status.ran  # the quorum met: claimed and run


async def test_break_glass_over_a_needs_admin_limit_is_refused(
    admin_limited: Workflow, memory_store: MemoryStore
) -> None:
    await unlink(admin_limited, 1)
    await unlink(admin_limited, 2)
    with pytest.raises(OverLimit) as refused:
        await unlink(admin_limited, 3, break_glass="")
    assert "file it without `--break-glass`" in refused.value.message
    assert len(await memory_store.list_requests(orgs=["acme"])) == 2
