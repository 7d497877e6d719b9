"""Organizations as the workflow sees them: members' roles and each org's approval policy.

Built by `bot.config.orgfile` from the YAML file; nothing here reads files or the environment.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from pydantic import SecretStr

from bot.core import ids
from bot.core.limits import Limit, LimitCheck
from bot.core.models import STEP_EXTRA_APPROVALS, Action, Request, Status, Target
from bot.core.policy import Rule, RuleDecision, decide
from bot.core.requirements import Requirement
from bot.core.roles import Groups as Groups
from bot.core.roles import Role as Role
from bot.core.scheduling import schedules_of
from bot.core.windows import Schedule

DEFAULT_APPROVALS = 1
DEFAULT_TTL_MINUTES = 60
DEFAULT_SELF_APPROVAL = False
DEFAULT_UNDO_WINDOW_HOURS = 24
DEFAULT_SCHEDULE_WITHIN_HOURS = 168  # how far ahead --at may ask: a week
MOST_HOURS_AHEAD = 8784
"""How far `schedule_within_hours`, an undo's `window_hours` and `ttl_minutes` may reach: a
year (a time much further has no date a card can show, nor a window the horizon can find)."""
ADMIN_TOO = Requirement(approvals=1, approver_role=Role.ADMIN)  # over a limit: `needs_admin`


class Need(enum.Enum):
    """Whether a decision asks the person for a text (a reason, a note): never, may, must."""

    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


@dataclass(frozen=True)
class Reminders:
    """When a request still pending is re-announced to its approvers, when it is escalated, and
    to whom (user groups `S…`, channels `C…`/`G…`, people `U…`/`W…`); None: never."""

    remind_after_minutes: int | None = None
    escalate_after_minutes: int | None = None
    escalate_to: tuple[str, ...] = ()

    def remind_at(self, created_at: float) -> float | None:
        return _after(created_at, self.remind_after_minutes)

    def escalate_at(self, created_at: float) -> float | None:
        return _after(created_at, self.escalate_after_minutes) if self.escalate_to else None


def _after(start: float, minutes: int | None) -> float | None:
    return None if minutes is None else start + 60 * minutes


@dataclass(frozen=True)
class BreakGlass:
    """Who may run a request at once, without a second person (the roles named, exactly: a
    role not named never may), whether an incident id is required, and how soon an approver
    must review it afterwards before it is escalated."""

    roles: frozenset[Role]
    require_incident: bool = True
    review_within_minutes: int = 60

    def allows(self, role: Role | None) -> bool:
        return role is not None and role in self.roles


@dataclass(frozen=True)
class Policy:
    """How many distinct approvers each action needs, and how long a request may wait.

    Unspecified values default to one approval per action, 60 minutes, and no self-approval.
    Deny and Cancel always ask why (`deny_reason`: may or must answer); Approve acts at once
    unless `approve_note` asks for a note.
    """

    approvals: Mapping[Action, int] = field(
        default_factory=lambda: dict.fromkeys(Action, DEFAULT_APPROVALS), hash=False
    )
    ttl_minutes: int = DEFAULT_TTL_MINUTES
    self_approval: bool = DEFAULT_SELF_APPROVAL
    deny_reason: Need = Need.OPTIONAL
    approve_note: Need = Need.NONE
    reminders: Mapping[Action, Reminders] = field(
        default_factory=lambda: dict.fromkeys(Action, Reminders()), hash=False
    )
    break_glass: BreakGlass | None = None  # None: nobody may break glass in this org
    undo_window_hours: int = DEFAULT_UNDO_WINDOW_HOURS  # how long Undo is offered after a run
    # per action: a preview changed before running sends the request back for approval
    rebind_on_change: Mapping[Action, bool] = field(
        default_factory=lambda: dict.fromkeys(Action, True), hash=False
    )
    rules: tuple[Rule, ...] = ()  # by target and size, first match wins (bot/core/policy.py)
    limits: tuple[Limit, ...] = ()  # per requester or org, all at once (bot/core/limits.py)
    # per action: change windows and freezes (bot/core/windows.py; none: any time), and how
    # far ahead `--at` may ask
    schedules: Mapping[Action, Schedule] = field(
        default_factory=lambda: dict.fromkeys(Action, Schedule()), hash=False
    )
    schedule_within_hours: int = DEFAULT_SCHEDULE_WITHIN_HOURS
    # where each action's policy is written in the org file (for check-config's warnings)
    lines: Mapping[Action, int] = field(default_factory=dict, hash=False, compare=False)

    def count_reached(self, action: Action) -> bool:
        """Whether some request of `action` can take the action's own approvals: one no rule
        selects (no rule selects every one; first match wins), or one under a rule setting no
        count of its own. False: only the rules' counts apply."""
        rules = [r for r in self.rules if not r.actions or action in r.actions]
        if not any(r.selects_every(action) for r in rules):
            return True
        return any(r.deny is None and r.approvals is None and not r.requires for r in rules)

    def approvals_needed(self, action: Action) -> int:
        return self.approvals.get(action, DEFAULT_APPROVALS)

    def rebinds(self, action: Action) -> bool:
        return self.rebind_on_change.get(action, True)

    def decide(
        self, action: Action, targets: Iterable[Target], linked: int | None = None
    ) -> RuleDecision:
        """Which rule each target falls under, and what the request needs as a whole (no
        rules: the action's approvals, as ever)."""
        return decide(
            self.rules,
            action,
            tuple(targets),
            approvals=self.approvals_needed(action),
            linked=linked,
        )

    def limits_for(self, action: Action) -> tuple[Limit, ...]:
        """The limits a request of `action` counts against (every one that names it)."""
        return tuple(limit for limit in self.limits if limit.applies(action))

    def limit_check(
        self, action: Action, requester: str, targets: int, now: float, *, break_glass: bool = False
    ) -> LimitCheck | None:
        """What the store decides in the filing's transaction (None: no limit applies)."""
        limits = self.limits_for(action)
        return LimitCheck(limits, requester, targets, now, break_glass) if limits else None

    def decide_for(self, request: Request) -> RuleDecision:
        """The rules' decision on a filed request, with what was learnt of it since: how many
        numbers it would unlink (its preview), and an admin's approval when it was filed over
        a limit that asks one."""
        ruled = self.decide(
            request.action, (t.target for t in request.targets), request.linked_numbers
        )
        if request.needs_admin is None:
            return ruled
        return replace(ruled, extra=((ADMIN_TOO, request.needs_admin),))

    def ruled_for(self, request: Request) -> RuleDecision | None:
        """`decide_for`, or None where nothing beyond the action's approvals can apply (no
        rules, no admin asked): those requests read exactly as before rules existed."""
        if not self.rules and request.needs_admin is None:
            return None
        return self.decide_for(request)

    def reminders_for(self, action: Action) -> Reminders:
        return self.reminders.get(action, Reminders())

    def schedules_for(
        self, action: Action, targets: Iterable[Target], linked: int | None = None
    ) -> tuple[Schedule, ...]:
        """The windows and freezes a request answers to (none: it runs once approved)."""
        own = self.schedules.get(action, Schedule())
        decision = self.decide(action, targets, linked) if self.rules else None
        return schedules_of(own, decision, action)


