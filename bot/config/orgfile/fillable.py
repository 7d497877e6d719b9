"""Policy stages nobody could fill, as `check-config` warns of them: an admin's approval over a
limit (`over: needs_admin`) under a rule only user groups may approve, a request a workflow
step files (one approval more than its policy, never its named requester's), and a rule or
action asking more approvals than the people who could give one.

Warnings, not problems: who is in a Slack user group is Slack's to say, at run time. A count
is said only when it is sure (no unread group could bring more people); the admin stage, which
turns on who is in the rule's groups, says "unless" while they are unread (`check-config
--online` reads them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bot.config.orgfile.problems import counted
from bot.core import ids
from bot.core.limits import Limit
from bot.core.models import STEP_EXTRA_APPROVALS, Action
from bot.core.org import Groups, Org, OrgDirectory, Role, StepPolicy
from bot.core.policy import Rule
from bot.core.requirements import assign, who_text

__all__ = ["unfillable"]

FILED = (Action.UNLINK, Action.DELETE)  # what people and steps file (an undo: only the bot)
Gate = tuple[Role | None, tuple[str, ...]]  # who a stage admits: a role and up, or groups
Found = tuple[int, str]


def unfillable(directory: OrgDirectory, source: str, groups: Groups | None = None) -> list[str]:
    """Every policy stage nobody could fill, one line each with its line in the org file
    (`groups`: the user groups' members as Slack listed them; a group not in it is unread)."""
    found = [
        (line, f"org {org.name}: {message}")
        for org in directory.orgs.values()
        for line, message in Stages(org, groups or {}).found()
    ]
    return [f"{source}:{line}: {message}" for line, message in sorted(found, key=lambda f: f[0])]


@dataclass(frozen=True)
class Could:
    """Who could approve at one stage: the people it might admit (someone it admits only by
    an unread group counts), whether an unread group granting a role could bring any number
    more (`unbounded`), and the read groups the answer rests on."""

    people: frozenset[str]
    unbounded: bool
    read: tuple[str, ...]

    def most(self, never: frozenset[str] | None = None) -> int | None:
        """How many could approve at most (None: no telling); one fewer where everyone in
        `never` (the people a step may name, who never approve its request) is one of them."""
        if self.unbounded:
            return None
        named = never is not None and bool(never) and never <= self.people
        return len(self.people) - (1 if named else 0)

    def who(self) -> str:
        shown = ", ".join(sorted(self.people)) or "nobody"
        return shown + (f", as Slack lists {', '.join(self.read)} now" if self.read else "")


class Stages:
    """One org's policy against the people who could approve, as far as its groups are read."""

    def __init__(self, org: Org, groups: Groups) -> None:
        self.org, self.groups, self.policy = org, groups, org.policy
        roles = org.group_roles()
        self.unread = {g: r for g, r in roles.items() if g not in groups}
        self.approvers = frozenset(org.approvers(groups))
        self.ttl = counted(self.policy.ttl_minutes, "minute")

    def found(self) -> Iterator[Found]:
        yield from self.counts()
        yield from self.steps()
        yield from self.admin_stages()

    # -- who could approve --------------------------------------------------------------

    def could(self, gates: Sequence[Gate]) -> Could:
        """Who could approve where each of `gates` must admit them."""
        unbounded = any(
            role >= Role.APPROVER
            and all(bool(named) or (least is not None and role >= least) for least, named in gates)
            for role in self.unread.values()
        )
        highest = max(self.unread.values(), default=None)
        people = frozenset(
            u for u in self.approvers if all(self._may(u, gate, highest) for gate in gates)
        )
        named = {g for _, groups in gates for g in groups}
        read = tuple(sorted({g for g in (*named, *self.org.approver_groups()) if g in self.groups}))
        return Could(people, unbounded, read)

    def _may(self, user: str, gate: Gate, highest: Role | None) -> bool:
        least, named = gate
        role = self.org.role_of(user, self.groups) or Role.VIEWER
        if least is not None and max(role, highest or role) >= least:
            return True
        return any(g not in self.groups or user in self.groups[g] for g in named)

    @staticmethod
    def gates(rule: Rule) -> tuple[Gate, ...]:
        return ((rule.approver_role, rule.approver_groups),) if rule.restricts_approvers else ()

    def deciding(self, action: Action | None = None) -> Iterator[Rule]:
        """The rules (of `action`, if given) that ask anything of the approvers the action's
        policy does not: not those refusing outright, nor those setting only windows."""
        for rule in self.policy.rules:
            if rule.deny is not None or (action and rule.actions and action not in rule.actions):
                continue
            if rule.restricts_approvers or rule.approvals is not None or rule.requires:
                yield rule

    # -- (b) more approvals asked than people to give them -------------------------------

    def counts(self) -> Iterator[Found]:
        for action in (*FILED, *([Action.UNDO] if Action.UNDO in self.policy.lines else [])):
            if not self.policy.count_reached(action):
                continue  # only the rules' counts apply, each checked below
            need, could = self.approvals(action), self.could(())
            most = could.most()
            if most is not None and need > most:
                yield (
                    self._action_line(action),
                    (
                        f"policy {action.value} needs {counted(need, 'approval')}, but at most "
                        f"{_people(most)} could give one ({could.who()}): {_a(action)} "
                        "request can never be approved and expires after "
                        f"{self.ttl}. Give the approver role to more people under members, or "
                        f"lower policy {action.value} approvals"
                    ),
                )
        for rule in self.deciding():
            yield from self._rule_count(rule)

    def _rule_count(self, rule: Rule) -> Iterator[Found]:
        actions = rule.actions or frozenset(FILED)
        worst = max(sorted(actions), key=lambda a: rule.approvals_or(self.approvals(a)))
        need = rule.approvals_or(self.approvals(worst))
        could = self.could(self.gates(rule))
        most = could.most()
        if most is not None and need > most:
            who = f" from {rule.approvers_text()}" if rule.restricts_approvers else ""
            if rule.approvals is None and not rule.requires:
                who += f" for {_a(worst)} (the {worst.value} policy's)"
            yield (
                rule.line,
                (
                    f"policy {rule.label} needs {counted(need, 'approval')}{who}, but at most "
                    f"{_people(most)} could give one ({could.who()}; only people "
                    "with the approver role or above approve): a request under it can never be "
                    f"approved and expires after {self.ttl}. Lower its approvals, or give the "
                    "approver role to more of the people it admits"
                ),
            )
            return
        if not rule.requires:
            return
        each = [self.could((*self.gates(rule), n.who)) for n in rule.requires]
        if any(c.unbounded for c in each):
            return
        everyone = sorted(frozenset[str]().union(*(c.people for c in each)))
        read = sorted({g for c in each for g in c.read})
        by_need = dict(zip(rule.requires, each, strict=True))
        filled = assign(rule.requires, everyone, lambda n, u: u in by_need[n].people)
        short = [n for n, who in zip(rule.requires, filled, strict=True) if len(who) < n.approvals]
        if short:
            yield (
                rule.line,
                (
                    f"policy {rule.label} requires "
                    f"{' and '.join(n.text() for n in rule.requires)}, "
                    f"but the people who could approve ({', '.join(everyone) or 'nobody'}"
                    + (f", as Slack lists {', '.join(read)} now" if read else "")
                    + f") cannot fill {' and '.join(n.text() for n in short)}, one person each: a "
                    f"request under it can never be approved and expires after {self.ttl}. Lower "
                    "those approvals, or give the approver role to more people in those teams"
                ),
            )

    def approvals(self, action: Action) -> int:
        return self.policy.approvals_needed(action)

    def _action_line(self, action: Action) -> int:
        return self.policy.lines.get(action, self.org.line)

    # -- (a) a workflow step's request: one approval more, never its requester's ---------

    def steps(self) -> Iterator[Found]:
        steps = self.org.workflow_steps
        if steps is None:
            return
        never = self.nameable(steps)
        for action in FILED:
            base = self.approvals(action)
            stages: list[tuple[Rule | None, int, Could]] = [(None, base, self.could(()))]
            stages += [
                (rule, rule.approvals_or(base), self.could(self.gates(rule)))
                for rule in self.deciding(action)
            ]
            for rule, need, could in stages:
                most, anyone = could.most(never), could.most()
                if most is None or anyone is None or need > anyone:
                    continue  # unknown, or never for anyone: said as such
                if need + STEP_EXTRA_APPROVALS > most:
                    yield self._step(steps, action, rule, need, most, could)

    def _step(
        self,
        steps: StepPolicy,
        action: Action,
        rule: Rule | None,
        need: int,
        most: int,
        could: Could,
    ) -> Found:
        under = f" under {rule.label}" if rule is not None else ""
        whose = rule.label if rule is not None else f"the {action.value} policy"
        named = (
            "; the requester a step names is always one of them" if most < len(could.people) else ""
        )
        enabled = f" (line {steps.line})" if rule is not None else ""
        return rule.line if rule is not None else steps.line, (
            f"workflow_steps is enabled{enabled}, but {_a(action)} request a step files{under} "
            f"needs {counted(need + STEP_EXTRA_APPROVALS, 'approval')} ({need} by {whose}, and "
            f"{STEP_EXTRA_APPROVALS} more because a step's requester is only the workflow's "
            f"word, who never approves it), and at most {_people(most)} could give one "
            f"({could.who()}{named}): it can never be approved and expires after {self.ttl}. "
            f"Give the approver role to more people, lower "
            f"{'its' if rule else f'policy {action.value}'} approvals, or turn workflow_steps off"
        )

    def nameable(self, steps: StepPolicy) -> frozenset[str] | None:
        """Everyone a step may name as its requester (None: an unread group could hold more)."""
        if steps.requesters:
            listed = [r for r in steps.requesters if ids.USER_ID.fullmatch(r)]
            named = steps.groups()
        else:
            listed = [u for u, r in self.org.members.items() if r >= Role.REQUESTER]
            listed = [u for u in listed if not ids.USERGROUP_ID.fullmatch(u)]
            named = tuple(g for g, r in self.org.group_roles().items() if r >= Role.REQUESTER)
        if any(g not in self.groups for g in named):
            return None
        return frozenset(listed).union(*(self.groups[g] for g in named))

    # -- the admin's approval over a limit, under a rule only groups may approve ----------

    def admin_stages(self) -> Iterator[Found]:
        for limit in self.policy.limits:
            if not limit.needs_admin:
                continue
            for rule in self.policy.rules:
                if (
                    rule.deny is None
                    and rule.approver_role is None
                    and rule.approver_groups
                    and set(rule.actions or FILED) & set(limit.actions or FILED)
                ):
                    found = self._admin_stage(limit, rule)
                    if found is not None:
                        yield found

    def _admin_stage(self, limit: Limit, rule: Rule) -> Found | None:
        groups = rule.approver_groups
        if any(g in self.unread and self.unread[g] is Role.ADMIN for g in groups):
            return None  # the group's own members are admins
        admins = {u for u in self.approvers if self.org.role_of(u, self.groups) is Role.ADMIN}
        admin_groups = [g for g, r in self.unread.items() if r is Role.ADMIN]
        inside = {u for u in admins if any(u in self.groups.get(g, ()) for g in groups)}
        if inside:
            return None
        unread = [g for g in groups if g not in self.groups]
        them = " or ".join(groups)
        known = ", ".join(sorted(admins))
        said = [known] if known else []
        said += [f"members of {g}" for g in admin_groups]
        kind = " or ".join(sorted(a.value for a in (limit.actions or FILED)))
        head = (
            f"policy {rule.label} lets only {who_text(None, groups)} approve, and {limit.label} "
            f"asks one more approval from an admin for a {kind} over it (over: needs_admin); "
            f"an admin outside {them} is refused"
        )
        fix = f"Add admin to the rule's approvers (approvers: [{', '.join(groups)}, admin])"
        if unread or admin_groups:
            return rule.line, (
                f"{head}, so unless one of the org's admins ({', '.join(said)}) is in {them}, a "
                f"request over the limit under this rule can never be approved and expires after "
                f"{self.ttl}. {fix}, or make sure an admin is in {them} (check-config --online "
                "lists its members)"
            )
        nobody = f"none of the org's admins ({known}) is" if known else "the org has no admin"
        return rule.line, (
            f"{head}, and {nobody} in {them} as Slack lists it now: a request over the limit "
            f"under this rule can never be approved and expires after {self.ttl}. {fix}, or add "
            f"an admin to {them}"
        )


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _a(action: Action) -> str:
    return f"{'an' if action.value[0] in 'aeiou' else 'a'} {action.value}"
