"""API tokens never leave the bot: not in its log output (at DEBUG, whatever was sent),
not in an answer, not in the event log, not in the metrics, not in Slack."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from bot.sandbox.slack_standin import SlackStandin
from tests.support.api import API_TOKENS
from tests.support.bot import RunningBot
from tests.support.slack_user import click

NUMBER = {"app_id": "sfv_app_abc123xyz456", "number": "+918000000001"}


async def test_no_token_is_ever_logged_answered_recorded_or_counted(
    bot: RunningBot, slack: SlackStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sent: list[httpx.Response] = []
    base = bot.url.removesuffix("/slack/events")
    near_misses = [token[:-1] + "Z" for token in API_TOKENS.values()]
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        async def call(method: str, path: str, token: str, **kw: Any) -> httpx.Response:
            response = await http.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kw
            )
            sent.append(response)
            return response

        filed = await call(
            "POST",
            "/api/v1/requests",
            API_TOKENS["incident-bot"],
            json={"action": "unlink", "targets": [NUMBER], "reason": "INC-4411 fraud"},
        )
        number = filed.json()["id"]
        await bot.settle()
        for token in near_misses:
            await call("GET", f"/api/v1/requests/{number}", token)
        # a real token of the other org, on this org's request; a bad body; a viewer's file
        await call("GET", f"/api/v1/requests/{number}", API_TOKENS["globex-bot"])
        await call("POST", "/api/v1/requests", API_TOKENS["pagerduty"], content=b"{oops")
        await call("POST", "/api/v1/requests", API_TOKENS["dashboard"], json={"action": "x"})
        await click(slack, bot, "U0BOB", number, "approve")
        await call("GET", f"/api/v1/requests/{number}?wait=5", API_TOKENS["incident-bot"])
        await call("POST", f"/api/v1/requests/{number}/cancel", API_TOKENS["admin-tool"])
        metrics = await http.get("/metrics")
    await bot.settle()

    secrets = [*API_TOKENS.values(), *near_misses]
    answered = "\n".join(f"{r.headers}\n{r.text}" for r in sent)
    recorded = str(await bot.services.store.events(number))
    told_slack = str([c.params for c in slack.calls])
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert "api_call" in recorded and "sfvopi_bot_api_calls_total" in metrics.text  # looked at
    for secret in secrets:
        assert secret not in logged
        assert secret not in answered
        assert secret not in recorded
        assert secret not in metrics.text
        assert secret not in told_slack
    assert repr(bot.services.orgs.current.api_clients()).count("test-api-token") == 0
