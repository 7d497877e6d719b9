"""Policy rules by target and size (pure): which rule each target of a would-be request falls
under, and what the request needs as a whole.

Each target is matched against the org's ordered rules, first match wins; a target no rule
selects keeps the action's policy (`policy: {unlink: {approvals: N}}`), exactly as before rules
existed. The request then needs the strictest of its targets' rules: refused if any denies, the
most approvals any asks, approvers every one of them admits, no break-glass if any forbids it.
So putting a protected app in a bulk request never weakens its rule, and nothing a rule-less
org file says changes meaning.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.models import Action, Target
from bot.core.requirements import Requirement, admitted, assign, assign_in_order, who_text
from bot.core.roles import Groups, Role
from bot.core.windows import Schedule

__all__ = ["Applied", "Rule", "RuleDecision", "decide", "glob_within"]

GLOB_CHARACTERS = frozenset("*?[")
ALWAYS = Schedule()  # no windows, no freezes: runs once approved


@dataclass(frozen=True)
class Rule:
    """One entry of a policy's `rules:`: what it selects (every selector given must hold; a
    list of patterns holds if one matches) and what it sets."""

    index: int  # 1-based, in file order
    name: str | None = None
    line: int = 0  # where it starts in the org file (0: not from a file)
    # selectors; None or empty: not constrained
    actions: frozenset[Action] = frozenset()
    apps: tuple[str, ...] | None = None
    numbers: tuple[str, ...] | None = None
    min_targets: int | None = None
    max_targets: int | None = None
    min_linked_numbers: int | None = None
    max_linked_numbers: int | None = None
    # effects; None: as the action's policy says
    approvals: int | None = None
    approver_role: Role | None = None  # this role or higher may approve
    approver_groups: tuple[str, ...] = ()  # or the members of these user groups
    break_glass: bool | None = None  # False: forbidden; True/None: as the org's break_glass
    deny: str | None = None
    requires: tuple[Requirement, ...] = ()  # approvals from named teams, one person each
    in_order: bool = False  # `requires_in_order`: each requirement a stage, in file order
    schedule: Schedule = ALWAYS  # windows and freezes, besides the action's own

    @property
    def label(self) -> str:
        return f"rule {self.index}" + (f" '{self.name}'" if self.name else "")

    @property
    def needs_linked(self) -> bool:
        return self.min_linked_numbers is not None or self.max_linked_numbers is not None

    @property
    def restricts_approvers(self) -> bool:
        return self.approver_role is not None or bool(self.approver_groups)

    def selects(self, action: Action, target: Target, count: int, linked: int | None) -> bool:
        """Whether this rule selects `target` of a request of `count` targets (`linked`: how
        many numbers the request would unlink, when known; a rule bounding it never selects
        a request whose count is not known)."""
        if self.actions and action not in self.actions:
            return False
        if self.apps is not None and not _any_glob(target.app_id, self.apps):
            return False
        if self.numbers is not None and (
            target.number is None or not _any_glob(target.number, self.numbers)
        ):
            return False
        if not _within(count, self.min_targets, self.max_targets):
            return False
        return not self.needs_linked or (
            linked is not None and _within(linked, self.min_linked_numbers, self.max_linked_numbers)
        )

    def selects_every(self, action: Action) -> bool:
        """Whether it selects every request of `action`, whatever its targets and counts."""
        return (
            (not self.actions or action in self.actions)
            and (self.apps is None or "*" in self.apps)
            and (self.numbers is None or (action is Action.UNLINK and "*" in self.numbers))
            and self.min_targets is None
            and self.max_targets is None
            and not self.needs_linked
        )

    def why(self, action: Action, target: Target, count: int, linked: int | None) -> str:
        """What of the target and the request this rule selected it by, in words."""
        said = [f"action {action.value}"] if self.actions else []
        if self.apps is not None:
            said.append(f"app matches {_first_glob(target.app_id, self.apps)}")
        if self.numbers is not None and target.number is not None:
            said.append(f"number matches {_first_glob(target.number, self.numbers)}")
        if self.min_targets is not None or self.max_targets is not None:
            said.append(f"{_n(count, 'target')} ({_bounds(self.min_targets, self.max_targets)})")
        if self.needs_linked and linked is not None:
            bounds = _bounds(self.min_linked_numbers, self.max_linked_numbers)
            said.append(f"{_n(linked, 'linked number')} ({bounds})")
        return ", ".join(said) or "selects everything"

    def admits(self, user: str, role: Role | None, groups: Groups | None) -> bool:
        """Whether `user` (holding `role` in the org) may approve under this rule."""
        if not self.restricts_approvers:
            return True
        return admitted(self.approver_role, self.approver_groups, user, role, groups)

    def approvals_or(self, default: int) -> int:
        """The approvals it asks: its own, else its requirements' sum, else the policy's."""
        if self.approvals is not None:
            return self.approvals
        return sum(r.approvals for r in self.requires) or default

    def groups(self) -> tuple[str, ...]:
        """Every user group whose members it names as approvers."""
        named = (*self.approver_groups, *(g for r in self.requires for g in r.approver_groups))
        return tuple(dict.fromkeys(named))

    def selectors_text(self) -> str:
        """What it selects, in words ("delete; apps 'sfv_app_prod*'; at least 11 targets")."""
        said = [" or ".join(sorted(a.value for a in self.actions))] if self.actions else []
        for key, patterns in (("apps", self.apps), ("numbers", self.numbers)):
            if patterns is not None:
                said.append(f"{key} " + ", ".join(f"'{p}'" for p in patterns))
        if self.min_targets is not None or self.max_targets is not None:
            said.append(f"{_bounds(self.min_targets, self.max_targets)} targets")
        if self.needs_linked:
            bounds = _bounds(self.min_linked_numbers, self.max_linked_numbers)
            said.append(f"{bounds} linked numbers")
        return "; ".join(said) or "everything"

    def describe(self, default_approvals: int | None = None) -> str:
        """The rule in one line: "rule 2 'prod apps': apps 'sfv_app_prod*' → 2 approvals"."""
        effect = self.effect(default_approvals) if default_approvals else self.effect(0)
        return f"{self.label}: {self.selectors_text()} → {effect}"

    def approvers_text(self) -> str:
        """Who may approve under this rule: "admins or members of S0NETOPS"."""
        return who_text(self.approver_role, self.approver_groups)

    def effect(self, default_approvals: int) -> str:
        """What the rule sets, in words ("2 approvals from admins, no break-glass")."""
        if self.deny is not None:
            return f'refused: "{self.deny}"'
        if self.approvals is None and not self.requires and not default_approvals:
            text = "the action's approvals"
        else:
            text = _n(self.approvals_or(default_approvals), "approval")
        if self.restricts_approvers:
            text += f" from {self.approvers_text()}"
        if self.requires:
            text += ": " + (" then " if self.in_order else " and ").join(
                r.text() for r in self.requires
            )
        if self.break_glass is False:
            text += ", no break-glass"
        if self.schedule.windows:
            text += ", runs only in " + "; ".join(w.text() for w in self.schedule.windows)
        if self.schedule.freezes:
            text += f", never in its {len(self.schedule.freezes)} freeze(s)"
        return text


@dataclass(frozen=True)
class Applied:
    """One target and the rule that selected it (None: no rule did; the action's policy)."""

    target: Target
    rule: Rule | None


@dataclass(frozen=True)
class RuleDecision:
    """What the policy's rules make of one request: each target's rule, and the request's
    needs as a whole (the strictest of them)."""

    action: Action
    applied: tuple[Applied, ...]
    default_approvals: int  # the action's policy, for targets no rule selects
    skipped: tuple[Rule, ...] = ()  # rules passed over: they bound linked numbers, not known
    ruled: bool = False  # whether the org has rules at all
    # requirements besides the rules', each with why: an admin, for a request over a limit
    # that lets one approve it (`over: needs_admin`); never merged with a rule's, so extra
    extra: tuple[tuple[Requirement, str], ...] = ()

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules that selected some target, in file order."""
        found = {a.rule.index: a.rule for a in self.applied if a.rule is not None}
        return tuple(found[i] for i in sorted(found))

    @property
    def denied(self) -> Rule | None:
        """The first rule (in file order) that refuses one of the targets."""
        return next((r for r in self.rules if r.deny is not None), None)

    @property
    def approvals(self) -> int:
        """The most approvals any target's rule (or the action's policy) asks, and at least
        one person for each requirement."""
        most = max(
            (
                a.rule.approvals_or(self.default_approvals)
                if a.rule is not None
                else self.default_approvals
                for a in self.applied
            ),
            default=self.default_approvals,
        )
        most += sum(need.approvals for need, _ in self.extra)
        return max(most, sum(n.approvals for n in self.requirements()))

    @property
    def forbids_break_glass(self) -> Rule | None:
        return next((r for r in self.rules if r.break_glass is False), None)

    @property
    def restricting(self) -> tuple[Rule, ...]:
        """The rules that say who may approve: an approver must be admitted by each."""
        return tuple(r for r in self.rules if r.restricts_approvers)

    @property
    def in_order(self) -> bool:
        """Whether the requirements are stages (a rule that applies says so; an admin asked
        over a limit is then the last stage)."""
        return any(r.in_order for r in self.rules)

    def admits(self, user: str, role: Role | None, groups: Groups | None) -> bool:
        """Whether `user` may approve: every restricting rule admits them and, where every
        approval must fill a requirement, some requirement does."""
        if not all(r.admits(user, role, groups) for r in self.restricting):
            return False
        needs = self.requirements()
        if not needs or sum(n.approvals for n in needs) < self.approvals:
            return True
        return any(n.admits(user, role, groups) for n in needs)

    def groups(self) -> tuple[str, ...]:
        """The user groups whose members decide who may approve."""
        return tuple(dict.fromkeys(g for r in self.rules for g in r.groups()))

    def requirements(self) -> tuple[Requirement, ...]:
        """The requirements of every rule that applies, merged: the same approvers once, with
        the larger count (one person fills one of them only, across the request)."""
        merged: dict[tuple[Role | None, tuple[str, ...]], Requirement] = {}
        for need in (n for r in self.rules for n in r.requires):
            known = merged.get(need.who)
            if known is None or need.approvals > known.approvals:
                merged[need.who] = need
        return (*merged.values(), *(need for need, _ in self.extra))

    def filled(
        self, approvers: Sequence[str], role_of: Callable[[str], Role | None], groups: Groups
    ) -> list[tuple[Requirement, list[str]]]:
        """Each requirement and who fills it, of `approvers` (in the order they approved)."""
        needs = self.requirements()

        def admits(need: Requirement, user: str) -> bool:
            return need.admits(user, role_of(user), groups)

        matched = assign_in_order if self.in_order else assign
        return list(zip(needs, matched(needs, approvers, admits), strict=True))

    def met(
        self, approvers: Sequence[str], role_of: Callable[[str], Role | None], groups: Groups
    ) -> bool:
        """Whether `approvers` (each already counted as eligible) fill every requirement."""
        return all(len(who) >= n.approvals for n, who in self.filled(approvers, role_of, groups))

    def targets_of(self, rule: Rule) -> list[Target]:
        return [a.target for a in self.applied if a.rule == rule]

    def refusal(self) -> str | None:
        """What the requester is told when a rule refuses the request (None: none does)."""
        rule = self.denied
        if rule is None:
            return None
        return f"{rule.deny} ({rule.label}, for {_listed(self.targets_of(rule))})"

    def summary(self) -> str:
        """One line: the rules that decided, and what the request needs."""
        rules = self.rules
        if not rules:
            named = f"the {self.action.value} policy (no rule selects it)"
        else:
            named = ("rule " if len(rules) == 1 else "rules ") + ", ".join(
                r.label.removeprefix("rule ") for r in rules
            )
        denied = self.denied
        if denied is not None:
            return f"{named} — refused: {denied.deny}"
        text = f"{named} — {_n(self.approvals, 'approval')}"
        who = " and ".join(r.approvers_text() for r in self.restricting)
        if who:
            text += f" from {who}"
        needs = self.requirements()
        if needs:
            text += ": " + (" then " if self.in_order else " and ").join(n.text() for n in needs)
        if self.forbids_break_glass is not None:
            text += "; no break-glass"
        for _, why in self.extra:
            text += f"; {why}"
        return text

    def reasons(self) -> list[str]:
        """Why, target by target (grouped by rule), then the rules passed over and why."""
        count, lines = len(self.applied), []
        for rule in (*self.rules, None):
            targets = [a.target for a in self.applied if a.rule == rule]
            if not targets:
                continue
            if rule is None:
                lines.append(
                    f"{_listed(targets)}: no rule selects it, so the {self.action.value} "
                    f"policy applies ({_n(self.default_approvals, 'approval')})"
                )
                continue
            why = rule.why(self.action, targets[0], count, None)
            lines.append(
                f"{_listed(targets)}: {rule.label} ({why}): {rule.effect(self.default_approvals)}"
            )
        for rule in self.skipped:
            lines.append(
                f"{rule.label} was passed over: it bounds how many numbers the delete would "
                "unlink, which is not known until its preview is read"
            )
        lines += [why for _, why in self.extra]
        return lines

    def detail(self) -> dict[str, object]:
        """What the `requested` event records of it (the audit log's word for the rule)."""
        rules = self.rules
        return {
            "rules": [{"index": r.index, "name": r.name} for r in rules] if rules else [],
            "approvals": self.approvals,
            "why": self.summary(),
        }


def decide(
    rules: Sequence[Rule],
    action: Action,
    targets: Sequence[Target],
    *,
    approvals: int,
    linked: int | None = None,
) -> RuleDecision:
    """Each target's rule (first match wins), for a request of `action` on `targets` in an org
    whose action policy asks `approvals`; `linked`: how many numbers the request would unlink,
    when a preview knows it (None: rules bounding it are passed over)."""
    count = len(targets)
    applied = tuple(
        Applied(t, next((r for r in rules if r.selects(action, t, count, linked)), None))
        for t in targets
    )
    skipped: tuple[Rule, ...] = ()
    if linked is None:
        skipped = tuple(
            r
            for r in rules
            if r.needs_linked
            and any(
                r.index < (a.rule.index if a.rule else len(rules) + 1)
                and r.selects(action, a.target, count, r.min_linked_numbers or 0)
                for a in applied
            )
        )
    return RuleDecision(action, applied, approvals, skipped, bool(rules))


def glob_within(inner: str, outer: str) -> bool:
    """Whether everything `inner` matches, `outer` matches too (sure only in the shapes an
    org file writes: the same, `*`, a literal, `prefix*` or `*suffix`; False when unsure)."""
    if outer in ("*", inner):
        return True
    if not GLOB_CHARACTERS & set(inner):
        return fnmatch.fnmatchcase(inner, outer)
    stem = outer.strip("*")
    if GLOB_CHARACTERS & set(stem) or outer.count("*") != 1 or "[" in inner:
        return False  # a class in `inner` may reach into the part compared
    if outer.endswith("*"):
        return inner.startswith(stem) and not GLOB_CHARACTERS & set(inner[: len(stem)])
    return inner.endswith(stem) and not GLOB_CHARACTERS & set(inner[-len(stem) :])


def _any_glob(text: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(text, p) for p in patterns)


def _first_glob(text: str, patterns: Sequence[str]) -> str:
    return next((f"'{p}'" for p in patterns if fnmatch.fnmatchcase(text, p)), "")


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _bounds(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{low} to {high}" if low != high else f"exactly {low}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _listed(targets: Sequence[Target], shown: int = 3) -> str:
    names = [str(t) for t in targets[:shown]]
    if len(targets) > shown:
        names.append(f"{len(targets) - shown} more")
    return ", ".join(names)
