"""Limits where the workflow decides (Python API, in-memory store): over a limit, refused
(OverLimit, a NotAllowed) with nothing stored, break-glass too; a limit counts only the
action it names; an org without limits files as ever, and its `requested` event is unchanged."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.config.orgfile import parse_orgs
from bot.core.models import Target
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
