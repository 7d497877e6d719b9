"""Acting as an incident bot over the HTTP API: an org file with API clients, their (fake)
tokens, and a client that checks every answer it gets against the bot's own OpenAPI document.

acme: `incident-bot` (service identity api:incident-bot, requester), `pagerduty` (acts as
U0ALICE, a requester), `dashboard` (service identity, viewer), `admin-tool` (acts as U0DAVE,
an admin). globex: `globex-bot` (service identity, requester).
"""

from __future__ import annotations

import functools
import re
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.orgs import ORG_ENV, ORGS_YAML

__all__ = [
    "API_ORGS_YAML",
    "API_TOKENS",
    "Answer",
    "ApiUser",
    "OpenApiCheck",
    "api_org_env",
    "api_orgs_yaml",
]

API_TOKENS = {
    "incident-bot": "test-api-token-incident-bot-not-real-01",
    "pagerduty": "test-api-token-pagerduty-not-real-0002",
    "dashboard": "test-api-token-dashboard-not-real-00003",
    "admin-tool": "test-api-token-admin-tool-not-real-0004",
    "globex-bot": "test-api-token-globex-bot-not-real-0005",
}
API_TOKEN_ENV = {
    "SFVOPI_API_TOKEN_IB": API_TOKENS["incident-bot"],
    "SFVOPI_API_TOKEN_PD": API_TOKENS["pagerduty"],
    "SFVOPI_API_TOKEN_DASH": API_TOKENS["dashboard"],
    "SFVOPI_API_TOKEN_ADMIN": API_TOKENS["admin-tool"],
    "SFVOPI_API_TOKEN_GLX": API_TOKENS["globex-bot"],
}
ACME_CLIENTS = """\
    api_clients:
      incident-bot: {token_env: SFVOPI_API_TOKEN_IB, identity: incident-bot, role: requester}
      pagerduty: {token_env: SFVOPI_API_TOKEN_PD, acts_as: U0ALICE}
      dashboard: {token_env: SFVOPI_API_TOKEN_DASH, identity: dashboard, role: viewer}
      admin-tool: {token_env: SFVOPI_API_TOKEN_ADMIN, acts_as: U0DAVE}
"""
GLOBEX_CLIENTS = """\
    api_clients:
      globex-bot: {token_env: SFVOPI_API_TOKEN_GLX, identity: globex-bot, role: requester}
"""
API_ORGS_YAML = ORGS_YAML.replace("  globex:\n", ACME_CLIENTS + "  globex:\n") + GLOBEX_CLIENTS


@pytest.fixture
def api_orgs_yaml() -> str:
    return API_ORGS_YAML


@pytest.fixture
def api_org_env() -> dict[str, str]:
    return {**ORG_ENV, **API_TOKEN_ENV}


# -- checking answers against the document --------------------------------------------------


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class OpenApiCheck:
    """Finds the operation an answer belongs to and checks its status, content type, headers
    and body against the document's schema for it (jsonschema, draft 2020-12)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource("urn:sfvopi-api", resource)
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in document["paths"]
        ]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for pattern, template in self.templates:
            if pattern.match(path):
                operations = self.document["paths"][template]
                assert method.lower() in operations, f"{method} {template} is not documented"
                return template, operations[method.lower()]
        raise AssertionError(f"{path} matches no documented path")

    def check(self, method: str, path: str, response: httpx.Response) -> None:
        template, operation = self.operation(method, path)
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{method} {template} answered {status}, which the document does not list: "
            f"{response.text[:300]}"
        )
        answer = operation["responses"][status]
        where = ["paths", template, method.lower(), "responses", status]
        if "$ref" in answer:
            where = answer["$ref"].removeprefix("#/").split("/")
            answer = self.document["components"]["responses"][where[-1]]
        for header in answer.get("headers", {}):
            assert header in response.headers, f"{status} without its {header} header"
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        assert content_type in answer["content"], (
            f"{method} {template} {status} came as {content_type}, documented as "
            f"{list(answer['content'])}"
        )
        pointer = _pointer(*where, "content", content_type, "schema")
        validator = Draft202012Validator(
            {"$ref": f"urn:sfvopi-api#/{pointer}"},
            registry=self.registry,
            format_checker=FormatChecker(),
        )
        errors = [e.message for e in validator.iter_errors(response.json())]
        assert not errors, f"{method} {template} {status}: {errors}"


# -- the incident bot ------------------------------------------------------------------------


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every call's client: httpx loads the CA bundle for each client it
    makes otherwise (~50 ms of CPU a call; the bot is plain HTTP on loopback anyway)."""
    return ssl.create_default_context()


@dataclass
class Answer:
    """What one call got back: the status, the JSON body and the headers."""

    status: int
    body: Any
    headers: httpx.Headers


@dataclass
class ApiUser:
    """An API client (say, an incident bot) calling the bot's real HTTP server with its token.
    Every answer is checked against the document the bot serves, so every test that calls
    the API also checks that the API keeps to its document."""

    base_url: str
    token: str | None
    timeout: float = 60.0
    check: OpenApiCheck | None = None
    answers: list[tuple[str, str, int]] = field(default_factory=list)

    @classmethod
    def for_bot(cls, events_url: str, token: str | None) -> ApiUser:
        return cls(events_url.removesuffix("/slack/events"), token)

    def as_client(self, token: str | None) -> ApiUser:
        """The same bot, called with another token (or none); answers noted in one list."""
        return ApiUser(self.base_url, token, self.timeout, self.check, self.answers)

    async def document(self) -> dict[str, Any]:
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=self.timeout, verify=_tls()
        ) as http:
            response = await http.get("/api/v1/openapi.json")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        if self.check is None:
            self.check = OpenApiCheck(await self.document())
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=self.timeout, verify=_tls()
        ) as http:
            response = await http.request(
                method, path, json=json, content=content, headers=sent, params=params
            )
        self.answers.append((method, path, response.status_code))
        if path.startswith("/api/v1/") and _documented(self.check, method, path):
            self.check.check(method, path, response)
        body = response.json() if response.content else None
        return Answer(response.status_code, body, response.headers)

    async def file(
        self, action: str, targets: list[dict[str, str]], reason: str, **more: Any
    ) -> Answer:
        return await self.call(
            "POST",
            "/api/v1/requests",
            json={"action": action, "targets": targets, "reason": reason, **more},
        )

    async def get(self, request_id: int | str, wait: int | None = None) -> Answer:
        params = {"wait": wait} if wait is not None else None
        return await self.call("GET", f"/api/v1/requests/{request_id}", params=params)

    async def cancel(self, request_id: int | str, reason: str | None = None) -> Answer:
        body = {"reason": reason} if reason is not None else None
        return await self.call("POST", f"/api/v1/requests/{request_id}/cancel", json=body)


def _documented(check: OpenApiCheck, method: str, path: str) -> bool:
    """Whether a method and path are the document's (others are refused as problems, checked
    by the tests that send them)."""
    try:
        check.operation(method, path)
    except AssertionError:
        return False
    return True
