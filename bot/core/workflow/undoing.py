"""Undo in the workflow: filing one (every rule checked again, whatever door or button asked)
and running its targets under the execution's claim (bot/core/undo.py says what they are).

A recreated app's id is recorded before any number is linked to it, and the attempt before
the create call, so a crash anywhere never creates a second app: a recovery that finds an
attempt without an id looks the app up instead (targets.recreate)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bot.core import failpoints, undo
from bot.core.models import Action, Outcome, Request
from bot.core.org import Org, Role
from bot.core.ports import RequestLookup, UndoStore
from bot.core.preview import PreImage, Preview, PreviewStore, Purpose
from bot.core.targets import ApiResult, new_app_said, recreate, relink
from bot.core.workflow.access import Access
from bot.core.workflow.filing import Filing
from bot.core.workflow.outcomes import ApprovalResult
from bot.core.workflow.shared import Shared
from bot.errors import Conflict, NotAllowed
from bot.sfvopi import SfvopiClient

log = logging.getLogger(__name__)


class UndoingStore(UndoStore, PreviewStore, RequestLookup, Protocol):
    """What undoing needs of a store (a Protocol, as its parts are)."""


@dataclass(eq=False, repr=False)
class Undoing:
    """Files undos through the same filing (approvals, break-glass), and runs their targets."""

    shared: Shared
    access: Access
    filing: Filing
    store: UndoingStore
    client: SfvopiClient

    async def file(
        self,
        request_id: int,
        *,
        requester: str,
        reason: str = "",
        channel: str | None = None,
        response_url: str | None = None,
        dedupe_key: str | None = None,
        break_glass: str | None = None,
    ) -> ApprovalResult:
        """Files the undo of `request_id`, a request that ran (bot/core/undo.py), for
        `requester` (a requester in its org): a request of its own, pending for the approvals
        the org's `policy.undo` asks, or claimed, breaking glass (`Workflow.undo` runs that
        claim at once). Refused (Conflict) when it did not run, its window is over, it is
        undone or being undone, or no pre-image was recorded; another org's request is
        answered as a missing one."""
        original, org, role = await self.access.visible(request_id, requester, Role.REQUESTER)
        if role < Role.REQUESTER:
            raise NotAllowed(
                f"you are a {role.label} in {org.name}; to undo a request you need requester"
            )
        why = undo.refusal(original, org.policy.undo_window_hours, self.shared.clock())
        if why is not None:
            raise Conflict(why)
        pre_image = await self.store.latest_preview(request_id, Purpose.BEFORE_EXECUTION)
        readable = pre_image is not None and pre_image.preview.unreadable is None
        targets = undo.plan(original, pre_image.preview) if pre_image and readable else []
        if not targets:
            raise Conflict(
                f"request #{request_id} cannot be undone: its pre-image holds nothing to put back"
            )
        filed = await self.filing.file(
            requester=requester,
            action=Action.UNDO,
            targets=targets,
            reason=undo.undo_reason(original, reason),
            org=org.name,
            channel=channel,
            response_url=response_url,
            dedupe_key=dedupe_key,
            again=True,  # a number held by another pending request is still put back
            break_glass=break_glass,
            undoes=request_id,
        )
        if filed.counted:
            self.shared.changed(original)  # its card: "Undo requested"
        return filed

    async def perform(self, request: Request, idx: int, claim: str, org: Org) -> ApiResult:
        """One target of an undo: its app recreated, or a number linked again."""
        state = request.targets[idx]
        target = state.target
        if target.number is None:
            return await self._recreate(request, idx, claim, org)
        recreated, app_id = undo.recreated_app(request, target.app_id)
        if recreated and app_id is None:
            return ApiResult(Outcome.FAILED, None, f"{target.app_id} was not recreated", 0)
        return await relink(self.client, org.api_key, app_id or target.app_id, target.number)

    async def _recreate(self, request: Request, idx: int, claim: str, org: Org) -> ApiResult:
        state = request.targets[idx]
        if state.new_app_id is not None:  # recorded before a crash: only its result is left
            return ApiResult(Outcome.DONE, None, new_app_said(state.new_app_id), 0)
        assert request.undoes is not None
        stored = await self.store.latest_preview(request.undoes, Purpose.BEFORE_EXECUTION)
        image = _image(stored.preview if stored else None, state.target.app_id)
        if image is None or image.fields is None:
            said = f"the pre-image of request #{request.undoes} has no fields for this app"
            return ApiResult(Outcome.FAILED, None, said, 0)
        shared = self.shared
        attempted = await self.store.attempt_create(
            request.id, idx, claim, shared.clock(), shared.clock() + shared.lease_seconds
        )
        made = await recreate(
            self.client, org.api_key, image.fields, attempted_at=attempted, now=shared.clock()
        )
        failpoints.reached("after_create")
        if made.new_app_id is None:
            return made.result
        kept = await self.store.record_new_app(
            request.id,
            idx,
            claim,
            app_id=made.new_app_id,
            now=shared.clock(),
            lease_until=shared.clock() + shared.lease_seconds,
        )
        failpoints.reached("after_new_app_recorded")
        if kept != made.new_app_id:
            return ApiResult(Outcome.DONE, None, new_app_said(kept), made.result.attempts)
        return made.result

    async def finished(self, request: Request) -> None:
        """After an undo finished: the request it took back is shown as undone (or not)."""
        if request.undoes is None:
            return
        try:
            original = await self.store.get(request.undoes)
        except Exception as exc:  # the sweep's card refresh shows it later
            log.warning("request %s: could not read the request it undid (%s)", request.id, exc)
            return
        if original is not None:
            self.shared.changed(original)


def _image(preview: Preview | None, app_id: str) -> PreImage | None:
    return undo.pre_image_of(preview, app_id) if preview is not None else None
