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
    Org,
    OrgDirectory,
    Policy,
    Role,
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
)
_POLICY_KEYS = (*(action.value for action in Action), "ttl_minutes", "self_approval")
_ACTION_KEYS = ("approvals",)


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
            f"  members:          {_member_counts(org.members)}",
        ]
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
                f"{where}: policy must be a mapping (unlink, delete, ttl_minutes, "
                f"self_approval), not {_kind(raw)}",
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
        if len(self.problems) > before:
            return None
        return Policy(approvals=approvals, ttl_minutes=ttl, self_approval=self_approval)

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
            if not isinstance(user, str) or not ids.USER_ID.fullmatch(user):
                self.problem(
                    member_line,
                    f"{member}: {_shown(user)} is not a Slack user id (expected like U0123ABCD; "
                    "copy it from the person's profile: ⋮ → Copy member ID)",
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


def _member_counts(members: Mapping[str, Role]) -> str:
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