@dataclass(frozen=True)
class StepPolicy:
    """Workflow Builder steps may file into the org (absent from the org file: they may not),
    naming as requester only the people and user groups in `requesters` (empty: anyone who
    holds the requester role). Slack does not say who ran the workflow, so this bounds whom
    a workflow's author can name."""

    requesters: tuple[str, ...] = ()
    line: int = field(default=0, compare=False)  # `workflow_steps:` in the org file (0: none)

    def groups(self) -> tuple[str, ...]:
        return tuple(r for r in self.requesters if ids.USERGROUP_ID.fullmatch(r))

    def names(self, user: str, groups: Groups | None = None) -> bool:
        """Whether a step may name `user` as its requester (as far as groups are known)."""
        if not self.requesters or user in self.requesters:
            return True
        return any(user in (groups or {}).get(g, ()) for g in self.groups())

    def unknown_groups(self, groups: Groups | None) -> list[str]:
        return [g for g in self.groups() if g not in (groups or {})]


# -- HTTP API clients (bot/api) -------------------------------------------------------------


@dataclass(frozen=True)
class ApiClient:
    """A tool calling the HTTP API for one org, with its token (read from `token_env`; the
    file never holds it). It acts as a Slack user of the org (`acts_as`, whose role applies)
    or as its own service identity `api:<identity>` with `role` (viewer or requester)."""

    name: str
    org: str
    token: SecretStr = field(repr=False)
    token_env: str
    acts_as: str
    role: Role | None = None  # set for a service identity; a Slack user's role is the org's

    @property
    def is_service(self) -> bool:
        return self.role is not None


