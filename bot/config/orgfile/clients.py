"""HTTP API clients (bot/api): each names its token's variable, and acts as a Slack user or as
a service identity with a role that can ask or look, never approve (approvals are people's)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from bot.config.orgfile.problems import Checks, kind_of, show
from bot.config.orgfile.yaml_lines import Map
from bot.core import ids
from bot.core.org import ApiClient, Role

__all__ = ["API_CLIENT_NAME", "API_SERVICE_ROLES", "MIN_API_TOKEN", "ClientChecks"]

_API_CLIENT_KEYS = ("token_env", "acts_as", "identity", "role")
API_CLIENT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
API_SERVICE_ROLES = (Role.VIEWER, Role.REQUESTER)
MIN_API_TOKEN = 24


class ClientChecks(Checks):
    """An org's `api_clients:` mapping, and the clients of the whole file told apart."""

    def api_clients(
        self, org: str, body: Map, members: Mapping[str, Role]
    ) -> tuple[ApiClient, ...]:
        raw = body.get("api_clients")
        if raw is None:
            return ()
        where = f"org {org}"
        if not isinstance(raw, Map):
            self.problem(
                body.line_of("api_clients"),
                f"{where}: api_clients must map client names to their settings, like "
                f"pagerduty: {{token_env: SFVOPI_API_TOKEN_PD, acts_as: U0123ABCD}}, "
                f"not {kind_of(raw)}",
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
        shown = name if API_CLIENT_NAME.fullmatch(name) else show(name)
        where = f"org {org}: api client {shown}"
        if not API_CLIENT_NAME.fullmatch(name):
            self.problem(
                line, f"{where}: the name must be 1 to 32 lower-case letters, digits, '-' or '_'"
            )
            return None
        if not isinstance(body, Map):
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
                    f"{where}: acts_as {show(acts_as)} is not a Slack user id (like U0123ABCD)",
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
                    f"(shown as {ids.SERVICE_PREFIX}<identity>), not {show(identity)}",
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

    def api_token(self, where: str, body: Map) -> SecretStr | None:
        value = self.from_environment(
            where, body, "token_env", ("the client's bearer token", "token"), "SFVOPI_API_TOKEN_PD"
        )
        if value is None:
            return None
        if len(value) < MIN_API_TOKEN or not value.isprintable() or " " in value:
            self.problem(
                body.line_of("token_env"),
                f"{where}: the token in {body['token_env']} must be at least {MIN_API_TOKEN} "
                "printable characters without spaces (e.g. `openssl rand -hex 32`)",
            )
            return None
        return SecretStr(value)

    def service_role(self, where: str, body: Map) -> Role | None:
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
                f"{where}: a service identity's role must be {allowed}, not {show(raw)} "
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
