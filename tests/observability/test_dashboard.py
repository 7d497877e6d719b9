"""The Grafana dashboard and the operator's page speak of metrics the bot really exposes: every
name a panel or an alert queries is in a real `/metrics` answer, every metric the bot exposes
is documented, and the dashboard covers what an operator watches."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot
from tests.support.metrics import scrape
from tests.support.slack_user import UNLINK, ask, click, request_id_in

DOCS = Path(__file__).resolve().parents[2] / "docs"
NAME = re.compile(r"\b(?:sfvopi_bot|process)_[a-z0-9_]*[a-z0-9]\b")
WATCHED = (
    "sfvopi_bot_pending_requests",
    "sfvopi_bot_oldest_pending_age_seconds",
    "sfvopi_bot_decisions_total",
    "sfvopi_bot_time_to_decision_seconds_bucket",
    "sfvopi_bot_sfvopi_requests_total",
    "sfvopi_bot_slack_api_errors_total",
    "sfvopi_bot_outbox_backlog",
    "sfvopi_bot_sweep_lag_seconds",
    "sfvopi_bot_ack_duration_seconds_bucket",
)


@pytest.fixture
async def exposed(slack: SlackStandin, bot: RunningBot) -> tuple[set[str], set[str]]:
    """(every sample and family name a real /metrics declares, the bot's own families)."""
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "approve")
    seen = await scrape(bot.url.replace("/slack/events", "/metrics"))
    ours = {name for name in seen.types if name.startswith("sfvopi_bot_")}
    return seen.names() | set(seen.types), ours


def dashboard_queries() -> list[str]:
    board: dict[str, Any] = json.loads((DOCS / "grafana" / "sfvopi-bot.json").read_text())
    assert board["uid"] and board["title"]
    queries = []
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        queries += [target["expr"] for target in panel["targets"]]
    return queries


def alert_rules() -> list[dict[str, Any]]:
    page = (DOCS / "operations.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", page, flags=re.S)
    rules = [
        rule
        for block in blocks
        for group in (yaml.safe_load(block) or {}).get("groups", [])
        for rule in group["rules"]
    ]
    return rules


async def test_every_dashboard_query_names_exposed_metrics(
    exposed: tuple[set[str], set[str]],
) -> None:
    names, _ours = exposed
    queries = dashboard_queries()
    used = {name for query in queries for name in NAME.findall(query)}
    assert used, "the dashboard queries nothing of ours"
    assert used <= names, f"the dashboard queries unknown metrics: {sorted(used - names)}"
    assert set(WATCHED) <= used, f"the dashboard leaves out {sorted(set(WATCHED) - used)}"


async def test_the_operators_page_documents_every_metric_and_alerts_on_real_names(
    exposed: tuple[set[str], set[str]],
) -> None:
    names, ours = exposed
    page = (DOCS / "operations.md").read_text()
    mentioned = set(NAME.findall(page))
    assert mentioned <= names, f"operations.md names unknown metrics: {sorted(mentioned - names)}"
    undocumented = {family for family in ours if f"`{family}" not in page}
    assert not undocumented, f"operations.md leaves out {sorted(undocumented)}"

    rules = alert_rules()
    assert [rule["alert"] for rule in rules] == [
        "SfvopiApprovalWaiting",
        "SfvopiApiErrors",
        "SfvopiSlackRefusals",
    ]
    watched = {
        "SfvopiApprovalWaiting": "sfvopi_bot_oldest_pending_age_seconds",
        "SfvopiApiErrors": "sfvopi_bot_sfvopi_requests_total",
        "SfvopiSlackRefusals": "sfvopi_bot_slack_api_errors_total",
    }
    for rule in rules:
        used = set(NAME.findall(rule["expr"]))
        assert watched[rule["alert"]] in used and used <= names, rule
