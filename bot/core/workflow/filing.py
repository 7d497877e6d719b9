"""Filing a request: every input checked, the asker's org and role, then one write; nothing is
stored when anything is off. Break-glass is filed here too: stored already claimed, for a
role the org's break-glass policy names."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core import ids
from bot.core.break_glass import incident_id
from bot.core.limits import LimitCheck
from bot.core.models import Action, NewRequest, Target
from bot.core.org import Groups, Org, Role, step_approvals
from bot.core.policy import RuleDecision
from bot.core.ports import FilingStore
from bot.core.text import MAX_REASON, one_line
from bot.core.workflow import policy_rules, steps
from bot.core.workflow.access import Access, unless_pending
from bot.core.workflow.holding import asked_for
from bot.core.workflow.outcomes import ApprovalResult
from bot.core.workflow.shared import Shared
from bot.errors import InvalidId, InvalidRequest, NotAllowed

log = logging.getLogger(__name__)


@dataclass(eq=False, repr=False)
class Filing:
    """Who may ask for what, where; the request stored pending (or claimed, breaking glass)."""

    shared: Shared
    access: Access
    store: FilingStore

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
        undoes: int | None = None,
        at: str | None = None,
    ) -> ApprovalResult:
        """Validates and stores a pending request; nothing is stored when anything is off.
        Nothing runs here: `Workflow.request` is this, then a break-glass claim run at once.

        A target that already waits in a pending request is refused (AlreadyPending) unless
        `again` says the requester means a second one. `break_glass` (an incident id such as
        "INC-4411", or "" where the org's policy needs none), for a role the org's break-glass
        policy names, runs it without a second person; an approver reviews it afterwards
        (`review`). It comes back claimed (`claim`), for the caller to `execute` (e.g. after
        answering Slack); if the caller dies first, the lease lapses and a sweep runs it,
        once. A replay of the same `dedupe_key` returns the first request, unclaimed. `at`
        ("2026-12-08T02:00+05:30"): not run before then; an approval outside the request's
        change windows holds it (status scheduled) until they open, and the sweep runs it.

        `by_step`: a Workflow Builder step files it, naming a requester nobody verified (the
        rules in steps.py), and it is marked so. `undoes`: an undo the bot planned (only
        Undoing files one: bot/core/workflow/undoing.py)."""
        steps.may_file(by_step, break_glass)
        try:
            action = Action(action)
            if (action is Action.UNDO) != (undoes is not None):
                raise ValueError(action)
        except ValueError:
            raise InvalidRequest(f"unknown action `{action}`: expected unlink or delete") from None
        checked = self.check_targets(action, targets)
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
        groups = await self.shared.members(self.shared.orgs.orgs.values())
        the_org = self.access.org_for(requester, org, Role.REQUESTER, "ask for changes", groups)
        if by_step:
            steps.may_name(the_org, requester, groups)
        if channel is not None and not the_org.allows_channel(channel):
            allowed = ", ".join(f"<#{c}>" for c in the_org.command_channels)
            raise NotAllowed(f"org {the_org.name} takes requests only in {allowed}")
        ruled = policy_rules.ruling(the_org, action, checked)
        if self.shared.admission is not None:
            self.shared.admission.check()
        now = self.shared.clock()
        if at is not None and break_glass is not None:
            raise InvalidRequest("break-glass runs now: drop `--at`, or file it for approval")
        run_after = asked_for(the_org, action, checked, at, now) if break_glass is None else None
        new = NewRequest(
            org=the_org.name,
            action=action,
            requester=requester,
            reason=reason,
            targets=checked,
            now=now,
            expires_at=now + 60 * the_org.policy.ttl_minutes,
            channel_id=channel,
            response_url=response_url,
            dedupe_key=dedupe_key,
            again=again,
            undoes=undoes,
            policy=policy_rules.recorded(the_org, ruled),
            run_after=run_after,
        )
        limits = the_org.policy.limit_check(
            action, requester, len(checked), now, break_glass=break_glass is not None
        )
        if break_glass is not None:
            return await self._break_glass(the_org, groups, ruled, new, limits, break_glass)
        request, created = await self.store.create_request(
            new,
            approvals_needed=step_approvals(ruled.approvals, by_step),
            filed_by_step=by_step,
            limits=limits,
        )
        if created:
            self.shared.changed(request)
        return ApprovalResult(request, created, None)

    async def _break_glass(
        self,
        org: Org,
        groups: Groups,
        ruled: RuleDecision,
        new: NewRequest,
        limits: LimitCheck | None,
        incident: str,
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
        policy_rules.may_break_glass(ruled)
        role = org.role_of(new.requester, groups)
        if not policy.allows(role):
            unless_pending(org, groups, min(policy.roles))
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
        request, claim = await self.store.create_break_glass(
            new,
            incident=incident or None,
            review_due_at=new.now + 60 * policy.review_within_minutes,
            lease_seconds=self.shared.lease_seconds,
            limits=limits,
        )
        if claim is not None:
            log.warning(
                "request %s: %s broke glass in %s (incident %s)",
                request.id,
                new.requester,
                org.name,
                incident or "none",
            )
            self.shared.changed(request)
        return ApprovalResult(request, claim is not None, claim)

    def check_targets(self, action: Action, targets: Sequence[Target | str]) -> list[Target]:
        """The targets as Targets, each well formed for `action`, duplicates dropped."""
        if not targets:
            raise InvalidRequest(f"{action} needs at least one target")
        if action is Action.UNDO:  # planned by the bot from what the request changed
            return list(dict.fromkeys(Target(t) if isinstance(t, str) else t for t in targets))
        if len(targets) > self.shared.max_targets:
            raise InvalidRequest(
                f"too many targets ({len(targets)}); at most {self.shared.max_targets} per request"
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


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
