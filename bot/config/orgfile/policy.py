"""A policy: approvals per action, expiry, self-approval, reasons and notes, reminders and
escalations (in order, before expiry), who may break glass, rules by target and size
(rules.py), and limits per requester or org (limits.py)."""

from __future__ import annotations

import time

from bot.config.orgfile.limits import LimitChecks
from bot.config.orgfile.problems import kind_of, show
from bot.config.orgfile.undo_policy import UNDO_KEYS, undo_window, written
from bot.config.orgfile.yaml_lines import Map
from bot.core import ids
from bot.core.models import Action
from bot.core.org import (
    DEFAULT_APPROVALS,
    DEFAULT_SCHEDULE_WITHIN_HOURS,
    DEFAULT_SELF_APPROVAL,
    DEFAULT_TTL_MINUTES,
    MOST_HOURS_AHEAD,
    BreakGlass,
    Need,
    Policy,
    Reminders,
    Role,
)
from bot.core.policy import Rule
from bot.core.windows import Schedule, common_open

__all__ = ["PolicyChecks"]

_POLICY_KEYS = (
    *(action.value for action in Action),
    "ttl_minutes",
    "self_approval",
    "deny_reason",
    "approve_note",
    "remind_after_minutes",
    "escalate_after_minutes",
    "escalate_to",
    "break_glass",
    "rules",
    "limits",
    "schedule_within_hours",
)
_BREAK_GLASS_KEYS = ("roles", "require_incident", "review_within_minutes")
_REMINDER_KEYS = ("remind_after_minutes", "escalate_after_minutes", "escalate_to")
_ACTION_KEYS = ("approvals", "rebind_on_change", "windows", "freezes", *_REMINDER_KEYS)