@dataclass(frozen=True)
class Org:
    name: str
    api_key: SecretStr
    api_key_env: str
    approval_channel: str
    outcome_channel: str | None = None
    command_channels: tuple[str, ...] = ()
    policy: Policy = field(default_factory=Policy)
    members: Mapping[str, Role] = field(default_factory=dict, hash=False)
    api_clients: tuple[ApiClient, ...] = field(default=(), hash=False)
    workflow_steps: StepPolicy | None = None  # None: workflow steps may not file here
    line: int = field(default=0, compare=False)  # where it starts in the org file (0: none)

    def role_of(self, user: str, groups: Groups | None = None) -> Role | None:
        """The highest of the user's own role and those of the known groups they are in."""
        found = [self.members[user]] if user in self.members else []
        found += [c.role for c in self.api_clients if c.role is not None and c.acts_as == user]
        for group, role in self.group_roles().items():
            if groups is not None and user in groups.get(group, ()):
                found.append(role)
        return max(found, default=None)

    def group_roles(self) -> dict[str, Role]:
        """Roles granted to Slack user groups (`S…` keys of `members`), in file order."""
        return {k: r for k, r in self.members.items() if ids.USERGROUP_ID.fullmatch(k)}

    def unknown_groups(self, groups: Groups | None, at_least: Role = Role.VIEWER) -> list[str]:
        """Groups granting `at_least` whose members are not known yet."""
        return [
            g for g, r in self.group_roles().items() if r >= at_least and g not in (groups or {})
        ]

    def allows_channel(self, channel_id: str) -> bool:
        """Whether commands for this org may be given in `channel_id` (no list: anywhere)."""
        return not self.command_channels or channel_id in self.command_channels

    def approvers(self, groups: Groups | None = None) -> tuple[str, ...]:
        """People who may approve or deny, in file order (then known group members)."""
        found = [
            user
            for user, role in self.members.items()
            if role >= Role.APPROVER and not ids.USERGROUP_ID.fullmatch(user)
        ]
        for group, role in self.group_roles().items():
            if role >= Role.APPROVER:
                found += sorted(u for u in (groups or {}).get(group, ()) if u not in found)
        return tuple(found)

    def approver_groups(self) -> tuple[str, ...]:
        return tuple(g for g, r in self.group_roles().items() if r >= Role.APPROVER)

    def groups(self) -> tuple[str, ...]:
        """Every user group whose members the org file needs: roles' and steps' requesters."""
        steps = self.workflow_steps.groups() if self.workflow_steps is not None else ()
        rules = (g for r in self.policy.rules for g in r.groups())
        return tuple(dict.fromkeys((*self.group_roles(), *steps, *rules)))


@dataclass(frozen=True)
class OrgDirectory:
    orgs: Mapping[str, Org] = field(hash=False)

    def get(self, name: str) -> Org | None:
        return self.orgs.get(name)

    def memberships(self, user: str, groups: Groups | None = None) -> list[tuple[Org, Role]]:
        """Every org `user` belongs to, with the role held there, in file order."""
        found: list[tuple[Org, Role]] = []
        for org in self.orgs.values():
            role = org.role_of(user, groups)
            if role is not None:
                found.append((org, role))
        return found

    def groups(self, orgs: Iterable[Org] | None = None) -> frozenset[str]:
        """Every user group any of `orgs` (default: all) grants a role to."""
        chosen = self.orgs.values() if orgs is None else orgs
        return frozenset(g for org in chosen for g in org.groups())

    def api_clients(self) -> list[ApiClient]:
        """Every HTTP API client of every org, in file order."""
        return [client for org in self.orgs.values() for client in org.api_clients]


def eligible_approvers(org: Org, request: Request, groups: Groups | None = None) -> frozenset[str]:
    """Who may count towards this request's quorum under the org file in force now (group
    members as far as they are known), within whom its policy rules admit."""
    ruled = org.policy.ruled_for(request)
    return frozenset(
        user
        for user in org.approvers(groups)
        if (user != request.requester or may_approve_own(org, request))
        and (ruled is None or ruled.admits(user, org.role_of(user, groups), groups))
    )


def may_approve_own(org: Org, request: Request) -> bool:
    """Self-approval, where the policy allows it, is for a requester who asked themselves: a
    workflow step's requester is only a name the workflow gave."""
    return org.policy.self_approval and not request.filed_by_step


def step_approvals(approvals: int, by_step: bool) -> int:
    """The policy's count, and one more for a workflow step's request (whoever built the
    workflow may be an approver: STEP_EXTRA_APPROVALS)."""
    return approvals + (STEP_EXTRA_APPROVALS if by_step else 0)


def approvals_now(org: Org, request: Request) -> int:
    """What a request needs under the org file in force: the larger of what it was filed with
    and what its rules ask now, a step's one more on top, as at filing."""
    ruled = org.policy.decide_for(request).approvals
    return max(request.approvals_needed, step_approvals(ruled, request.filed_by_step))


def in_force(request: Request, org: Org | None, groups: Groups | None = None) -> Request:
    """A pending request as the org file in force now sees it: approvals only from people who
    still hold the role, and what it needs now (`approvals_now`).

    While an approver group's members are not known yet, approvals nobody can place are
    shown as given: only the quorum (which waits for the lists) may withdraw them."""
    if org is None or request.status is not Status.PENDING:
        return request
    eligible = eligible_approvers(org, request, groups)
    unknown = bool(org.unknown_groups(groups, Role.APPROVER))
    return replace(
        request,
        approvals=tuple(a for a in request.approvals if a.approver in eligible or unknown),
        approvals_needed=approvals_now(org, request),
    )


class OrgsInForce:
    """The org file in force: one immutable OrgDirectory that every part reads through, swapped
    whole on reload (SIGHUP), so no part ever decides by an older file than another."""

    def __init__(self, current: OrgDirectory) -> None:
        self._current = current

    @property
    def current(self) -> OrgDirectory:
        return self._current

    def swap(self, new: OrgDirectory) -> None:
        self._current = new
