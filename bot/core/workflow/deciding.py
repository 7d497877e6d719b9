"""Deciding a pending request: approvals counted (the quorum decided in the store's one
transaction), denials, cancellations, expiry, a requester who lost the role, and a request its
rules now refuse; each read of the request and each application of the rules once per
decision."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.core.bound import approved_on, unseen
from bot.core.models import Request, Status
from bot.core.org import Need, Org, Role, approvals_now, eligible_approvers, in_force
from bot.core.ports import DecidingStore
from bot.core.preview import StoredPreview
from bot.core.workflow import policy_rules, rules
from bot.core.workflow.access import Access, unless_pending
from bot.core.workflow.holding import wait_for
from bot.core.workflow.outcomes import ApprovalResult, Outcome
from bot.core.workflow.rules import Decision
from bot.core.workflow.shared import Shared
from bot.errors import Conflict, MembershipPending, PreviewChanged, Refusal, RequestNotFound
from bot.observability.context import request_scope

log = logging.getLogger(__name__)

REDECIDE_TRIES = 3  # a preview lands once after filing (and after a drift): one retry is usual


@dataclass(eq=False, repr=False)
class Deciding:
    """Approve, deny, cancel and expire, by the rules in rules.py, over the store's writes."""

    shared: Shared
    access: Access
    store: DecidingStore

    @request_scope
    async def decide(
        self,
        request_id: int,
        *,
        user: str,
        decision: Decision,
        text: str | None = None,
        seen: int | None = None,
    ) -> Outcome:
        """The one question a front door asks for a click or a form: the request read once,
        the rules applied once. `text` None (a click): a decision to confirm, or one the
        policy wants a text for, answers `need` instead (with the preview the form is to
        show), so a form asks for it; a form gives it (maybe ""), and `seen`, the seq of the
        preview it showed (0: none): an approval is refused unless that is still the newest."""
        try:
            request, org, role = await self.access.visible(
                request_id, user, rules.role_needed(decision)
            )
        except (RequestNotFound, MembershipPending) as exc:
            return Outcome(refusal=exc)
        shown = in_force(request, org)
        refresh = rules.may_refresh(request, role, user)
        try:
            await self._may(decision, request, org, role, user)
            need = rules.need(org, decision)
            if text is None and (need is not Need.NONE or decision in rules.CONFIRMED):
                if decision is Decision.APPROVE:
                    await self._approval_may_count(request, org, user)
                preview = await self._bound_preview(request_id)
                return Outcome(shown, need=need, may_refresh=refresh, preview=preview)
            if decision is Decision.APPROVE:
                approved = await self._approve(request, org, user, text or "", seen)
                if not approved.counted:
                    raise Conflict(f"you have already approved request #{request_id}")
                return Outcome(
                    approved.request, may_refresh=refresh, counted=True, claim=approved.claim
                )
            closed = await self._close(decision, request, org, user, text or "")
        except Refusal as exc:
            return Outcome(shown, refusal=exc, may_refresh=refresh)
        return Outcome(closed, may_refresh=refresh, counted=True)

    async def add_approval(
        self, request_id: int, *, approver: str, note: str = "", seen: int | None = None
    ) -> ApprovalResult:
        """Records one approval; `claim` is set only for the single caller that must execute.
        `seen`: the seq of the preview the approver was shown (`bound_preview`); refused with
        PreviewChanged, nothing recorded, unless it is still the newest."""
        request, org, role = await self.access.visible(request_id, approver, Role.APPROVER)
        await self._may(Decision.APPROVE, request, org, role, approver)
        return await self._approve(request, org, approver, note, seen)

    async def bound_preview(self, request_id: int, *, user: str) -> StoredPreview | None:
        """What an approval given now is given on, for an approver to see first (None: not
        read yet); its `seq` is what `approve(seen=)` binds to."""
        await self.access.visible(request_id, user, Role.APPROVER)
        return await self._bound_preview(request_id)

    @request_scope
    async def deny(self, request_id: int, *, approver: str, note: str = "") -> Request:
        """Denies a pending request; `note` is why (the policy's `deny_reason` may require it)."""
        return await self._decided(Decision.DENY, request_id, approver, note)

    @request_scope
    async def cancel(self, request_id: int, *, user: str, note: str = "") -> Request:
        """Withdraws a pending request; `note` is why, as for a deny."""
        return await self._decided(Decision.CANCEL, request_id, user, note)

    async def _decided(self, decision: Decision, request_id: int, user: str, note: str) -> Request:
        request, org, role = await self.access.visible(
            request_id, user, rules.role_needed(decision)
        )
        await self._may(decision, request, org, role, user)
        return await self._close(decision, request, org, user, note)

    async def _may(
        self, decision: Decision, request: Request, org: Org, role: Role, user: str
    ) -> None:
        """The rules, in the order their refusals are told: who the person is, then whether
        the request is still pending, then approving one's own."""
        rules.may(decision, request, org, role, user)
        if decision is Decision.CANCEL and request.status is Status.SCHEDULED:
            return  # approved, waiting for its window: its requester or an admin may still stop it
        await self._still_pending(request)
        rules.may_approve_own_request(decision, request, org, user)
        if decision is Decision.APPROVE and org.policy.ruled_for(request) is not None:
            groups = await self.shared.members([org])
            policy_rules.may_approve(org, request, user, role, groups)
            await self._count_read(request, org)

    async def _count_read(self, request: Request, org: Org) -> None:
        """Refuses an approval while the preview a rule's linked count needs is not read yet
        (read right after filing): it could not be counted under the rule that applies."""
        waiting = policy_rules.unread_count(org, request)
        if waiting is not None and await self.store.latest_preview(request.id) is None:
            raise Conflict(waiting)

    async def _approval_may_count(self, request: Request, org: Org, approver: str) -> None:
        """What the approval would be refused for, told at the click rather than after the
        form: given already, or a requester who lost the role (checked again on submission)."""
        if approver in request.approvers:
            raise Conflict(f"you have already approved request #{request.id}")
        await self._requester_still_may(request, org)

    async def _bound_preview(self, request_id: int) -> StoredPreview | None:
        """The preview an approval given now is given on (the newest filed or rebound)."""
        latest = await self.store.latest_preview(request_id)
        if latest is None or latest.purpose.binds:
            return latest
        return approved_on(await self.store.previews(request_id))

    async def _approve(
        self, request: Request, org: Org, approver: str, note: str, seen: int | None = None
    ) -> ApprovalResult:
        """The approval written, once the rules allowed it: the quorum counts only who holds
        the role now, so it waits for every approver group's members; with `seen`, only on
        the preview the approver was shown (checked in the store's transaction)."""
        note = rules.text(org, Decision.APPROVE, note)
        await self._requester_still_may(request, org)
        groups = await self.shared.members([org])
        unless_pending(org, groups, Role.APPROVER)  # the quorum counts every group's members
        for _ in range(REDECIDE_TRIES):
            now = self.shared.clock()
            record = await self.store.approve(
                request.id,
                approver=approver,
                now=now,
                lease_seconds=self.shared.lease_seconds,
                eligible=eligible_approvers(org, request, groups),
                needed=approvals_now(org, request),
                note=note or None,
                quorum=policy_rules.quorum(org, request, groups),
                seen=seen,
                wait=wait_for(org, request, now),
                linked=request.linked_numbers,
                check_linked=True,
            )
            if not record.redecide:
                break
            # its preview landed meanwhile: the rules again, on the count it gave
            request = record.request
            role = org.role_of(approver, groups)
            if request.status is Status.PENDING and role is not None:
                policy_rules.may_approve(org, request, approver, role, groups)
        else:
            raise Conflict(f"request #{request.id} is changing; try again in a moment")
        if record.stale and seen is not None:
            raise PreviewChanged(request.id, unseen(await self.store.previews(request.id), seen))
        if record.refused is Status.EXPIRED:
            self.shared.changed(record.request)
        if record.refused is not None:
            raise Conflict(f"request #{request.id} {record.refused.phrase}")
        if record.counted:
            self.shared.changed(record.request)
        return ApprovalResult(in_force(record.request, org, groups), record.counted, record.claim)

    async def _close(
        self, decision: Decision, request: Request, org: Org, user: str, note: str
    ) -> Request:
        """A deny or a cancel written, once the rules allowed it."""
        note = rules.text(org, decision, note)
        if decision is Decision.DENY:
            return await self._transition(request.id, Status.DENIED, user, "denied", note)
        return await self._transition(
            request.id, Status.CANCELLED, user, "cancelled", note, source=request.status
        )

    async def _still_pending(self, request: Request) -> None:
        if request.status is not Status.PENDING:
            raise Conflict(f"request #{request.id} {request.status.phrase}")
        if self.shared.clock() >= request.expires_at:
            await self.expire(request.id)
            raise Conflict(f"request #{request.id} has expired; file it again if still needed")

    async def _transition(
        self,
        request_id: int,
        to: Status,
        actor: str,
        kind: str,
        note: str = "",
        source: Status = Status.PENDING,
    ) -> Request:
        detail: dict[str, object] = {"note": note} if note else {}
        changed = await self.store.transition(
            request_id,
            to=to,
            actor=actor,
            now=self.shared.clock(),
            kind=kind,
            detail=detail,
            source=source,
        )
        if changed is None:
            now_is = await self.store.get(request_id)
            state = now_is.status.phrase if now_is else "is gone"
            raise Conflict(f"request #{request_id} {state}")
        self.shared.changed(changed)
        return changed

    async def refuse(self, request: Request, org: Org) -> Request | None:
        """Closes a pending request the rules in force refuse (a deny rule its linked count
        selects once a preview is read, at filing or in a drift, or a reloaded org file's):
        denied by the bot, with the rule's words, in one conditional transition, so of every
        replica that sees it exactly one closes it. None when no rule refuses it, or it had
        already moved on."""
        ruled = org.policy.ruled_for(request)
        why = None if ruled is None else ruled.refusal()
        if why is None:
            return None
        denied = await self._by_bot(request.id, Status.DENIED, why)
        if denied is not None:
            log.warning("request %s: its rules refuse it now: denied", request.id)
        return denied

    async def withdraw(self, request_id: int, why: str) -> Request | None:
        """Cancels, by the bot, a held request the org file in force no longer lets run (its
        requester or its approvers changed), with why; None if it had moved on."""
        return await self._by_bot(request_id, Status.CANCELLED, why, Status.SCHEDULED)

    async def expire_due(self) -> list[Request]:
        expired = []
        for request_id in await self.store.due_for_expiry(self.shared.clock()):
            request = await self.expire(request_id)
            if request is not None:
                expired.append(request)
        return expired

    @request_scope
    async def expire(
        self, request_id: int, *, why: str | None = None, source: Status = Status.PENDING
    ) -> Request | None:
        """Expires a pending request, or (`source`) a scheduled one whose window passed, with
        `why` (None if it had already moved on). Every expiry goes through here, except the
        one the store decides inside an approval's transaction."""
        return await self._by_bot(request_id, Status.EXPIRED, why, source)

    async def _by_bot(
        self, request_id: int, to: Status, why: str | None, source: Status = Status.PENDING
    ) -> Request | None:
        """A request the bot closes, its event named as its new status, with `why` as the
        reason; every listener told. None when it had already moved on from `source`."""
        request = await self.store.transition(
            request_id,
            to=to,
            actor="bot",
            now=self.shared.clock(),
            kind=to.value,
            detail={"reason": why} if why else None,
            source=source,
        )
        if request is not None:
            self.shared.changed(request)
        return request

    async def _requester_still_may(self, request: Request, org: Org) -> None:
        """A request whose requester no longer holds the requester role does not run: it is
        cancelled, with the reason in its event log and on its card."""
        groups = self.shared.known([org])
        role = org.role_of(request.requester, groups)
        if role is not None and role >= Role.REQUESTER:
            return
        if org.unknown_groups(groups, Role.REQUESTER):
            return  # a group may still hold them: decided once its members are read
        why = f"its requester is no longer a requester in {org.name}"
        await self._by_bot(request.id, Status.CANCELLED, why)
        raise Conflict(f"request #{request.id} was cancelled: {why}")

    async def enforce_org_file(self) -> list[Request]:
        """Closes pending requests the org file in force says may not run (after a reload, on
        every sweep): denied where a rule now refuses it, cancelled where its requester lost
        the role; so nobody approves a request that could not run."""
        closed: list[Request] = []
        orgs = self.shared.orgs
        names = list(orgs.orgs)
        if not names:
            return closed
        for request in await self.store.list_requests(
            orgs=names, statuses=[Status.PENDING], limit=500
        ):
            org = orgs.get(request.org)
            if org is None:
                continue
            denied = await self.refuse(request, org)
            if denied is not None:
                closed.append(denied)
                continue
            try:
                await self._requester_still_may(request, org)
            except Conflict:
                refreshed = await self.store.get(request.id)
                if refreshed is not None:
                    closed.append(refreshed)
        return closed
