"""The whole file in one pass: the document, each organization and its keys, every part's
problems collected (by the checks it is made of) rather than stopping at the first."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import SecretStr

from bot.config.orgfile.clients import ClientChecks
from bot.config.orgfile.members import MemberChecks
from bot.config.orgfile.policy import PolicyChecks
from bot.config.orgfile.problems import kind_of, not_channel
from bot.config.orgfile.workflow_steps import StepChecks
from bot.config.orgfile.yaml_lines import Loader, Map
from bot.core import ids
from bot.core.org import Org, OrgDirectory
from bot.errors import OrgFileError

__all__ = ["ORG_NAME", "Checker"]

ORG_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")

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


class Checker(PolicyChecks, MemberChecks, StepChecks, ClientChecks):
    """One pass over the parsed file, collecting every problem rather than stopping at the first."""

    def run(self, text: str) -> OrgDirectory:
        try:
            document = yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a SafeLoader
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
        if not isinstance(document, Map) or "organizations" not in document:
            line = document.line if isinstance(document, Map) else 1
            self.problem(line, "missing 'organizations': the file must start with `organizations:`")
            if isinstance(document, Map):
                self.unknown_keys(document, _TOP_KEYS, "", "top-level key")
            return {}
        self.unknown_keys(document, _TOP_KEYS, "", "top-level key")
        self.duplicate_keys(document, "", "given more than once")
        organizations = document["organizations"]
        line = document.line_of("organizations")
        if not isinstance(organizations, Map):
            self.problem(
                line,
                "organizations must map organization names to their settings, "
                f"not {kind_of(organizations)}",
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
        if not isinstance(body, Map):
            self.problem(line, f"{where}: expected a mapping of settings, not {kind_of(body)}")
            return None
        problems_before = len(self.problems)
        self.known_keys(body, _ORG_KEYS, where)

        api_key = self.api_key(where, body)
        approval_channel = self.channel(where, body, "approval_channel", required=True)
        outcome_channel = self.channel(where, body, "outcome_channel", required=False)
        command_channels = self.channel_list(where, body)
        policy = self.policy(where, body)
        members = self.members(where, body)
        if policy is not None and members is not None:
            self.satisfiable(where, body, policy, members)
            self.rules_satisfiable(where, policy.rules, members)
            self.admins_for_limits(where, policy.limits, members)
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
            line=line,
        )

    def api_key(self, where: str, body: Map) -> SecretStr | None:
        value = self.from_environment(
            where, body, "api_key_env", ("the org's SFVoPI API key", "key"), "SFVOPI_API_KEY_ACME"
        )
        return None if value is None else SecretStr(value)

    def channel(self, where: str, body: Map, key: str, *, required: bool) -> str | None:
        value = body.get(key)
        if value is None:
            if required:
                self.problem(body.line_of(key), f"{where}: {key} is missing")
            return None
        if not self._channel_ok(value):
            self.problem(body.line_of(key), f"{where}: {key} {not_channel(value)}")
            return None
        return str(value)

    def channel_list(self, where: str, body: Map) -> tuple[str, ...]:
        say, like = f"{where}: command_channels", "of channel ids, like [C0123ABCD]"
        line = body.line_of("command_channels")
        channels: list[str] = []
        for item in self.optional_list(body, "command_channels", say, like):
            if self._channel_ok(item):
                if item not in channels:
                    channels.append(item)
            else:
                self.problem(line, f"{where}: command_channels entry {not_channel(item)}")
        return tuple(channels)

    @staticmethod
    def _channel_ok(value: Any) -> bool:
        return isinstance(value, str) and ids.CHANNEL_ID.fullmatch(value) is not None
