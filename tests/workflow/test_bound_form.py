"""An approval submitted through the form is bound to the preview the form showed: a click
answers with the newest preview (the form shows it and carries its seq), and a submission is
refused, with what changed in words and nothing recorded, when that is no longer the newest
(a drift, or a first read since the form opened). The store is the in-memory one; SFVoPI is
the real emulator."""

from __future__ import annotations

import pytest

from bot.core.models import Status
from bot.core.preview import Purpose
from bot.core.workflow import Decision, Workflow
from bot.errors import PreviewChanged
from bot.sandbox.emulator import Emulator
from tests.support.drift import APP, NEW, THREE
from tests.support.drift import file_delete as _delete
from tests.support.memory_store import MemoryStore


async def _approvals(memory_store: MemoryStore, request_id: int) -> tuple[str, ...]:
    stored = await memory_store.get(request_id)
    assert stored is not None
    return stored.approvers


async def test_a_form_opened_before_the_first_read_binds_nothing(
    workflow: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    request_id = await _delete(workflow, emulator)
    asked = await workflow.decide(request_id, user="U0BOB", decision=Decision.APPROVE)
    assert asked.need is not None and asked.preview is None  # the form says "not read yet"
    await workflow.binding.read_filed(request_id)

    # it said "not read yet": the approval counts, bound to the first read by the pre-run check
    counted = await workflow.decide(
        request_id, user="U0BOB", decision=Decision.APPROVE, text="", seen=0
    )
    assert counted.refusal is None and counted.counted
    assert "approved" in [e.kind for e in await memory_store.events(request_id)]
    assert await _approvals(memory_store, request_id) == ("U0BOB",)


async def test_a_form_opened_before_a_drift_is_refused_with_the_change(
    workflow: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    request_id = await _delete(workflow, emulator)
    await workflow.binding.read_filed(request_id)
    dave = await workflow.decide(request_id, user="U0DAVE", decision=Decision.APPROVE)
    assert dave.preview is not None and dave.preview.purpose is Purpose.FILED
    await workflow.add_approval(request_id, approver="U0BOB")
    emulator.link_behind("acme", APP, NEW)
    back = await workflow.approve(request_id, approver="U0CAROL")  # drifts: pending again
    assert back.status is Status.PENDING

    refused = await workflow.decide(
        request_id, user="U0DAVE", decision=Decision.APPROVE, text="", seen=dave.preview.seq
    )
    assert isinstance(refused.refusal, PreviewChanged)
    assert refused.refusal.changes == [f"{NEW} is now linked to {APP}"]
    forged = await workflow.decide(
        request_id, user="U0DAVE", decision=Decision.APPROVE, text="", seen=99
    )
    assert isinstance(forged.refusal, PreviewChanged)
    assert forged.refusal.changes == ["the form named a preview this request does not have"]
    assert await _approvals(memory_store, request_id) == ()

    now = await workflow.decide(request_id, user="U0DAVE", decision=Decision.APPROVE)
    assert now.preview is not None and now.preview.purpose is Purpose.REBOUND
    assert now.preview.preview.apps[0].numbers == (*THREE, NEW)
    counted = await workflow.decide(
        request_id, user="U0DAVE", decision=Decision.APPROVE, text="", seen=now.preview.seq
    )
    assert counted.counted


@pytest.mark.parametrize("decision", [Decision.DENY, Decision.CANCEL])
async def test_closing_a_request_is_not_bound_to_the_preview(
    workflow: Workflow, emulator: Emulator, decision: Decision
) -> None:
    request_id = await _delete(workflow, emulator)
    await workflow.binding.read_filed(request_id)
    user = "U0BOB" if decision is Decision.DENY else "U0ALICE"
    closed = await workflow.decide(request_id, user=user, decision=decision, text="no", seen=0)
    assert closed.refusal is None and closed.counted


async def test_the_python_api_binds_an_approval_to_the_preview_it_was_shown(
    workflow: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    request_id = await _delete(workflow, emulator)
    await workflow.binding.read_filed(request_id)
    shown = await workflow.bound_preview(request_id, user="U0BOB")
    assert shown is not None and shown.preview.apps[0].numbers == THREE
    await workflow.add_approval(request_id, approver="U0DAVE")
    emulator.link_behind("acme", APP, NEW)
    back = await workflow.approve(request_id, approver="U0CAROL")  # drifts: pending again
    assert back.status is Status.PENDING

    with pytest.raises(PreviewChanged) as refused:
        await workflow.approve(request_id, approver="U0BOB", seen=shown.seq)
    assert refused.value.changes == [f"{NEW} is now linked to {APP}"]
    assert await _approvals(memory_store, request_id) == ()

    now = await workflow.bound_preview(request_id, user="U0BOB")
    assert now is not None and now.preview.apps[0].numbers == (*THREE, NEW)
    counted = await workflow.add_approval(request_id, approver="U0BOB", seen=now.seq)
    assert counted.counted and await _approvals(memory_store, request_id) == ("U0BOB",)
