"""`/sfvopi policy` and `check-config --explain`: an org's rules, or which rule a would-be
request falls under and why (the very evaluation filing does, nothing filed), in lines of
plain text each door formats."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.models import Action, Target
from bot.core.org import Org, Policy, Role
from bot.core.policy import RuleDecision
from bot.core.workflow.access import Access
from bot.core.workflow.shared import Shared
from bot.errors import InvalidRequest

__all__ = ["Explained", "Explaining", "lines"]

HOW = (
    "Each target takes the first rule that selects it; a request needs the strictest of its "
    "targets' rules (refused if one refuses, the most approvals, approvers every rule admits, "
    "no break-glass if one forbids it)."
)


@dataclass(frozen=True)
class Explained:
    org: Org
    ruled: RuleDecision | None  # None: the org's rules, listed


@dataclass(eq=False, repr=False)
class Explaining:
    """Any member of an org may read its policy, and ask what a request would need."""

    shared: Shared
    access: Access
    check_targets: Callable[[Action, Sequence[Target | str]], list[Target]]

    async def explain(
        self,
        *,
        user: str,
        org: str | None = None,
        action: Action | str | None = None,
        targets: Sequence[Target | str] = (),
        linked: int | None = None,
    ) -> Explained:
        groups = await self.shared.members(self.shared.orgs.orgs.values())
        the_org = self.access.org_for(user, org, Role.VIEWER, "read its policy", groups)
        if action is None:
            return Explained(the_org, None)
        try:
            action = Action(action)
        except ValueError:
            raise InvalidRequest(f"unknown action `{action}`: expected unlink or delete") from None
        checked = self.check_targets(action, targets)
        return Explained(the_org, the_org.policy.decide(action, checked, linked))


def lines(org: Org, ruled: RuleDecision | None) -> list[str]:
    """The answer in plain lines: a heading, then one line a point."""
    policy = org.policy
    defaults = ", ".join(
        f"{action.value} {_n(policy.approvals_needed(action), 'approval')}" for action in Action
    )
    if ruled is None:
        limits = [f"Limit: {limit.describe()}." for limit in policy.limits]
        if not policy.rules:
            head = f"{org.name} has no policy rules: {defaults}; {_glass(policy, None)}."
            return [head, *limits]
        return [
            f"Policy rules of {org.name}, in order. {HOW}",
            *(rule.describe() for rule in policy.rules),
            f"Targets no rule selects: {defaults}.",
            *limits,
        ]
    shown = ", ".join(str(a.target) for a in ruled.applied[:3])
    more = f" and {len(ruled.applied) - 3} more" if len(ruled.applied) > 3 else ""
    head = f"{ruled.action.value} {shown}{more} in {org.name}: {ruled.summary()}"
    if ruled.denied is not None:
        return [head, *ruled.reasons(), "It would be refused: nothing would be filed."]
    limits = [
        f"It counts against {limit.describe()} (everything filed counts, whatever became of "
        "it; over it, refused with when it frees up)."
        for limit in policy.limits_for(ruled.action)
    ]
    return [head, *ruled.reasons(), *limits, f"Break-glass: {_glass(policy, ruled)}."]


def _glass(policy: Policy, ruled: RuleDecision | None) -> str:
    if policy.break_glass is None:
        return "nobody may break glass in this org"
    forbids = ruled.forbids_break_glass if ruled is not None else None
    if forbids is not None:
        return f"forbidden by {forbids.label}"
    roles = ", ".join(r.label for r in sorted(policy.break_glass.roles))
    return f"allowed for {roles}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
