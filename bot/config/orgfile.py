"""Organizations, their members' roles and approval policy, loaded from one YAML file.

The file is checked whole before the bot starts: every problem is reported at once, each with
its line and a reason a person can act on, because a half-understood authorization file is
worse than none. API keys never sit in the file; it names the environment variable holding each.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from bot.core import ids
from bot.core.models import Action
from bot.core.org import (
    DEFAULT_APPROVALS,
    DEFAULT_SELF_APPROVAL,
    DEFAULT_TTL_MINUTES,
    ApiClient,
    BreakGlass,
    Need,
    Org,
    OrgDirectory,
    Policy,
    Reminders,
    Role,
    StepPolicy,
)
from bot.errors import OrgFileError

ORG_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
ENV_VAR = re.compile(r"[A-Z_][A-Z0-9_]*")

_TOP_KEYS = ("organizations",)
_ORG_KEYS = (
    "api_key_env",
    "approval_channel",
    "outcome_channel",
    "command_channels",
    "policy",
    "members",
    "api_clients",
    "workflow_steps",
)
_STEP_KEYS = ("enabled", "requesters")
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
)
_BREAK_GLASS_KEYS = ("roles", "require_incident", "review_within_minutes")
_REMINDER_KEYS = ("remind_after_minutes", "escalate_after_minutes", "escalate_to")
_ACTION_KEYS = ("approvals", *_REMINDER_KEYS)
# HTTP API clients (bot/api): each names its token's variable, and acts as a Slack user or as
# a service identity with a role that can ask or look, never approve (approvals are people's)
_API_CLIENT_KEYS = ("token_env", "acts_as", "identity", "role")
API_CLIENT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
API_SERVICE_ROLES = (Role.VIEWER, Role.REQUESTER)
MIN_API_TOKEN = 24


def summary(directory: OrgDirectory) -> str:
    """A human overview for `check-config`: names key variables, never keys."""
    lines: list[str] = []
    for org in directory.orgs.values():
        actions = ", ".join(
            f"{action.value} {_count(org.policy.approvals_needed(action), 'approval')}"
            for action in Action
        )
        self_approval = "allowed" if org.policy.self_approval else "not allowed"
        lines += [
            f"org {org.name}",
            f"  api key:          from {org.api_key_env}",
            f"  approval channel: {org.approval_channel}",
            f"  outcome channel:  {org.outcome_channel or 'none'}",
            f"  command channels: {', '.join(org.command_channels) or 'anywhere'}",
            f"  policy:           {actions}; requests expire after "
            f"{_count(org.policy.ttl_minutes, 'minute')}; self-approval {self_approval}",
            f"  decisions:        deny/cancel reason {org.policy.deny_reason.value}; "
            f"approve note {org.policy.approve_note.value}",
            *(
                f"  {action.value + ' reminders:':<18}"
                f"{_reminders(org.policy.reminders_for(action))}"
                for action in Action
            ),
            f"  break-glass:      {_break_glass(org.policy.break_glass)}",
            f"  members:          {_member_counts(org.members)}",
            f"  workflow steps:   {_steps(org.workflow_steps)}",
        ]
        if org.group_roles():
            lines.append(f"  user groups:      {_groups(org)}")
        if org.api_clients:
            lines.append(f"  api clients:      {_api_clients(org)}")
    return "\n".join(lines)


def load_orgs(path: Path, environ: Mapping[str, str] | None = None) -> OrgDirectory:
    """Read and check the organization file; API keys come from `environ` (default: os.environ)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OrgFileError(
            [f"{path}: no such file (SFVOPI_ORGS_FILE names the organization file)"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise OrgFileError([f"{path}: cannot read the organization file: {reason}"]) from None
    return parse_orgs(text, environ, source=str(path))


def parse_orgs(
    text: str, environ: Mapping[str, str] | None = None, source: str = "<string>"
) -> OrgDirectory:
    """Check the YAML `text` and build the directory, or raise OrgFileError with every problem."""
    return _Checker(source, os.environ if environ is None else environ).run(text)


class _Map(dict[Any, Any]):
    """A YAML mapping that remembers where it (its key, if nested) and its keys were written."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int]] = []

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    """SafeLoader that records line numbers and duplicate keys, which plain YAML drops."""


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    mapping = _Map(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable):
            key = str(key)
        if key in mapping:
            mapping.duplicates.append((key, line))
            continue
        value = loader.construct_object(value_node, deep=True)
        if isinstance(value, _Map):
            value.line = line
        mapping[key] = value
        mapping.key_lines[key] = line
    return mapping


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


class _Checker:
    """One pass over the parsed file, collecting every problem rather than stopping at the first."""

    def __init__(self, source: str, environ: Mapping[str, str]) -> None:
        self.source = source
        self.environ = environ
        self.problems: list[tuple[int, str]] = []
        self.api_tokens: list[tuple[SecretStr, str, int]] = []  # (token, client, line)

    def problem(self, line: int, message: str) -> None:
        self.problems.append((line, message))

    def run(self, text: str) -> OrgDirectory:
        try:
            document = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
        except yaml.MarkedYAMLError as exc:
            raise OrgFileError([self._yaml_error(exc)]) from None
        except yaml.YAMLError as exc:
            raise OrgFileError([f"{self.source}: YAML syntax error: {exc}"]) from None
        orgs = self.document(document)
        if self.problems:
            self.problems.sort(key=lambda item: item[0])
            raise OrgFileError([f"{self.source}:{line}: {msg}" for line, msg in self.problems])
        return OrgDirectory(orgs)

    def _yaml_error(self, exc: yaml.MarkedYAMLError) -> str:
        """Where and what, without PyYAML's snippet of the file (it could hold anything)."""
        mark = exc.problem_mark or exc.context_mark
        where = f"{self.source}:{mark.line + 1}" if mark else self.source
        reason = ": ".join(part for part in (exc.context, exc.problem) if part) or "unreadable"
        column = f" (column {mark.column + 1})" if mark else ""
        return f"{where}: YAML syntax error{column}: {reason}"

    def document(self, document: Any) -> dict[str, Org]:
        if not isinstance(document, _Map) or "organizations" not in document:
            line = document.line if isinstance(document, _Map) else 1
            self.problem(line, "missing 'organizations': the file must start with `organizations:`")
            if isinstance(document, _Map):
                self.unknown_keys(document, _TOP_KEYS, "", "top-level key")
            return {}
        self.unknown_keys(document, _TOP_KEYS, "", "top-level key")
        self.duplicate_keys(document, "", "given more than once")
        organizations = document["organizations"]
        line = document.line_of("organizations")
        if not isinstance(organizations, _Map):
            self.problem(
                line,
                "organizations must map organization names to their settings, "
                f"not {_kind(organizations)}",
            )
            return {}
        if not organizations:
            self.problem(line, "organizations is empty: define at least one organization")
        self.duplicate_keys(organizations, "org ", "defined more than once")
        orgs: dict[str, Org] = {}
        for name, body in organizations.items():
            org = self.org(str(name), body, organizations.line_of(name))
            if org is not None:
                orgs[org.name] = org
        self.distinct_api_clients()
        return orgs

    def org(self, name: str, body: Any, line: int) -> Org | None:
        where = f"org {name}"
        ok = True
        if not ORG_NAME.fullmatch(name):
            ok = False
            self.problem(
                line,
                f"org {name!r}: the name must be 1 to 32 lower-case letters, digits, '-' or '_', "
                "starting with a letter or digit",
            )
        if not isinstance(body, _Map):
            self.problem(line, f"{where}: expected a mapping of settings, not {_kind(body)}")
            return None
        problems_before = len(self.problems)
        self.unknown_keys(body, _ORG_KEYS, f"{where}: ", "key")
        self.duplicate_keys(body, f"{where}: ", "given more than once")

        api_key = self.api_key(where, body)
        approval_channel = self.channel(where, body, "approval_channel", required=True)
        outcome_channel = self.channel(where, body, "outcome_channel", required=False)
        command_channels = self.channel_list(where, body)
        policy = self.policy(where, body)
        members = self.members(where, body)
        if policy is not None and members is not None:
            self.satisfiable(where, body, policy, members)
        api_clients = self.api_clients(name, body, members or {})
        steps = self.workflow_steps(where, body, members)

        if not ok or len(self.problems) > problems_before:
            return None
        assert api_key is not None and approval_channel is not None
        assert policy is not None and members is not None
        return Org(
            name=name,
            api_key=api_key,
            api_key_env=body["api_key_env"],
            approval_channel=approval_channel,
            outcome_channel=outcome_channel,
            command_channels=command_channels,
            policy=policy,
            members=members,
            api_clients=api_clients,
            workflow_steps=steps,
        )

    def api_key(self, where: str, body: _Map) -> SecretStr | None:
        line = body.line_of("api_key_env")
        variable = body.get("api_key_env")
        if variable is None:
            self.problem(
                line,
                f"{where}: api_key_env is missing: name the environment variable that holds "
                "the org's SFVoPI API key",
            )
            return None
        if not isinstance(variable, str) or not ENV_VAR.fullmatch(variable):
            self.problem(
                line,
                f"{where}: api_key_env must name an environment variable, like "
                "SFVOPI_API_KEY_ACME (upper-case letters, digits and '_'), not hold the key",
            )
            return None
        value = self.environ.get(variable)
        if value is None:
            self.problem(line, f"{where}: api_key_env {variable} is not set")
            return None
        if not value.strip():
            self.problem(line, f"{where}: api_key_env {variable} is set but empty")
            return None
        return SecretStr(value.strip())

    def channel(self, where: str, body: _Map, key: str, *, required: bool) -> str | None:
        value = body.get(key)
        if value is None:
            if required:
                self.problem(body.line_of(key), f"{where}: {key} is missing")
            return None
        if not self._channel_ok(value):
            self.problem(body.line_of(key), f"{where}: {key} {_not_channel(value)}")
            return None
        return str(value)

    def channel_list(self, where: str, body: _Map) -> tuple[str, ...]:
        value = body.get("command_channels")
        line = body.line_of("command_channels")
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(
                line,
                f"{where}: command_channels must be a list of channel ids, like [C0123ABCD], "
                f"not {_kind(value)}",
            )
            return ()
        channels: list[str] = []
        for item in value:
            if self._channel_ok(item):
                if item not in channels:
                    channels.append(item)
            else:
                self.problem(line, f"{where}: command_channels entry {_not_channel(item)}")
        return tuple(channels)

    @staticmethod
    def _channel_ok(value: Any) -> bool:
        return isinstance(value, str) and ids.CHANNEL_ID.fullmatch(value) is not None

    def policy(self, where: str, body: _Map) -> Policy | None:
        raw = body.get("policy")
        if raw is None:
            return Policy()
        if not isinstance(raw, _Map):
            self.problem(
                body.line_of("policy"),
                f"{where}: policy must be a mapping ({', '.join(_POLICY_KEYS)}), not {_kind(raw)}",
            )
            return None
        before = len(self.problems)
        self.unknown_keys(raw, _POLICY_KEYS, f"{where}: ", "policy key")
        self.duplicate_keys(raw, f"{where}: policy ", "given more than once")
        approvals: dict[Action, int] = {}
        for action in Action:
            approvals[action] = self.action_approvals(where, raw, action)
        ttl = self.whole_number(
            where, raw, "ttl_minutes", "policy ttl_minutes", DEFAULT_TTL_MINUTES
        )
        self_approval = raw.get("self_approval", DEFAULT_SELF_APPROVAL)
        if not isinstance(self_approval, bool):
            self.problem(
                raw.line_of("self_approval"),
                f"{where}: policy self_approval must be true or false, not {_shown(self_approval)}",
            )
        deny_reason = self.need(
            where, raw, "deny_reason", Need.OPTIONAL, (Need.OPTIONAL, Need.REQUIRED)
        )
        approve_note = self.need(where, raw, "approve_note", Need.NONE, tuple(Need))
        everywhere = self.reminders(where, "policy", raw, Reminders())
        reminders: dict[Action, Reminders] = {}
        for action in Action:
            own = raw.get(action.value)
            reminders[action] = (
                self.reminders(where, f"policy {action.value}", own, everywhere)
                if isinstance(own, _Map)
                else everywhere
            )
            line = own.line if isinstance(own, _Map) else raw.line
            self.reminder_order(where, action, line, reminders[action], ttl)
        glass = self.break_glass(where, raw)
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
        )

    # -- break-glass: who may run a request at once, reviewed afterwards -------------------

    def break_glass(self, where: str, policy: _Map) -> BreakGlass | None:
        """`break_glass: {roles: [admin], require_incident: true, review_within_minutes: 60}`;
        absent: nobody may break glass."""
        if "break_glass" not in policy:
            return None
        raw, line = policy.get("break_glass"), policy.line_of("break_glass")
        if not isinstance(raw, _Map):
            self.problem(
                line,
                f"{where}: policy break_glass must be a mapping like {{roles: [admin], "
                f"require_incident: true, review_within_minutes: 60}}, not {_kind(raw)}",
            )
            return None
        self.unknown_keys(raw, _BREAK_GLASS_KEYS, f"{where}: policy break_glass: ", "key")
        self.duplicate_keys(raw, f"{where}: policy break_glass ", "given more than once")
        roles = self.break_glass_roles(where, raw)
        require = raw.get("require_incident", True)
        if not isinstance(require, bool):
            self.problem(
                raw.line_of("require_incident"),
                f"{where}: policy break_glass require_incident must be true or false, not "
                f"{_shown(require)}",
            )
            require = True
        within = self.whole_number(
            where, raw, "review_within_minutes", "policy break_glass review_within_minutes", 60
        )
        return BreakGlass(roles, require, within)

    def break_glass_roles(self, where: str, raw: _Map) -> frozenset[Role]:
        value, line = raw.get("roles"), raw.line_of("roles")
        say = f"{where}: policy break_glass roles"
        if value is None:
            self.problem(line, f"{say} is missing: name who may break glass, like [admin]")
            return frozenset()
        if not isinstance(value, list) or not value:
            self.problem(line, f"{say} must be a list of roles like [admin], not {_kind(value)}")
            return frozenset()
        roles: set[Role] = set()
        for item in value:
            try:
                role = Role.parse(item) if isinstance(item, str) else None
            except ValueError:
                role = None
            if role is None or role < Role.REQUESTER:
                self.problem(
                    line,
                    f"{say} entry {_shown(item)} is not a role that may ask for changes "
                    "(requester, approver or admin)",
                )
                continue
            roles.add(role)
        return frozenset(roles)

    def reminders(self, where: str, what: str, raw: _Map, inherited: Reminders) -> Reminders:
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

    def escalation_targets(self, where: str, what: str, raw: _Map) -> tuple[str, ...]:
        value, line = raw.get("escalate_to"), raw.line_of("escalate_to")
        if not isinstance(value, list):
            self.problem(
                line,
                f"{where}: {what} escalate_to must be a list like [S0ONCALL, C0SECOPS, U0CTO], "
                f"not {_kind(value)}",
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
                f"{where}: {what} escalate_to entry {_shown(item)} is not a Slack user group "
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
        self, where: str, policy: _Map, key: str, default: Need, allowed: tuple[Need, ...]
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
                f"{where}: policy {key} must be {choices}, not {_shown(raw)}{why}",
            )
            return default
        return found

    def action_approvals(self, where: str, policy: _Map, action: Action) -> int:
        raw = policy.get(action.value)
        if raw is None:
            return DEFAULT_APPROVALS
        if not isinstance(raw, _Map):
            self.problem(
                policy.line_of(action.value),
                f"{where}: policy {action.value} must be a mapping like {{approvals: 2}}, "
                f"not {_kind(raw)}",
            )
            return DEFAULT_APPROVALS
        self.unknown_keys(raw, _ACTION_KEYS, f"{where}: policy {action.value}: ", "key")
        return self.whole_number(
            where, raw, "approvals", f"policy {action.value} approvals", DEFAULT_APPROVALS
        )

    def whole_number(self, where: str, mapping: _Map, key: str, what: str, default: int) -> int:
        value = mapping.get(key, default)
        line = mapping.line_of(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(line, f"{where}: {what} must be a whole number, not {_shown(value)}")
            return default
        if value < 1:
            self.problem(line, f"{where}: {what} must be at least 1, not {value}")
            return default
        return value

    def members(self, where: str, body: _Map) -> dict[str, Role] | None:
        raw = body.get("members")
        line = body.line_of("members")
        if raw is None:
            self.problem(
                line,
                f"{where}: members is missing: map Slack user ids to roles, like U0123ABCD: "
                "approver",
            )
            return None
        if not isinstance(raw, _Map):
            self.problem(
                line, f"{where}: members must map Slack user ids to roles, not {_kind(raw)}"
            )
            return None
        self.duplicate_keys(raw, f"{where}, member ", "listed more than once")
        before = len(self.problems)
        members: dict[str, Role] = {}
        for user, role_text in raw.items():
            member_line = raw.line_of(user)
            member = f"{where}, member {user}"
            if not isinstance(user, str) or not (
                ids.USER_ID.fullmatch(user) or ids.USERGROUP_ID.fullmatch(user)
            ):
                self.problem(
                    member_line,
                    f"{member}: {_shown(user)} is not a Slack user id (expected like U0123ABCD; "
                    "copy it from the person's profile: ⋮ → Copy member ID) nor a user group "
                    "id (like S0123ABCD)",
                )
                continue
            if not isinstance(role_text, str):
                self.problem(
                    member_line,
                    f"{member}: role must be one of "
                    f"{', '.join(r.label for r in Role)}, not {_kind(role_text)}",
                )
                continue
            try:
                members[user] = Role.parse(role_text)
            except ValueError as exc:
                self.problem(member_line, f"{member}: {exc}")
        return members if len(self.problems) == before else None

    def satisfiable(
        self, where: str, body: _Map, policy: Policy, members: Mapping[str, Role]
    ) -> None:
        """Report any action no request could ever get enough approvals for."""
        if any(ids.USERGROUP_ID.fullmatch(m) for m in members):
            return  # how many people a user group holds is Slack's to say, at run time
        approvers = [user for user, role in members.items() if role >= Role.APPROVER]
        requesters = [user for user, role in members.items() if role >= Role.REQUESTER]
        raw_policy = body.get("policy")
        for action in Action:
            needed = policy.approvals_needed(action)
            line = body.line_of("policy")
            if isinstance(raw_policy, _Map):
                line = raw_policy.line_of(action.value)
            wanted = f"{where}: policy needs {_count(needed, 'approver')} for {action.value}"
            if needed > len(approvers):
                if approvers:
                    can = (
                        f"only {_count(len(approvers), 'member')} ({', '.join(approvers)}) "
                        f"can approve"
                    )
                else:
                    can = "no member can approve"
                self.problem(line, f"{wanted} but {can}")
            elif (
                not policy.self_approval
                and needed == len(approvers)
                and all(user in approvers for user in requesters)
            ):
                self.problem(
                    line,
                    f"{wanted} but a request can get at most {_count(needed - 1, 'approval')}: "
                    "self_approval is false and everyone who can request is one of the "
                    f"approvers ({', '.join(approvers)})",
                )

    # -- Workflow Builder steps: off unless turned on, and whom they may name -------------

    def workflow_steps(
        self, where: str, body: _Map, members: Mapping[str, Role] | None
    ) -> StepPolicy | None:
        """`workflow_steps: {enabled: true, requesters: [U0123ABCD, S0123ABCD]}`; absent or
        not enabled: no step files into the org."""
        if "workflow_steps" not in body:
            return None
        raw, line = body.get("workflow_steps"), body.line_of("workflow_steps")
        say = f"{where}: workflow_steps"
        if not isinstance(raw, _Map):
            self.problem(
                line,
                f"{say} must be a mapping like {{enabled: true, requesters: [U0123ABCD]}}, "
                f"not {_kind(raw)}",
            )
            return None
        self.unknown_keys(raw, _STEP_KEYS, f"{say}: ", "key")
        self.duplicate_keys(raw, f"{say} ", "given more than once")
        enabled = raw.get("enabled")
        if not isinstance(enabled, bool):
            self.problem(
                raw.line_of("enabled"),
                f"{say} enabled must be true or false, not {_shown(enabled)}"
                if "enabled" in raw
                else f"{say} enabled is missing: say enabled: true to let steps file here",
            )
        requesters = self.step_requesters(say, raw, members)
        return StepPolicy(requesters) if enabled is True else None

    def step_requesters(
        self, say: str, raw: _Map, members: Mapping[str, Role] | None
    ) -> tuple[str, ...]:
        """Whom a step may name: people who may ask for changes, and user groups (whose
        members' roles are Slack's to say, at run time; so are people's, once any group is)."""
        if "requesters" not in raw:
            return ()
        value, line = raw.get("requesters"), raw.line_of("requesters")
        if not isinstance(value, list) or not value:
            self.problem(
                line,
                f"{say} requesters must be a list like [U0123ABCD, S0123ABCD], not "
                f"{_kind(value)} (leave it out to let steps name anyone with the requester role)",
            )
            return ()
        checked = members is not None and not any(ids.USERGROUP_ID.fullmatch(m) for m in members)
        found: list[str] = []
        for item in value:
            if not isinstance(item, str) or not (
                ids.USER_ID.fullmatch(item) or ids.USERGROUP_ID.fullmatch(item)
            ):
                self.problem(
                    line,
                    f"{say} requesters entry {_shown(item)} is not a Slack user id (like "
                    "U0123ABCD) nor a user group id (like S0123ABCD)",
                )
            elif (
                checked
                and ids.USER_ID.fullmatch(item)
                and (members or {}).get(item, Role.VIEWER) < Role.REQUESTER
            ):
                self.problem(
                    line,
                    f"{say} requesters entry {item} cannot ask for changes in this org: list "
                    "them under members as a requester (or above)",
                )
            elif item not in found:
                found.append(item)
        return tuple(found)

    # -- HTTP API clients (bot/api) ---------------------------------------------------------

    def api_clients(
        self, org: str, body: _Map, members: Mapping[str, Role]
    ) -> tuple[ApiClient, ...]:
        raw = body.get("api_clients")
        if raw is None:
            return ()
        where = f"org {org}"
        if not isinstance(raw, _Map):
            self.problem(
                body.line_of("api_clients"),
                f"{where}: api_clients must map client names to their settings, like "
                f"pagerduty: {{token_env: SFVOPI_API_TOKEN_PD, acts_as: U0123ABCD}}, "
                f"not {_kind(raw)}",
            )
            return ()
        self.duplicate_keys(raw, f"{where}: api client ", "defined more than once")
        clients: list[ApiClient] = []
        for name, settings in raw.items():
            client = self.api_client(org, str(name), settings, raw.line_of(name), members)
            if client is not None:
                clients.append(client)
        return tuple(clients)

    def api_client(
        self, org: str, name: str, body: Any, line: int, members: Mapping[str, Role]
    ) -> ApiClient | None:
        shown = name if API_CLIENT_NAME.fullmatch(name) else _shown(name)
        where = f"org {org}: api client {shown}"
        if not API_CLIENT_NAME.fullmatch(name):
            self.problem(
                line, f"{where}: the name must be 1 to 32 lower-case letters, digits, '-' or '_'"
            )
            return None
        if not isinstance(body, _Map):
            self.problem(line, f"{where}: expected a mapping (token_env, and acts_as or identity)")
            return None
        before = len(self.problems)
        self.unknown_keys(body, _API_CLIENT_KEYS, f"{where}: ", "key")
        token = self.api_token(where, body)
        acts_as, role = body.get("acts_as"), body.get("role")
        identity = body.get("identity")
        found_role: Role | None = None
        if (acts_as is None) == (identity is None):
            self.problem(
                line,
                f"{where}: give either acts_as (a Slack user id whose role applies) or identity "
                "(a service name, with a role)",
            )
        elif acts_as is not None:
            if not isinstance(acts_as, str) or not ids.USER_ID.fullmatch(acts_as):
                self.problem(
                    body.line_of("acts_as"),
                    f"{where}: acts_as {_shown(acts_as)} is not a Slack user id (like U0123ABCD)",
                )
            elif acts_as not in members and not any(ids.USERGROUP_ID.fullmatch(m) for m in members):
                self.problem(
                    body.line_of("acts_as"),
                    f"{where}: acts_as {acts_as} is not a member of org {org}: list them under "
                    "members with the role the client needs",
                )
            if role is not None:
                self.problem(
                    body.line_of("role"),
                    f"{where}: role goes with identity; a client acting as a Slack user has "
                    "that user's role",
                )
        else:
            if not isinstance(identity, str) or not API_CLIENT_NAME.fullmatch(identity):
                self.problem(
                    body.line_of("identity"),
                    f"{where}: identity must be 1 to 32 lower-case letters, digits, '-' or '_' "
                    f"(shown as {ids.SERVICE_PREFIX}<identity>), not {_shown(identity)}",
                )
            found_role = self.service_role(where, body)
        if len(self.problems) > before or token is None:
            return None
        actor = str(acts_as) if acts_as is not None else f"{ids.SERVICE_PREFIX}{identity}"
        self.api_tokens.append((token, name, body.line_of("token_env")))
        return ApiClient(
            name=name,
            org=org,
            token=token,
            token_env=str(body["token_env"]),
            acts_as=actor,
            role=found_role,
        )

    def api_token(self, where: str, body: _Map) -> SecretStr | None:
        variable, line = body.get("token_env"), body.line_of("token_env")
        if variable is None:
            self.problem(
                line,
                f"{where}: token_env is missing: name the environment variable that holds the "
                "client's bearer token",
            )
            return None
        if not isinstance(variable, str) or not ENV_VAR.fullmatch(variable):
            self.problem(
                line,
                f"{where}: token_env must name an environment variable, like "
                "SFVOPI_API_TOKEN_PD (upper-case letters, digits and '_'), not hold the token",
            )
            return None
        value = (self.environ.get(variable) or "").strip()
        if variable not in self.environ:
            self.problem(line, f"{where}: token_env {variable} is not set")
        elif not value:
            self.problem(line, f"{where}: token_env {variable} is set but empty")
        elif len(value) < MIN_API_TOKEN or not value.isprintable() or " " in value:
            self.problem(
                line,
                f"{where}: the token in {variable} must be at least {MIN_API_TOKEN} printable "
                "characters without spaces (e.g. `openssl rand -hex 32`)",
            )
        else:
            return SecretStr(value)
        return None

    def service_role(self, where: str, body: _Map) -> Role | None:
        raw, line = body.get("role"), body.line_of("role")
        allowed = " or ".join(r.label for r in API_SERVICE_ROLES)
        if raw is None:
            self.problem(line, f"{where}: a service identity needs a role ({allowed})")
            return None
        try:
            role = Role.parse(raw) if isinstance(raw, str) else None
        except ValueError:
            role = None
        if role not in API_SERVICE_ROLES:
            self.problem(
                line,
                f"{where}: a service identity's role must be {allowed}, not {_shown(raw)} "
                "(approving and cancelling others' requests stay with people)",
            )
            return None
        return role

    def distinct_api_clients(self) -> None:
        """Client names are unique in the file (events and metrics name them), and so are
        tokens: a token identifies its client, so two clients cannot share one."""
        seen: dict[str, int] = {}
        tokens: dict[str, str] = {}
        for token, name, line in self.api_tokens:
            if name in seen:
                self.problem(
                    line,
                    f"api client {name} is defined more than once (first on line {seen[name]})",
                )
            seen.setdefault(name, line)
            value = token.get_secret_value()
            if value in tokens:
                self.problem(
                    line,
                    f"api client {name} has the same token as api client {tokens[value]}: "
                    "give each client its own",
                )
            tokens.setdefault(value, name)

    def unknown_keys(self, mapping: _Map, known: tuple[str, ...], prefix: str, what: str) -> None:
        for key in mapping:
            if key in known:
                continue
            line = mapping.line_of(key)
            if key == "api_key":
                self.problem(
                    line,
                    f"{prefix}unknown key 'api_key': the key itself never goes in this file; "
                    "put it in an environment variable and name that variable with api_key_env",
                )
                continue
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"expected {', '.join(known)}"
            self.problem(line, f"{prefix}unknown {what} {_shown(key)} ({hint})")

    def duplicate_keys(self, mapping: _Map, prefix: str, what: str) -> None:
        for key, line in mapping.duplicates:
            self.problem(line, f"{prefix}{key} {what} (first on line {mapping.line_of(key)})")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _reminders(reminders: Reminders) -> str:
    remind, escalate = reminders.remind_after_minutes, reminders.escalate_after_minutes
    said = [f"remind after {_count(remind, 'minute')}"] if remind is not None else []
    if escalate is not None:
        said.append(
            f"escalate after {_count(escalate, 'minute')} to {', '.join(reminders.escalate_to)}"
        )
    return "; ".join(said) or "none"


def _api_clients(org: Org) -> str:
    """How many clients and who each acts as; never a token (only its variable's name)."""
    each = [
        f"{c.name} (token from {c.token_env}, as {c.acts_as}"
        + (f", {c.role.label})" if c.role is not None else ")")
        for c in org.api_clients
    ]
    return f"{len(each)}: {'; '.join(each)}"


def _break_glass(glass: BreakGlass | None) -> str:
    if glass is None:
        return "not allowed"
    roles = ", ".join(r.label for r in sorted(glass.roles))
    incident = "incident id required" if glass.require_incident else "incident id optional"
    return f"{roles}; {incident}; reviewed within {_count(glass.review_within_minutes, 'minute')}"


def _steps(steps: StepPolicy | None) -> str:
    if steps is None:
        return "off"
    return f"on; may name {', '.join(steps.requesters) or 'anyone with the requester role'}"


def _groups(org: Org) -> str:
    return ", ".join(f"{group} ({role})" for group, role in org.group_roles().items())


def _member_counts(everyone: Mapping[str, Role]) -> str:
    """People listed by id, by role (user groups are on a line of their own)."""
    members = {k: r for k, r in everyone.items() if not ids.USERGROUP_ID.fullmatch(k)}
    by_role = [
        _count(sum(1 for r in members.values() if r is role), role.label)
        for role in sorted(Role, reverse=True)
        if role in members.values()
    ]
    return f"{len(members)} ({', '.join(by_role)})" if by_role else "none"


def _not_channel(value: Any) -> str:
    return (
        f"{_shown(value)} is not a Slack channel id (expected like C0123ABCD; channel names do "
        "not work: copy the id from the channel's details)"
    )


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _shown(value: Any, limit: int = 40) -> str:
    """A short, single-line rendering of a value from the file, for messages."""
    text = repr(value) if isinstance(value, str) else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
