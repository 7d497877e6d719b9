"""The approval service: who may ask, who may approve, and running an approved request once.

It knows nothing of Slack, so an incident-response bot (or a script) can file and approve
requests through the same rules. Listeners hear of every change; the Slack layer is one.

`Workflow` composes parts with one job each: shared (the state they all read) · access (whose
org, which requests they may see) · filing (file, break-glass) · steps (a Workflow Builder
step's trust rules) · rules (who may decide what; pure) · deciding (approve, deny, cancel,
expire; one read per decision) · policy_rules (the org's policy rules where filing and
deciding apply them) · explaining (which rule a would-be request falls under) · reviewing
(a break-glass review) · binding (the preview an approval is given on, read again before
running) · running (execute under a lease, recover) · scheduling (an approved request held
for its change window, run once when due) · reading (status, pending, history,
waiting_for, mine) · undoing (an undo filed, its targets run) · outcomes (what they answer).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec

from bot.core.models import Request
from bot.core.org import OrgDirectory, OrgsInForce
from bot.core.ports import Admission, GroupMembers, RequestStore
from bot.core.text import MAX_NOTE, MAX_REASON
from bot.core.workflow.access import Access
from bot.core.workflow.binding import Binding
from bot.core.workflow.deciding import Deciding
from bot.core.workflow.explaining import Explained, Explaining
from bot.core.workflow.filing import Filing
from bot.core.workflow.outcomes import ApprovalResult, Outcome
from bot.core.workflow.reading import Reading
from bot.core.workflow.reviewing import Reviewing
from bot.core.workflow.rules import Decision
from bot.core.workflow.running import Running, final_status
from bot.core.workflow.scheduling import Scheduling
from bot.core.workflow.shared import Deferral, Listener, Shared
from bot.core.workflow.steps import STEP_BREAK_GLASS
from bot.core.workflow.undoing import Undoing
from bot.errors import Conflict
from bot.observability.context import request_scope
from bot.sfvopi import SfvopiClient

__all__ = [
    "MAX_NOTE",
    "MAX_REASON",
    "STEP_BREAK_GLASS",
    "ApprovalResult",
    "Decision",
    "Deferral",
    "Explained",
    "Listener",
    "Outcome",
    "Workflow",
    "final_status",
]

P = ParamSpec("P")


class Workflow:
    """Every rule of the approval flow, over a store, the org file and the SFVoPI client.

    Built whole: its settings are constructor arguments, frozen in one `Shared` handed to
    each part; a test wanting another clock or lease builds the workflow with it."""

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
        self.client = client
        self.shared = Shared(
            orgs if isinstance(orgs, OrgsInForce) else OrgsInForce(orgs),
            concurrency=concurrency,
            max_targets=max_targets,
            lease_seconds=lease_seconds,
            clock=clock,
            groups=groups,
            admission=admission,
        )
        self._compose()

    def _compose(self) -> None:
        store, shared = self.store, self.shared
        access = Access(shared, store)
        self.filing = Filing(shared, access, store)
        self.deciding = Deciding(shared, access, store)
        self.reviewing = Reviewing(shared, access, store)
        self.binding = Binding(shared, store, self.client, self.deciding)
        self.undoing = Undoing(shared, access, self.filing, store, self.client)
        self.running = Running(shared, store, self.client, self.binding, self.undoing)
        self.scheduling = Scheduling(shared, store, self.running, self.deciding)
        self.reading = Reading(shared, access, store)
        self.explaining = Explaining(shared, access, self.filing.check_targets)
        self.file = self.filing.file
        self.decide = self.deciding.decide
        self.add_approval = self.deciding.add_approval
        self.bound_preview = self.deciding.bound_preview
        self.deny = self.deciding.deny
        self.cancel = self.deciding.cancel
        self.expire_due = self.deciding.expire_due
        self.enforce_org_file = self.deciding.enforce_org_file
        self.review = self.reviewing.review
        self.check_review = self.reviewing.check_review
        self.execute = self.running.execute
        self.recover = self.running.recover
        self.status = self.reading.status
        self.events = self.reading.events
        self.pending = self.reading.pending
        self.pending_count = self.reading.pending_count
        self.history = self.reading.history
        self.waiting_for = self.reading.waiting_for
        self.mine = self.reading.mine
        self.concerned = self.reading.concerned
        self.whoami = self.reading.whoami
        self.explain = self.explaining.explain
        self.request = self._run_claimed(self.filing.file)
        self.undo = self._run_claimed(self.undoing.file)

    def _run_claimed(
        self, file: Callable[P, Awaitable[ApprovalResult]]
    ) -> Callable[P, Awaitable[Request]]:
        """`file` (its very arguments), then the claim a break-glass filing comes back with
        run at once: the request as filed, or finished. `request` is `filing.file` so run,
        `undo` is `undoing.file`; a caller that answers first files, then `execute`s."""

        async def run_claimed(*args: P.args, **kwargs: P.kwargs) -> Request:
            filed = await file(*args, **kwargs)
            if filed.claim is not None:
                return await self.execute(filed.request.id, filed.claim)
            return filed.request

        return run_claimed

    def subscribe(self, listener: Listener) -> None:
        self.shared.listeners.append(listener)

    def answering(self, after_ack: Deferral | None) -> Workflow:
        """This workflow for a caller that answers first (a Slack listener before its ack):
        its listeners hand `after_ack` the work a change starts instead of starting it. The
        same store, client, settings and listeners; None is this workflow itself."""
        if after_ack is None:
            return self
        held = copy.copy(self)
        held.shared = self.shared.answering(after_ack)
        held._compose()
        return held

    @property
    def max_targets(self) -> int:
        return self.shared.max_targets

    @property
    def orgs(self) -> OrgDirectory:
        """The org file in force now (the holder the root swaps whole on reload)."""
        return self.shared.orgs

    @property
    def in_force(self) -> OrgsInForce:
        return self.shared.in_force

    @request_scope
    async def approve(
        self,
        request_id: int,
        *,
        approver: str,
        execute: bool = True,
        note: str = "",
        seen: int | None = None,
    ) -> Request:
        """Counts one approval and, when it completes the quorum, runs the request (unless told
        not): the one place where the exactly-once rule is applied. A pending result means more
        approvals are needed; approving twice is refused. `note` is the approver's, if any (the
        policy's `approve_note` may require one); `seen`, the preview they were shown."""
        result = await self.add_approval(request_id, approver=approver, note=note, seen=seen)
        if not result.counted:
            raise Conflict(f"you have already approved request #{request_id}")
        if result.claim is not None and execute:
            return await self.execute(request_id, result.claim, claimed=result.request)
        return result.request

    async def sweep(self) -> None:
        """Expires what is overdue, cancels what may no longer run, recovers what was
        abandoned, runs what waited for its window; safe on every replica."""
        await self.expire_due()
        await self.enforce_org_file()
        await self.recover()
        await self.scheduling.sweep()
