"""The OpenAPI document the bot serves is OpenAPI 3.1 whose schemas are valid JSON Schema
2020-12, and the real answers keep to it: every call made through tests/support/api.py is
checked against it, and this scenario reaches each kind of answer on purpose."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from bot.api import waiting
from tests.support.api import API_TOKENS, ApiUser, OpenApiCheck
from tests.support.bot import RunningBot
from tests.support.slack_user import click

NUMBER = {"app_id": "sfv_app_abc123xyz456", "number": "+918000000001"}
FILE: dict[str, Any] = {"action": "unlink", "targets": [NUMBER], "reason": "INC-4411"}


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


async def test_the_document_is_openapi_3_1_with_valid_schemas(bot: RunningBot) -> None:
    document = await ApiUser.for_bot(bot.url, None).document()  # served without a token
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for ref in refs(document):
        assert ref.startswith("#/"), ref
        node: Any = document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"], f"{method} {path}"
    # the limits it states are the bot's
    file_schema = document["components"]["schemas"]["FileRequest"]
    assert file_schema["properties"]["targets"]["maxItems"] == bot.services.workflow.max_targets


def test_the_check_bites_on_an_answer_that_breaks_the_document() -> None:
    from bot.api.openapi import openapi_document

    check = OpenApiCheck(openapi_document(100))
    request = httpx.Request("GET", "http://bot/api/v1/requests/1")

    def answer(status: int, body: Any, content_type: str = "application/json") -> httpx.Response:
        return httpx.Response(
            status,
            content=json.dumps(body).encode(),
            headers={"Content-Type": content_type},
            request=request,
        )

    with pytest.raises(AssertionError, match="required property"):
        check.check("GET", "/api/v1/requests/1", answer(200, {"id": 1, "state": "pending"}))
    with pytest.raises(AssertionError, match="does not list"):
        check.check("GET", "/api/v1/requests/1", answer(418, {}))
    with pytest.raises(AssertionError, match="came as"):
        problem = {"type": "urn:x", "title": "t", "status": 404, "detail": "d"}
        check.check("GET", "/api/v1/requests/1", answer(404, problem))
    with pytest.raises(AssertionError, match="WWW-Authenticate"):
        problem = {"type": "urn:x", "title": "t", "status": 401, "detail": "d"}
        check.check("GET", "/api/v1/requests/1", answer(401, problem, "application/problem+json"))


async def test_each_kind_of_answer_keeps_to_the_document(
    bot: RunningBot, slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = ApiUser.for_bot(bot.url, API_TOKENS["incident-bot"])
    filed = await api.call("POST", "/api/v1/requests", json=FILE)  # 201
    number = filed.body["id"]
    await bot.settle()
    await api.call("POST", "/api/v1/requests", json=FILE)  # 409 already pending
    await api.call("POST", "/api/v1/requests", json={**FILE, "targets": []})  # 422
    await api.call("POST", "/api/v1/requests", json={**FILE, "extra": 1})  # 400
    await api.call("POST", "/api/v1/requests", content=b"x", headers={"Content-Type": "text/plain"})
    await api.call(
        "POST",
        "/api/v1/requests",
        content=b"[" * 70_000,
        headers={"Content-Type": "application/json"},
    )  # 413
    await api.call("POST", "/api/v1/requests", json=FILE, headers={"Idempotency-Key": "a b"})
    await api.as_client(API_TOKENS["dashboard"]).call("POST", "/api/v1/requests", json=FILE)  # 403
    await api.as_client(None).get(number)  # 401
    await api.get(number + 5)  # 404
    await api.get("x")  # 400
    monkeypatch.setattr(waiting, "MAX_WAITS_PER_CLIENT", 1)
    held = asyncio.create_task(api.get(number, wait=30))
    await asyncio.sleep(0.3)
    crowded = await api.get(number, wait=30)  # 429
    assert crowded.status == 429 and crowded.headers["Retry-After"]
    await click(slack, bot, "U0BOB", number, "approve")
    assert (await asyncio.wait_for(held, 30)).body["state"] == "succeeded"  # 200
    await api.cancel(number)  # 409 conflict
    await api.cancel(number + 5, "why")  # 404

    seen = {(method, status) for method, _path, status in api.answers}
    assert seen >= {
        ("POST", 201), ("POST", 409), ("POST", 422), ("POST", 400), ("POST", 415),
        ("POST", 413), ("POST", 403), ("GET", 401), ("GET", 404), ("GET", 400),
        ("GET", 429), ("GET", 200), ("POST", 404),
    }  # fmt: skip
