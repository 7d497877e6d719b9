"""A policy's `rules:` list: each rule read with its line, and every problem found at once,
including rules that can never select anything (rule_overlap.py) and rules that contradict
themselves or the org's break-glass policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.config.orgfile.problems import counted, kind_of, show
from bot.config.orgfile.rule_overlap import never_selects
from bot.config.orgfile.windows import WindowChecks
from bot.config.orgfile.yaml_lines import Map
from bot.core import ids
from bot.core.models import Action
from bot.core.policy import GLOB_CHARACTERS, Rule
from bot.core.requirements import Requirement, assign
from bot.core.roles import Role
from bot.core.text import visible

__all__ = ["RuleChecks"]

_SELECTORS = (
    "action",
    "apps",
    "numbers",
    "min_targets",
    "max_targets",
    "min_linked_numbers",
    "max_linked_numbers",
)
_EFFECTS = ("approvals", "approvers", "requires", "break_glass", "deny", "windows", "freezes")
_REQUIREMENT_KEYS = ("approvers", "approvals")
_RULE_KEYS = ("name", *_SELECTORS, *_EFFECTS, "requires_in_order")
_BREAK_GLASS = {"allowed": True, "forbidden": False}
MAX_NAME = 60
MAX_DENY = 300


class RuleChecks(WindowChecks):
    """Reads `policy: rules:`; a rule with a problem is reported and left out."""

    def rules(self, where: str, policy: Map, has_break_glass: bool) -> tuple[Rule, ...]:
        raw = self.optional_list(policy, "rules", f"{where}: policy rules", "of rules (- name: …)")
        rules: list[Rule] = []
        names: dict[str, int] = {}
        for index, body in enumerate(raw, start=1):
            rule = self.rule(where, index, body, policy.line_of("rules"), has_break_glass)
            if rule is not None:
                rules.append(rule)
            name = body.get("name") if isinstance(body, Map) else None
            if isinstance(name, str) and name in names:
                self.problem(
                    body.line_of("name"),
                    f"{where}: policy rule {index}: the name {name!r} is rule "
                    f"{names[name]}'s already; give each rule its own",
                )
            elif isinstance(name, str):
                names[name] = index
        for line, message in never_selects(rules):
            self.problem(line, f"{where}: policy {message}")
        return tuple(rules)

    def rule(
        self, where: str, index: int, body: Any, list_line: int, has_break_glass: bool
    ) -> Rule | None:
        say = f"{where}: policy rule {index}"
        if not isinstance(body, Map):
            self.problem(
                list_line,
                f"{say} must be a mapping (name, selectors, effects), not {kind_of(body)}",
            )
            return None
        before = len(self.problems)
        self.known_keys(body, _RULE_KEYS, say)
        approvers = self._approvers(say, body)
        rule = Rule(
            index=index,
            name=self._text(say, body, "name", MAX_NAME),
            line=body.line,
            actions=self._actions(say, body),
            apps=self._globs(say, body, "apps"),
            numbers=self._globs(say, body, "numbers"),
            min_targets=self._bound(say, body, "min_targets"),
            max_targets=self._bound(say, body, "max_targets"),
            min_linked_numbers=self._bound(say, body, "min_linked_numbers"),
            max_linked_numbers=self._bound(say, body, "max_linked_numbers"),
            approvals=self._bound(say, body, "approvals"),
            approver_role=approvers[0],
            approver_groups=approvers[1],
            break_glass=self._break_glass(say, body),
            deny=self._text(say, body, "deny", MAX_DENY),
            requires=self._requires(say, body),
            in_order=self._in_order(say, body),
            schedule=self.schedule(say, body),
        )
        if not any(key in body for key in _EFFECTS):
            self.problem(
                body.line,
                f"{say} sets nothing: give it approvals, approvers, requires, break_glass, "
                "windows, freezes or deny",
            )
        if "deny" in body and any(key in body for key in _EFFECTS if key != "deny"):
            others = ", ".join(k for k in _EFFECTS if k in body and k != "deny")
            self.problem(
                body.line_of("deny"),
                f"{say} both refuses (deny) and sets {others}: a refused request is never "
                "approved; keep one",
            )
        slots = sum(n.approvals for n in rule.requires)
        if rule.approvals is not None and rule.requires and rule.approvals < slots:
            self.problem(
                body.line_of("approvals"),
                f"{say} asks {counted(rule.approvals, 'approval')} but requires {slots} people "
                "(one person fills one requirement): raise approvals, or drop it",
            )
        if rule.break_glass is True and not has_break_glass:
            self.problem(
                body.line_of("break_glass"),
                f"{say} allows break-glass, but the org has no break_glass policy, so nobody "
                "may break glass; add one, or drop break_glass from the rule",
            )
        if len(self.problems) > before:
            return None
        return rule

    def _text(self, say: str, body: Map, key: str, limit: int) -> str | None:
        value = body.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(body.line_of(key), f"{say}: {key} must be some text, not {show(value)}")
            return None
        text = visible(" ".join(value.split()))
        if len(text) > limit:
            self.problem(
                body.line_of(key), f"{say}: {key} is too long ({len(text)} > {limit} characters)"
            )
        return text

    def _actions(self, say: str, body: Map) -> frozenset[Action]:
        value = body.get("action")
        if value is None:
            return frozenset()
        items = value if isinstance(value, list) else [value]
        found: set[Action] = set()
        for item in items:
            try:
                found.add(Action(item))
            except ValueError:
                self.problem(
                    body.line_of("action"),
                    f"{say}: action {show(item)} is not unlink or delete",
                )
        if not items:
            self.problem(
                body.line_of("action"), f"{say}: action is an empty list: it selects nothing"
            )
        return frozenset(found)

    def _globs(self, say: str, body: Map, key: str) -> tuple[str, ...] | None:
        if key not in body:
            return None
        example = "[sfv_app_prod_*]" if key == "apps" else "['+9180000000*']"
        value = self._listed(
            say, body, key, f"of patterns like {example}", ", which selects nothing"
        )
        if value is None:
            return None
        line = body.line_of(key)
        found: list[str] = []
        for item in value:
            if not isinstance(item, str) or not item or item != item.strip():
                self.problem(line, f"{say}: {key} entry {show(item)} is not a pattern")
            elif key == "numbers" and (
                (item[0] != "+" and item[0] not in GLOB_CHARACTERS)
                or (not GLOB_CHARACTERS & set(item) and not ids.E164.fullmatch(item))
            ):
                self.problem(
                    line,
                    f"{say}: numbers entry {show(item)} never matches: numbers are in E.164 "
                    "form, + and the country code, 8 to 16 characters in all; a pattern like "
                    "'+9180000000*' takes a range",
                )
            elif (
                key == "apps" and not GLOB_CHARACTERS & set(item) and not ids.APP_ID.fullmatch(item)
            ):
                self.problem(
                    line,
                    f"{say}: apps entry {show(item)} is not an app id (like sfv_app_abc123) nor "
                    "a pattern with * or ?, so it never matches",
                )
            elif item not in found:
                found.append(item)
        return tuple(found)

    def _bound(self, say: str, body: Map, key: str) -> int | None:
        """A whole number: at least 1, or 0 for `max_linked_numbers` (an app with none)."""
        if key not in body:
            return None
        value, least = body.get(key), 0 if key == "max_linked_numbers" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            self.problem(
                body.line_of(key),
                f"{say}: {key} must be a whole number of at least {least}, not {show(value)}",
            )
            return None
        return value

    def _listed(
        self, say: str, body: Map, key: str, like: str, empty: str = ""
    ) -> list[Any] | None:
        """`body[key]` when it is a list with something in it; else the problem, said."""
        value = body.get(key)
        if isinstance(value, list) and value:
            return value
        what = f"an empty list{empty}" if value == [] else kind_of(value)
        self.problem(body.line_of(key), f"{say}: {key} must be a list {like}, not {what}")
        return None

    def _requires(self, say: str, body: Map) -> tuple[Requirement, ...]:
        """`requires: [{approvers: [S0NETOPS], approvals: 1}, …]`: all of them, each filled by
        its own people."""
        if "requires" not in body:
            return ()
        line = body.line_of("requires")
        value = self._listed(
            say,
            body,
            "requires",
            "like [{approvers: [S0NETOPS], approvals: 1}, {approvers: [S0SECURITY], approvals: 1}]",
        )
        if value is None:
            return ()
        found: list[Requirement] = []
        for number, item in enumerate(value, start=1):
            where = f"{say} requirement {number}"
            if not isinstance(item, Map):
                self.problem(
                    line, f"{where} must be a mapping like {{approvers: [S0NETOPS], approvals: 1}}"
                )
                continue
            self.unknown_keys(item, _REQUIREMENT_KEYS, f"{where}: ", "key")
            if "approvers" not in item:
                self.problem(item.line, f"{where} names no approvers: say whose approvals count")
                continue
            role, groups = self._approvers(where, item)
            approvals = self._bound(where, item, "approvals") if "approvals" in item else 1
            if approvals is not None and (role is not None or groups):
                found.append(Requirement(approvals, role, groups))
        return tuple(found)

    def _in_order(self, say: str, body: Map) -> bool:
        """`requires_in_order: true`: the requirements are stages, one after another."""
        value = self.true_or_false(say, body, "requires_in_order", "requires_in_order", False)
        if value and "requires" not in body:
            self.problem(
                body.line_of("requires_in_order"),
                f"{say}: requires_in_order orders the requirements, but the rule has no "
                "requires: list them, or drop it",
            )
        return value

    def _approvers(self, say: str, body: Map) -> tuple[Role | None, tuple[str, ...]]:
        """The lowest role named (it and those above may approve) and the user groups."""
        if "approvers" not in body:
            return None, ()
        line = body.line_of("approvers")
        value = self._listed(
            say, body, "approvers", "of roles and user groups like [admin, S0NETOPS]"
        )
        if value is None:
            return None, ()
        roles: list[Role] = []
        groups: list[str] = []
        for item in value:
            if isinstance(item, str) and ids.USERGROUP_ID.fullmatch(item):
                groups.append(item)
                continue
            role = self.role_at_least(item, Role.APPROVER)
            if role is None:
                self.problem(
                    line,
                    f"{say}: approvers entry {show(item)} is neither a role that may approve "
                    "(approver, admin) nor a Slack user group id (S…)",
                )
                continue
            roles.append(role)
        return (min(roles) if roles else None), tuple(dict.fromkeys(groups))

    @staticmethod
    def role_at_least(item: object, least: Role) -> Role | None:
        """The role `item` names, if it is one and at least `least`."""
        try:
            role = Role.parse(item) if isinstance(item, str) else None
        except ValueError:
            return None
        return role if role is not None and role >= least else None

    def _break_glass(self, say: str, body: Map) -> bool | None:
        if "break_glass" not in body:
            return None
        value = body.get("break_glass")
        if value not in _BREAK_GLASS:
            self.problem(
                body.line_of("break_glass"),
                f"{say}: break_glass must be allowed or forbidden, not {show(value)}",
            )
            return None
        return _BREAK_GLASS[value]

    def rules_satisfiable(
        self, where: str, rules: tuple[Rule, ...], members: Mapping[str, Role]
    ) -> None:
        """A rule asking more approvals than the people it admits could ever give."""
        if any(ids.USERGROUP_ID.fullmatch(m) for m in members):
            return  # how many people a user group holds is Slack's to say, at run time
        for rule in rules:
            self._requirements_satisfiable(where, rule, members)
            needed = rule.approvals_or(0)
            if rule.approver_groups or not needed:
                continue
            able = [u for u, r in members.items() if r >= Role.APPROVER and rule.admits(u, r, {})]
            if needed > len(able):
                who = f" from {rule.approvers_text()}" if rule.restricts_approvers else ""
                self.problem(
                    rule.line,
                    f"{where}: policy {rule.label} needs {counted(needed, 'approval')}{who}, "
                    f"but only {counted(len(able), 'member')} can give one",
                )

    def _requirements_satisfiable(
        self, where: str, rule: Rule, members: Mapping[str, Role]
    ) -> None:
        """Teams a rule requires that the people listed could never fill, one person each."""
        if not rule.requires or any(n.approver_groups for n in rule.requires):
            return
        able = [u for u, r in members.items() if r >= Role.APPROVER and rule.admits(u, r, {})]
        filled = assign(rule.requires, able, lambda need, u: need.admits(u, members[u], {}))
        short = [
            n.text() for n, who in zip(rule.requires, filled, strict=True) if len(who) < n.approvals
        ]
        if short:
            wanted = " and ".join(n.text() for n in rule.requires)
            self.problem(
                rule.line,
                f"{where}: policy {rule.label} requires {wanted}, but the members listed cannot "
                f"fill {' and '.join(short)} (one person fills one requirement)",
            )
