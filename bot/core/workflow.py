"""The approval service: who may ask, who may approve, and running an approved request once.

It knows nothing of Slack, so an incident-response bot (or a script) can file and approve
requests through the same rules. Listeners hear of every change; the Slack layer is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.core import failpoints, ids
from bot.core.break_glass import incident_id, review_refusal
from bot.core.models import (
    STEP_EXTRA_APPROVALS,
    Action,
    Event,
    Outcome,
    Request,
    Review,
    Status,
    Target,
)
from bot.core.org import (
    Groups,
    Need,
    Org,
    OrgDirectory,
    OrgsInForce,
    Role,
    eligible_approvers,
    in_force,
    may_approve_own,
)
from bot.core.ports import Admission, GroupMembers, RequestStore
from bot.core.targets import ApiResult, perform
from bot.core.text import one_line
from bot.errors import (
    Conflict,
    InvalidId,
    InvalidRequest,
    LostClaim,
    MembershipPending,
    NotAllowed,
    RecordingDelayed,
    RequestNotFound,
)
from bot.observability.context import bind, request_scope
from bot.sfvopi import SfvopiClient

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_REASON = 500
MAX_NOTE = 500
STEP_BREAK_GLASS = (
    "a workflow step cannot break glass (it cannot say who ran the workflow); file it with "
    "`/sfvopi ... --break-glass INCIDENT` instead"
)


class Decision(enum.StrEnum):
    """What a person decides on a pending request; each may carry a text (a reason, a note)."""

    APPROVE = "approve"
    DENY = "deny"
    CANCEL = "cancel"


@dataclass(frozen=True)
class ApprovalResult:
    request: Request
    counted: bool
    claim: str | None

    @property
    def claimed(self) -> bool:
        return self.claim is not None


Listener = Callable[[Request], None]


class Workflow:
    """Every rule of the approval flow, over a Store, the org file and the SFVoPI client."""

    def __init__(
        self,
        store: RequestStore,
        orgs: OrgDirectory | OrgsInForce,
        client: SfvopiClient,
        *,
        concurrency: int = 8,
        max_targets: int = 100,
        lease_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        groups: GroupMembers | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.store = store
        self.in_force = orgs if isinstance(orgs, OrgsInForce) else OrgsInForce(orgs)
        self.client = client
        self.concurrency = concurrency
        self.max_targets = max_targets
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.listeners: list[Listener] = []
        self.groups = groups  # Slack user groups' members, for roles granted to groups
        self.admission = admission  # asked right before a new request is written

    @property
    def orgs(self) -> OrgDirectory:
        """The org file in force now (the holder is swapped whole on reload)."""
        return self.in_force.current

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def _changed(self, request: Request) -> None:
        for listener in self.listeners:
            try:
                listener(request)
            except Exception:
                log.exception("listener failed for request %s", request.id)

    # -- asking ---------------------------------------------------------------------------

    async def request(
        self,
        *,
        requester: str,
        action: Action | str,
        targets: Sequence[Target | str],
        reason: str,
        org: str | None = None,
        channel: str | None = None,
        response_url: str | None = None,
        dedupe_key: str | None = None,
        again: bool = False,
        break_glass: str | None = None,
    ) -> Request:
        """Validates and stores a pending request; nothing is stored when anything is off.

        A target that already waits in a pending request is refused (AlreadyPending) unless
        `again` says the requester means a second one. `break_glass` (an incident id such as
        "INC-4411", or "" where the org's policy needs none) runs it at once without a second
        person, for a role the org's break-glass policy names, and returns it finished; an
        approver reviews it afterwards (`review`). To answer first and run it after, use
        `file` and `execute` its claim."""
        filed = await self.file(
            requester=requester,
            action=action,
            targets=targets,
            reason=reason,
            org=org,
            channel=channel,
            response_url=response_url,
            dedupe_key=dedupe_key,
            again=again,
            break_glass=break_glass,
        )
        if filed.claim is not None:
            return await self.execute(filed.request.id, filed.claim)
        return filed.request

    async def file(
        self,
        *,
        requester: str,
        action: Action | str,
        targets: Sequence[Target | str],
        reason: str,
        org: str | None = None,
        channel: str | None = None,
        response_url: str | None = None,
        dedupe_key: str | None = None,
        again: bool = False,
        break_glass: str | None = None,
        by_step: bool = False,
    ) -> ApprovalResult:
        """As `request`, without running anything: a break-glass request comes back claimed
        (`claim`), for the caller to `execute` (e.g. after answering Slack); if the caller
        dies first, the lease lapses and a sweep runs it, once. A replay of the same
        `dedupe_key` returns the first request, unclaimed.

        `by_step`: a Workflow Builder step files it, naming a requester nobody verified: it
        never breaks glass, files only where the org file turns steps on, needs one approval more
        than its policy (whoever built the workflow may approve it), and is marked so."""
        if by_step and break_glass is not None:
            raise NotAllowed(STEP_BREAK_GLASS)
        try:
            action = Action(action)
        except ValueError:
            raise InvalidRequest(f"unknown action `{action}`: expected unlink or delete") from None
        checked = self._check_targets(action, targets)
        try:
            ids.requester_id(requester)
            if channel is not None:
                ids.channel_id(channel)
        except InvalidId as exc:
            raise InvalidRequest(exc.message) from None
        reason = one_line(reason, "the reason")
        if not reason:
            raise InvalidRequest("a reason is required, e.g. the incident or ticket number")
        if len(reason) > MAX_REASON:
            raise InvalidRequest(f"the reason is too long ({len(reason)} > {MAX_REASON} chars)")
        groups = await self._groups(self.orgs.orgs.values())
        the_org = self._org_for(requester, org, Role.REQUESTER, "ask for changes", groups)
        if by_step:
            _step_may_name(the_org, requester, groups)
        if channel is not None and not the_org.allows_channel(channel):
            allowed = ", ".join(f"<#{c}>" for c in the_org.command_channels)
            raise NotAllowed(f"org {the_org.name} takes requests only in {allowed}")
        if self.admission is not None:
            self.admission.check()
        if break_glass is not None:
            return await self._break_glass(
                the_org,
                groups,
                requester=requester,
                action=action,
                targets=checked,
                reason=reason,
                incident=break_glass,
                channel=channel,
                response_url=response_url,
                dedupe_key=dedupe_key,
                again=again,
            )
        now = self.clock()
        request, created = await self.store.create_request(
            org=the_org.name,
            action=action,
            requester=requester,
            reason=reason,
            targets=checked,
            approvals_needed=the_org.policy.approvals_needed(action)
            + (STEP_EXTRA_APPROVALS if by_step else 0),
            now=now,
            expires_at=now + 60 * the_org.policy.ttl_minutes,
            channel_id=channel,
            response_url=response_url,
            dedupe_key=dedupe_key,
            filed_by_step=by_step,
            again=again,
        )
        if created:
            self._changed(request)
        return ApprovalResult(request, created, None)

    # -- break-glass: run at once by one person, reviewed afterwards -----------------------

    async def _break_glass(
        self,
        org: Org,
        groups: Groups,
        *,
        requester: str,
        action: Action,
        targets: Sequence[Target],
        reason: str,
        incident: str,
        channel: str | None,
        response_url: str | None,
        dedupe_key: str | None,
        again: bool,
    ) -> ApprovalResult:
        """Stores the request already claimed (one transaction: `requested`, `broke_glass`,
        `claimed`), for a role the org's break-glass policy names, decided now from the org
        file and user groups in force."""
        policy = org.policy.break_glass
        if policy is None:
            raise NotAllowed(
                f"org {org.name} has no break-glass policy: file it without `--break-glass`, "
                "for approval"
            )
        role = org.role_of(requester, groups)
        if not policy.allows(role):
            _unless_pending(org, groups, min(policy.roles))
            named = ", ".join(r.label for r in sorted(policy.roles))
            raise NotAllowed(
                f"break-glass in {org.name} is only for: {named}; you are "
                f"{'not a member' if role is None else _a(role.label)}. File it without "
                "`--break-glass`, for approval"
            )
        incident = incident_id(incident)
        if policy.require_incident and not incident:
            raise InvalidRequest(
                f"break-glass in {org.name} needs an incident id, e.g. `--break-glass INC-4411`"
            )
        now = self.clock()
        request, claim = await self.store.create_break_glass(
            org=org.name,
            action=action,
            requester=requester,
            reason=reason,
            targets=targets,
            incident=incident or None,
            now=now,
            expires_at=now + 60 * org.policy.ttl_minutes,
            review_due_at=now + 60 * policy.review_within_minutes,
            lease_seconds=self.lease_seconds,
            channel_id=channel,
            response_url=response_url,
            dedupe_key=dedupe_key,
            again=again,
        )
        if claim is not None:
            log.warning(
                "request %s: %s broke glass in %s (incident %s)",
                request.id,
                requester,
                org.name,
                incident or "none",
            )
            self._changed(request)
        return ApprovalResult(request, claim is not None, claim)

    @request_scope
    async def review(
        self, request_id: int, *, reviewer: str, verdict: Review, note: str = ""
    ) -> Request:
        """An approver's review of a break-glass request after it ran: acknowledged, or
        flagged with why. Once per request; never by the person who broke glass."""
        await self.check_review(request_id, reviewer=reviewer, verdict=verdict)
        note = one_line(note, "the note")
        if verdict is Review.FLAGGED and not note:
            raise InvalidRequest("say why you flag it: it goes on the card and to the requester")
        if len(note) > MAX_NOTE:
            raise InvalidRequest(f"the note is too long ({len(note)} > {MAX_NOTE} characters)")
        reviewed = await self.store.review(
            request_id, reviewer=reviewer, verdict=verdict, note=note or None, now=self.clock()
        )
        if reviewed is None:
            fresh = await self.store.get(request_id)
            raise Conflict(review_refusal(request_id, fresh))
        self._changed(reviewed)
        return reviewed

    async def check_review(
        self, request_id: int, *, reviewer: str, verdict: Review
    ) -> tuple[Request, Org]:
        """The refusal a review would meet now, raised (so a form asking why opens only when
        the review can be given); otherwise the request and its org."""
        if verdict is Review.PENDING:
            raise InvalidRequest("a review acknowledges or flags")
        request, org, role = await self._visible(request_id, reviewer)
        if not request.break_glass:
            raise Conflict(f"request #{request_id} did not break glass: there is nothing to review")
        if role < Role.APPROVER:
            raise NotAllowed(
                f"reviewing a break-glass request needs the approver role in {org.name}; you "
                f"are a {role.label}"
            )
        if reviewer == request.requester:
            raise NotAllowed("you broke glass on this request: another approver must review it")
        if request.review is not Review.PENDING or not request.status.final:
            raise Conflict(review_refusal(request_id, request))
        return request, org

    def _check_targets(self, action: Action, targets: Sequence[Target | str]) -> list[Target]:
        if not targets:
            raise InvalidRequest(f"{action} needs at least one target")
        if len(targets) > self.max_targets:
            raise InvalidRequest(
                f"too many targets ({len(targets)}); at most {self.max_targets} per request"
            )
        checked: list[Target] = []
        for raw in targets:
            target = Target(raw) if isinstance(raw, str) else raw
            try:
                ids.app_id(target.app_id)
                if target.number is not None:
                    ids.phone_number(target.number)
            except InvalidId as exc:
                raise InvalidRequest(str(exc)) from None
            if (action is Action.UNLINK) != (target.number is not None):
                raise InvalidRequest(
                    "unlink needs a number and an app id; delete needs app ids only"
                )
            if target not in checked:
                checked.append(target)
        return checked

    def _org_for(
        self, user: str, org: str | None, needs: Role, doing: str, groups: Groups | None = None
    ) -> Org:
        """The one org this user acts in, named or implied; refusals say what to do instead."""
        memberships = [(o, r) for o, r in self.orgs.memberships(user, groups) if r >= needs]
        if org is not None:
            for o, _role in memberships:
                if o.name == org:
                    return o
            known = self.orgs.get(org)
            role = known.role_of(user, groups) if known else None
            if known is not None:
                _unless_pending(known, groups, needs)
            if role is None:
                raise NotAllowed(self._not_a_member(user, org))
            raise NotAllowed(f"you are a {role.label} in {org}; to {doing} you need {needs.label}")
        if not memberships:
            for some in self.orgs.orgs.values():
                _unless_pending(some, groups, needs)
            raise NotAllowed(
                f"you are not a {needs.label} in any organization, so you cannot {doing}; "
                "ask an admin of your organization to add you"
            )
        if len(memberships) > 1:
            names = ", ".join(sorted(o.name for o, _ in memberships))
            raise InvalidRequest(f"you belong to several organizations ({names}): add --org NAME")
        return memberships[0][0]

    def _not_a_member(self, user: str, org: str) -> str:
        """Names the user's own orgs (never others'), with the closest as a suggestion."""
        mine = [o.name for o, _ in self.orgs.memberships(user)]
        message = f"you are not a member of an organization named `{ids.shown(org)}`"
        close = difflib.get_close_matches(org, mine, n=1, cutoff=0.6)
        if close:
            return f"{message}; did you mean `{close[0]}`?"
        if mine:
            return f"{message}; yours: {', '.join(mine)}"
        return message

    def _known(self, orgs: Iterable[Org]) -> Groups:
        """The members of these orgs' user groups as last read, without waiting."""
        wanted = self.orgs.groups(orgs)
        return self.groups.known(wanted) if wanted and self.groups is not None else {}

    async def _groups(self, orgs: Iterable[Org]) -> Groups:
        """As `_known`, waiting briefly (within an ack) for a group never read yet."""
        wanted = self.orgs.groups(orgs)
        return await self.groups.members(wanted) if wanted and self.groups is not None else {}

    # -- deciding -------------------------------------------------------------------------

    async def _visible(
        self, request_id: int, user: str, needs: Role = Role.VIEWER, *, org: str | None = None
    ) -> tuple[Request, Org, Role]:
        """A request of one of this user's orgs (`org` only, for an API client); others'
        requests do not exist, as far as they know. Another org's request takes the very path
        of a missing one (the store is asked within the user's orgs), so nothing of that org,
        its user groups above all, is read. Within the user's own org, a role that may come
        from a user group not read yet is MembershipPending."""
        mine = await self._orgs_of(user, org)
        request = await self.store.get(request_id, orgs=mine.keys())
        found = mine.get(request.org) if request else None
        if request is None or found is None:
            raise RequestNotFound(f"there is no request #{request_id} in your organizations")
        groups = await self._groups([found])
        role = found.role_of(user, groups)
        if role is None or role < needs:
            _unless_pending(found, groups, max(needs, role or Role.VIEWER))
        if role is None:  # a group just read no longer holds them
            raise RequestNotFound(f"there is no request #{request_id} in your organizations")
        bind(org=found.name)
        return request, found, role

    async def _orgs_of(self, user: str, only: str | None = None) -> dict[str, Org]:
        """The orgs `user` belongs to (within `only`), decided from their side, whatever
        request they ask about: their own roles and the user groups already read. Someone
        who belongs nowhere yet waits briefly for groups never read (a group member just
        after a start) and, while one is still unread, is MembershipPending."""
        candidates = [o for o in self.orgs.orgs.values() if only is None or o.name == only]
        found = _member_of(user, candidates, self._known(candidates))
        if not found:
            groups = await self._groups(candidates)
            found = _member_of(user, candidates, groups)
            if not found:
                for some in candidates:
                    _unless_pending(some, groups)
        return found

    async def may_decide(self, request_id: int, user: str) -> bool:
        """Whether `user` is someone a card's buttons are for: an approver of its org, or its
        requester. Nothing about a request's cards may change for anyone else's click."""
        try:
            request, _org, role = await self._visible(request_id, user)
        except (RequestNotFound, MembershipPending):
            return False
        return role >= Role.APPROVER or user == request.requester

    @request_scope
    async def approve(
        self, request_id: int, *, approver: str, execute: bool = True, note: str = ""
    ) -> Request:
        """Counts one approval and, when it completes the quorum, runs the request (unless told
        not): the one place where the exactly-once rule is applied. A pending result means more
        approvals are needed; approving twice is refused. `note` is the approver's, if any (the
        policy's `approve_note` may require one)."""
        result = await self.add_approval(request_id, approver=approver, note=note)
        if not result.counted:
            raise Conflict(f"you have already approved request #{request_id}")
        if result.claim is not None and execute:
            return await self.execute(request_id, result.claim)
        return result.request

    async def add_approval(
        self, request_id: int, *, approver: str, note: str = ""
    ) -> ApprovalResult:
        """Records one approval; `claim` is set only for the single caller that must execute."""
        request, org, role = await self._visible(request_id, approver, Role.APPROVER)
        await self._may(Decision.APPROVE, request, org, role, approver)
        note = self._text(org.policy.approve_note, note, "note")
        await self._requester_still_may(request, org)
        groups = await self._groups([org])
        _unless_pending(org, groups, Role.APPROVER)  # the quorum counts every group's members
        record = await self.store.approve(
            request_id,
            approver=approver,
            now=self.clock(),
            lease_seconds=self.lease_seconds,
            eligible=eligible_approvers(org, request, groups),
            needed=org.policy.approvals_needed(request.action),
            note=note or None,
        )
        if record.refused is Status.EXPIRED:
            self._changed(record.request)
        if record.refused is not None:
            raise Conflict(f"request #{request_id} {record.refused.phrase}")
        if record.counted:
            self._changed(record.request)
        return ApprovalResult(in_force(record.request, org, groups), record.counted, record.claim)

    async def _requester_still_may(self, request: Request, org: Org) -> None:
        """A request whose requester no longer holds the requester role does not run: it is
        cancelled, with the reason in its event log and on its card."""
        groups = self._known([org])
        role = org.role_of(request.requester, groups)
        if role is not None and role >= Role.REQUESTER:
            return
        if org.unknown_groups(groups, Role.REQUESTER):
            return  # a group may still hold them: decided once its members are read
        why = f"its requester is no longer a requester in {org.name}"
        cancelled = await self.store.transition(
            request.id,
            to=Status.CANCELLED,
            actor="bot",
            now=self.clock(),
            kind="cancelled",
            detail={"reason": why},
        )
        if cancelled is not None:
            self._changed(cancelled)
        raise Conflict(f"request #{request.id} was cancelled: {why}")

    async def enforce_org_file(self) -> list[Request]:
        """Cancels pending requests whose requester lost the role (after a reload, on every
        sweep), so nobody approves a request that could not run."""
        cancelled: list[Request] = []
        names = list(self.orgs.orgs)
        if not names:
            return cancelled
        for request in await self.store.list_requests(
            orgs=names, statuses=[Status.PENDING], limit=500
        ):
            org = self.orgs.get(request.org)
            if org is None:
                continue
            try:
                await self._requester_still_may(request, org)
            except Conflict:
                refreshed = await self.store.get(request.id)
                if refreshed is not None:
                    cancelled.append(refreshed)
        return cancelled

    @request_scope
    async def deny(self, request_id: int, *, approver: str, note: str = "") -> Request:
        """Denies a pending request; `note` is why (the policy's `deny_reason` may require it)."""
        request, org, role = await self._visible(request_id, approver, Role.APPROVER)
        await self._may(Decision.DENY, request, org, role, approver)
        note = self._text(org.policy.deny_reason, note, "reason")
        return await self._transition(request_id, Status.DENIED, approver, "denied", note)

    @request_scope
    async def cancel(self, request_id: int, *, user: str, note: str = "") -> Request:
        """Withdraws a pending request; `note` is why, as for a deny."""
        request, org, role = await self._visible(request_id, user)
        await self._may(Decision.CANCEL, request, org, role, user)
        note = self._text(org.policy.deny_reason, note, "reason")
        return await self._transition(request_id, Status.CANCELLED, user, "cancelled", note)

    async def check(
        self, request_id: int, *, user: str, decision: Decision
    ) -> tuple[Request, Need]:
        """The refusal `decision` would meet now, raised; otherwise the request and whether the
        policy asks for a text with it (so a reason is asked for only when it can be used)."""
        request, org, role = await self._visible(request_id, user)
        await self._may(decision, request, org, role, user)
        need = org.policy.approve_note if decision is Decision.APPROVE else org.policy.deny_reason
        return in_force(request, org), need

    async def _may(
        self, decision: Decision, request: Request, org: Org, role: Role, user: str
    ) -> None:
        """Who may decide what: approvers approve and deny others' requests; the requester or
        an admin cancels; only a pending request is decided."""
        if decision is Decision.CANCEL:
            if user != request.requester and role < Role.ADMIN:
                raise NotAllowed("only the requester or an admin can cancel a request")
        elif role < Role.APPROVER:
            doing = "approving" if decision is Decision.APPROVE else "denying"
            raise NotAllowed(
                f"{doing} needs the approver role in {org.name}; you are a {role.label}"
            )
        elif decision is Decision.DENY and user == request.requester:
            raise NotAllowed("you cannot deny your own request; cancel it instead")
        await self._still_pending(request)
        if decision is Decision.APPROVE and user == request.requester:
            if request.filed_by_step:
                raise NotAllowed(
                    "a workflow step filed this request naming you as its requester, which "
                    "nobody could verify: another approver must approve it"
                )
            if not may_approve_own(org, request):
                raise NotAllowed("you cannot approve your own request; another approver must")

    @staticmethod
    def _text(need: Need, text: str, what: str) -> str:
        """A reason or note as stored, checked against what the policy asks."""
        text = one_line(text, f"the {what}")
        if need is Need.REQUIRED and not text:
            raise InvalidRequest(f"a {what} is required for this decision in this organization")
        if len(text) > MAX_NOTE:
            raise InvalidRequest(f"a {what} is too long ({len(text)} > {MAX_NOTE} characters)")
        return text

    async def _still_pending(self, request: Request) -> None:
        if request.status is not Status.PENDING:
            raise Conflict(f"request #{request.id} {request.status.phrase}")
        if self.clock() >= request.expires_at:
            await self._expire(request.id)
            raise Conflict(f"request #{request.id} has expired; file it again if still needed")

    async def _transition(
        self, request_id: int, to: Status, actor: str, kind: str, note: str = ""
    ) -> Request:
        detail: dict[str, object] = {"note": note} if note else {}
        changed = await self.store.transition(
            request_id, to=to, actor=actor, now=self.clock(), kind=kind, detail=detail
        )
        if changed is None:
            now_is = await self.store.get(request_id)
            state = now_is.status.phrase if now_is else "is gone"
            raise Conflict(f"request #{request_id} {state}")
        self._changed(changed)
        return changed

    async def expire_due(self) -> list[Request]:
        expired = []
        for request_id in await self.store.due_for_expiry(self.clock()):
            request = await self._expire(request_id)
            if request is not None:
                expired.append(request)
        return expired

    @request_scope
    async def _expire(self, request_id: int) -> Request | None:
        """Expires a pending request (None if it had already left pending). Every expiry goes
        through here, except the one the store decides inside an approval's transaction."""
        request = await self.store.transition(
            request_id, to=Status.EXPIRED, actor="bot", now=self.clock(), kind="expired"
        )
        if request is not None:
            self._changed(request)
        return request

    # -- running --------------------------------------------------------------------------

    @request_scope
    async def execute(self, request_id: int, claim: str) -> Request:
        """Runs every unfinished target once under our claim, then records the final state."""
        request = await self.store.get(request_id)
        if request is None:
            raise RequestNotFound(f"there is no request #{request_id}")
        bind(org=request.org)
        failpoints.reached("after_claim")
        self._changed(request)
        org = self.orgs.get(request.org)
        gate = asyncio.Semaphore(self.concurrency)
        heartbeat = asyncio.create_task(self._heartbeat(request_id, claim))
        try:

            async def run(idx: int) -> None:
                async with gate:
                    await self._run_target(request, idx, claim, org)

            await asyncio.gather(
                *(run(i) for i, t in enumerate(request.targets) if t.outcome is None)
            )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, LostClaim):
                await heartbeat
        done = await self._kept(request_id, "read the results", lambda: self.store.get(request_id))
        assert done is not None
        final = await self._kept(
            request_id,
            "record the final state",
            lambda: self.store.finish(
                request_id, claim, status=final_status(done), now=self.clock()
            ),
        )
        failpoints.reached("after_finish")
        self._changed(final)
        return final

    async def _run_target(self, request: Request, idx: int, claim: str, org: Org | None) -> None:
        target = request.targets[idx].target
        sent_before = await self.store.start_target(
            request.id, idx, claim, self.clock(), self.clock() + self.lease_seconds
        )
        if org is None:
            result = ApiResult(
                Outcome.FAILED, None, f"org {request.org} is no longer configured", 0
            )
        else:
            try:
                result = await perform(
                    self.client, org.api_key, target, ambiguous_before=sent_before
                )
            except Exception as exc:
                log.exception("request %s: target %s failed unexpectedly", request.id, target)
                result = ApiResult(
                    Outcome.FAILED, None, f"internal error ({type(exc).__name__})", 0
                )
        failpoints.reached("after_api")
        await self._kept(
            request.id,
            "record a target's result",
            lambda: self.store.record_target(
                request.id,
                idx,
                claim,
                outcome=result.outcome,
                status_code=result.status_code,
                message=result.message,
                attempts=result.attempts,
                now=self.clock(),
                lease_until=self.clock() + self.lease_seconds,
            ),
        )

    async def _kept(self, request_id: int, what: str, write: Callable[[], Awaitable[T]]) -> T:
        """A write after SFVoPI answered: a result once obtained is kept, so a database blip
        is ridden out (bounded, within half a lease) instead of turning it into an error. If
        the database stays away, RecordingDelayed: the lease lapses and recovery finishes."""
        delay, waited = 0.05, 0.0
        while True:
            try:
                return await write()
            except LostClaim:
                raise
            except Exception as exc:
                if waited + delay > self.lease_seconds / 2:
                    raise RecordingDelayed(
                        f"request #{request_id} ran, but recording it is delayed (the database "
                        "did not answer); the bot finishes it on its own and the card will show it"
                    ) from exc
                log.warning("request %s: could not %s (%s); retrying", request_id, what, exc)
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 2.0)

    async def _heartbeat(self, request_id: int, claim: str) -> None:
        """Keeps the lease alive through slow API calls; a crash stops it, and the lease lapses."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.store.renew(request_id, claim, self.clock() + self.lease_seconds)
            except LostClaim:
                raise
            except Exception as exc:  # a database blip: the next beat tries again
                log.warning("request %s: could not renew the lease (%s)", request_id, exc)

    async def recover(self) -> list[Request]:
        """Finishes executions whose worker died; a target it may have sent counts 404 as absent."""
        finished = []
        for request_id, old in await self.store.stale_executions(self.clock()):
            # claimed only when its turn comes: a claim held unrenewed while the ones before
            # it run would lapse, and another worker would take it over again
            claim = await self.store.reclaim(request_id, old, self.clock(), self.lease_seconds)
            if claim is None:
                continue
            log.warning("request %s: taking over an execution whose lease lapsed", request_id)
            try:
                finished.append(await self.execute(request_id, claim))
            except LostClaim:
                log.warning("request %s: another worker took it over", request_id)
        return finished

    async def sweep(self) -> None:
        """Expires what is overdue, cancels what may no longer run, recovers what was
        abandoned; safe on every replica."""
        await self.expire_due()
        await self.enforce_org_file()
        await self.recover()

    # -- reading --------------------------------------------------------------------------

    async def status(self, request_id: int, *, user: str, org: str | None = None) -> Request:
        """The request as the org file in force sees it, if `user` may see it (in `org`
        only, when given: an API client's)."""
        request, found, _role = await self._visible(request_id, user, org=org)
        return in_force(request, found, self._known([found]))

    async def events(self, request_id: int, *, user: str) -> list[Event]:
        await self._visible(request_id, user)
        return await self.store.events(request_id)

    async def pending(self, *, user: str, org: str | None = None) -> list[Request]:
        found = await self.store.list_requests(
            orgs=self._readable_orgs(user, org), statuses=[Status.PENDING], limit=50
        )
        return [self._in_force(r) for r in found]

    async def history(self, *, user: str, org: str | None = None, limit: int = 10) -> list[Request]:
        found = await self.store.list_requests(orgs=self._readable_orgs(user, org), limit=limit)
        return [self._in_force(r) for r in found]

    def _in_force(self, request: Request) -> Request:
        org = self.orgs.get(request.org)
        return in_force(request, org, self._known([org]) if org else {})

    async def waiting_for(self, user: str) -> list[Request]:
        """Pending requests `user` may approve now and has not approved yet (their App Home)."""
        memberships = self.whoami(user)
        orgs = {org.name: org for org, role in memberships if role >= Role.APPROVER}
        if not orgs:
            return []
        groups = self._known(orgs.values())
        found = await self.store.list_requests(
            orgs=list(orgs), statuses=[Status.PENDING], limit=100
        )
        waiting = []
        for request in found:
            org = orgs[request.org]
            current = in_force(request, org, groups)
            if user in eligible_approvers(org, current, groups) and user not in current.approvers:
                waiting.append(current)
        return waiting

    async def mine(self, user: str, *, limit: int = 10) -> list[Request]:
        """The requests `user` asked for, newest first, in the orgs they still belong to."""
        names = [org.name for org, _role in self.whoami(user)]
        if not names:
            return []
        found = await self.store.list_requests(orgs=names, requester=user, limit=limit)
        return [in_force(r, self.orgs.get(r.org)) for r in found]

    def concerned(self, request: Request) -> set[str]:
        """Whom a change to this request concerns: its requester and who may approve it."""
        org = self.orgs.get(request.org)
        if org is None:
            return {request.requester}
        return {request.requester} | set(eligible_approvers(org, request, self._known([org])))

    def whoami(self, user: str) -> list[tuple[Org, Role]]:
        return self.orgs.memberships(user, self._known(self.orgs.orgs.values()))

    def _readable_orgs(self, user: str, org: str | None) -> Iterable[str]:
        groups = self._known(self.orgs.orgs.values())
        names = [o.name for o, _ in self.orgs.memberships(user, groups)]
        if not names:
            for some in self.orgs.orgs.values():
                _unless_pending(some, groups)
            raise NotAllowed("you are not a member of any organization")
        if org is not None:
            if org not in names:
                raise NotAllowed(self._not_a_member(user, org))
            return [org]
        return names


def _unless_pending(org: Org, groups: Groups | None, needs: Role = Role.VIEWER) -> None:
    """MembershipPending when a user group of `org` granting `needs` is not read yet, so the
    answer may still change; its members are being read, so it works in a moment. (Neither
    the org nor the group is named: the person may belong to neither.)"""
    if org.unknown_groups(groups, needs):
        raise MembershipPending(
            "the bot is still reading Slack user groups' members, which roles may come from; "
            "try again in a moment"
        )


def _step_may_name(org: Org, requester: str, groups: Groups) -> None:
    """A step files into `org` only where the org file turns steps on, and names only a
    requester its `requesters` allow (a group not read yet: MembershipPending)."""
    steps = org.workflow_steps
    if steps is None:
        raise NotAllowed(
            f"workflow steps are off in org {org.name}; an admin can turn them on with "
            "workflow_steps in the org file"
        )
    if steps.names(requester, groups):
        return
    if steps.unknown_groups(groups):
        raise MembershipPending(
            "the bot is still reading the Slack user groups workflow steps may name; try "
            "again in a moment"
        )
    raise NotAllowed(
        f"workflow steps in org {org.name} may not name {requester} as the requester: an "
        "admin lists whom they may name under workflow_steps requesters in the org file"
    )


def _member_of(user: str, orgs: Iterable[Org], groups: Groups) -> dict[str, Org]:
    return {o.name: o for o in orgs if o.role_of(user, groups) is not None}


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def final_status(request: Request) -> Status:
    """Failed if any target failed; unknown if any may or may not have been applied (SFVoPI
    never said); succeeded when every target is gone."""
    outcomes = {t.outcome for t in request.targets}
    if Outcome.FAILED in outcomes or None in outcomes:
        return Status.FAILED
    if Outcome.UNKNOWN in outcomes:
        return Status.UNKNOWN
    return Status.SUCCEEDED