class PolicyChecks(LimitChecks):
    """An org's `policy:` mapping."""

    def policy(self, where: str, body: Map) -> Policy | None:
        raw = body.get("policy")
        if raw is None:
            return Policy()
        if not isinstance(raw, Map):
            self.problem(
                body.line_of("policy"),
                f"{where}: policy must be a mapping ({', '.join(_POLICY_KEYS)}), "
                f"not {kind_of(raw)}",
            )
            return None
        before = len(self.problems)
        self.unknown_keys(raw, _POLICY_KEYS, f"{where}: ", "policy key")
        self.duplicate_keys(raw, f"{where}: policy ", "given more than once")
        approvals: dict[Action, int] = {}
        for action in Action:
            approvals[action] = self.action_approvals(where, raw, action)
        rebind = {action: self.rebind_on_change(where, raw, action) for action in Action}
        unread = len(self.problems)
        ttl = self.whole_number(
            where,
            raw,
            "ttl_minutes",
            "policy ttl_minutes",
            DEFAULT_TTL_MINUTES,
            MOST_HOURS_AHEAD * 60,
        )
        ttl_read = len(self.problems) == unread
        self_approval = self.true_or_false(
            where, raw, "self_approval", "policy self_approval", DEFAULT_SELF_APPROVAL
        )
        deny_reason = self.need(
            where, raw, "deny_reason", Need.OPTIONAL, (Need.OPTIONAL, Need.REQUIRED)
        )
        approve_note = self.need(where, raw, "approve_note", Need.NONE, tuple(Need))
        unread = len(self.problems)
        everywhere = self.reminders(where, "policy", raw, Reminders())
        reminders: dict[Action, Reminders] = {}
        for action in Action:
            own = raw.get(action.value)
            reminders[action] = (
                self.reminders(where, f"policy {action.value}", own, everywhere)
                if isinstance(own, Map)
                else everywhere
            )
        if ttl_read and len(self.problems) == unread:  # else the order is of values not written
            for action in written(raw):
                own = raw.get(action.value)
                line = own.line if isinstance(own, Map) else raw.line
                self.reminder_order(where, action, line, reminders[action], ttl)
        glass = self.break_glass(where, raw)
        undo_window_hours = undo_window(self, where, raw)
        rules = self.rules(where, raw, glass is not None)
        limits = self.limits(where, raw)
        schedules = {
            action: self.schedule(f"{where}: policy {action.value}", own)
            if isinstance(own := raw.get(action.value), Map)
            else Schedule()
            for action in Action
        }
        self.rules_open(where, rules, schedules)
        within = self.whole_number(
            where,
            raw,
            "schedule_within_hours",
            "policy schedule_within_hours",
            DEFAULT_SCHEDULE_WITHIN_HOURS,
            MOST_HOURS_AHEAD,
        )
        if len(self.problems) > before:
            return None
        return Policy(
            approvals=approvals,
            ttl_minutes=ttl,
            self_approval=self_approval,
            deny_reason=deny_reason,
            approve_note=approve_note,
            reminders=reminders,
            break_glass=glass,
            undo_window_hours=undo_window_hours,
            rebind_on_change=rebind,
            rules=rules,
            limits=limits,
            schedules=schedules,
            schedule_within_hours=within,
            lines={a: raw.line_of(a.value) for a in Action if a.value in raw},
        )

    def rules_open(
        self, where: str, rules: tuple[Rule, ...], schedules: dict[Action, Schedule]
    ) -> None:
        """A rule's windows that never meet its action's (both apply): never runs."""
        now = time.time()
        for rule in rules:
            if rule.schedule.always:
                continue
            for action in sorted(rule.actions or (Action.UNLINK, Action.DELETE)):
                own = schedules[action]
                if not own.always and common_open((own, rule.schedule), now) is None:
                    self.problem(
                        rule.line,
                        f"{where}: policy {rule.label}: its windows and freezes never leave "
                        f"an open moment in the {action.value} policy's windows, so a request "
                        "under it could never run",
                    )

    def break_glass(self, where: str, policy: Map) -> BreakGlass | None:
        """`break_glass: {roles: [admin], require_incident: true, review_within_minutes: 60}`;
        absent: nobody may break glass."""
        like = "{roles: [admin], require_incident: true, review_within_minutes: 60}"
        raw = self.section(
            policy, "break_glass", f"{where}: policy break_glass", like, _BREAK_GLASS_KEYS
        )
        if raw is None:
            return None
        roles = self.break_glass_roles(where, raw)
        require = self.true_or_false(
            where, raw, "require_incident", "policy break_glass require_incident", True
        )
        within = self.whole_number(
            where, raw, "review_within_minutes", "policy break_glass review_within_minutes", 60
        )
        return BreakGlass(roles, require, within)

    def break_glass_roles(self, where: str, raw: Map) -> frozenset[Role]:
        value, line = raw.get("roles"), raw.line_of("roles")
        say = f"{where}: policy break_glass roles"
        if value is None:
            self.problem(line, f"{say} is missing: name who may break glass, like [admin]")
            return frozenset()
        if not isinstance(value, list) or not value:
            self.problem(line, f"{say} must be a list of roles like [admin], not {kind_of(value)}")
            return frozenset()
        roles: set[Role] = set()
        for item in value:
            role = self.role_at_least(item, Role.REQUESTER)
            if role is None:
                self.problem(
                    line,
                    f"{say} entry {show(item)} is not a role that may ask for changes "
                    "(requester, approver or admin)",
                )
                continue
            roles.add(role)
        return frozenset(roles)

    def reminders(self, where: str, what: str, raw: Map, inherited: Reminders) -> Reminders:
        """Reminder keys of one mapping; what it does not say, it takes from `inherited`."""
        remind, escalate = inherited.remind_after_minutes, inherited.escalate_after_minutes
        if "remind_after_minutes" in raw:
            remind = self.whole_number(
                where, raw, "remind_after_minutes", f"{what} remind_after_minutes", 1
            )
        if "escalate_after_minutes" in raw:
            escalate = self.whole_number(
                where, raw, "escalate_after_minutes", f"{what} escalate_after_minutes", 1
            )
        targets = inherited.escalate_to
        if "escalate_to" in raw:
            targets = self.escalation_targets(where, what, raw)
        if "escalate_to" in raw and targets and escalate is None:
            self.problem(
                raw.line_of("escalate_to"),
                f"{where}: {what} escalate_to needs escalate_after_minutes: say when to escalate",
            )
        if "escalate_after_minutes" in raw and not targets and "escalate_to" not in raw:
            self.problem(
                raw.line_of("escalate_after_minutes"),
                f"{where}: {what} escalate_after_minutes needs escalate_to: name the user "
                "groups (S…), channels (C…) or people (U…) to escalate to",
            )
        return Reminders(remind, escalate, targets)

    def escalation_targets(self, where: str, what: str, raw: Map) -> tuple[str, ...]:
        value, line = raw.get("escalate_to"), raw.line_of("escalate_to")
        if not isinstance(value, list):
            self.problem(
                line,
                f"{where}: {what} escalate_to must be a list like [S0ONCALL, C0SECOPS, U0CTO], "
                f"not {kind_of(value)}",
            )
            return ()
        found: list[str] = []
        for item in value:
            if isinstance(item, str) and any(
                pattern.fullmatch(item)
                for pattern in (ids.USERGROUP_ID, ids.CHANNEL_ID, ids.USER_ID)
            ):
                if item.startswith("D"):
                    self.problem(
                        line,
                        f"{where}: {what} escalate_to entry {item} is a direct message: name "
                        "the person (U…) instead",
                    )
                elif item not in found:
                    found.append(item)
                continue
            self.problem(
                line,
                f"{where}: {what} escalate_to entry {show(item)} is not a Slack user group "
                "(S…), channel (C…) or user (U…) id",
            )
        return tuple(found)

    def reminder_order(
        self, where: str, action: Action, line: int, reminders: Reminders, ttl: int
    ) -> None:
        """A reminder comes before the escalation, and both before the request expires."""
        remind, escalate = reminders.remind_after_minutes, reminders.escalate_after_minutes
        say = f"{where}: policy for {action.value}:"
        if remind is not None and escalate is not None and remind >= escalate:
            self.problem(
                line,
                f"{say} remind_after_minutes ({remind}) must come before escalate_after_minutes "
                f"({escalate}): approvers are reminded first, then the request is escalated",
            )
        for key, value in (("remind_after_minutes", remind), ("escalate_after_minutes", escalate)):
            if value is not None and value >= ttl:
                self.problem(
                    line,
                    f"{say} {key} ({value}) must be less than ttl_minutes ({ttl}): the request "
                    "would have expired by then",
                )

    def need(
        self, where: str, policy: Map, key: str, default: Need, allowed: tuple[Need, ...]
    ) -> Need:
        raw = policy.get(key)
        if raw is None:
            return default
        choices = " or ".join(need.value for need in allowed)
        found = next((need for need in allowed if need.value == raw), None)
        if found is None:
            why = (
                " (Deny and Cancel always ask why; the reason may be optional, not absent)"
                if raw == Need.NONE.value
                else ""
            )
            self.problem(
                policy.line_of(key),
                f"{where}: policy {key} must be {choices}, not {show(raw)}{why}",
            )
            return default
        return found

    def action_approvals(self, where: str, policy: Map, action: Action) -> int:
        raw = policy.get(action.value)
        if raw is None:
            return DEFAULT_APPROVALS
        if not isinstance(raw, Map):
            self.problem(
                policy.line_of(action.value),
                f"{where}: policy {action.value} must be a mapping like {{approvals: 2}}, "
                f"not {kind_of(raw)}",
            )
            return DEFAULT_APPROVALS
        keys = (*_ACTION_KEYS, *UNDO_KEYS) if action is Action.UNDO else _ACTION_KEYS
        self.unknown_keys(raw, keys, f"{where}: policy {action.value}: ", "key")
        return self.whole_number(
            where, raw, "approvals", f"policy {action.value} approvals", DEFAULT_APPROVALS
        )

    def rebind_on_change(self, where: str, policy: Map, action: Action) -> bool:
        """`policy: {delete: {rebind_on_change: false}}`: run even if the preview changed."""
        own = policy.get(action.value)
        if not isinstance(own, Map):
            return True
        what = f"policy {action.value} rebind_on_change"
        return self.true_or_false(where, own, "rebind_on_change", what, True)
