"""`sfvopi-bot audit export`: the real output, on SQLite and PostgreSQL, matches the schema in
docs/audit.md (checked with docs/audit-event.schema.json), says who did what and what Slack was
told where, filters by org and time, is safe to open in a spreadsheet, and holds no secret."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import text

from bot.audit.events import AuditEvent, ChainLink
from bot.audit.export import CSV_HEADER
from bot.audit.export import record as export_record
from bot.config.settings import Settings
from bot.sandbox.slack_standin import SlackStandin
from tests.support.audit import FORMULA_NOTE, make_history, raw_sql, run_cli
from tests.support.bot import RunningBot
from tests.support.orgs import ORG_ENV
from tests.support.slack import SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET
from tests.support.slack_user import APPROVALS, OUTCOMES, card

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "audit-event.schema.json").read_text()
)
SINK_SECRET = "sink-secret-not-real-4d1e"


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    return bot_settings.model_copy(update={"database_url": bot_database_url})


def env_for(url: str) -> dict[str, str]:
    """Everything an operator's environment might hold; none of it may reach the export."""
    return {
        "SFVOPI_DATABASE_URL": url,
        "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "SFVOPI_AUDIT_SINK": "https://audit.example/hook",
        "SFVOPI_AUDIT_SINK_SECRET": SINK_SECRET,
        **ORG_ENV,
    }


def secrets() -> list[str]:
    return [SINK_SECRET, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, *ORG_ENV.values()]


async def export(url: str, tmp_path: Path, *args: str) -> str:
    result = await run_cli(["audit", "export", *args], env_for(url), tmp_path)
    assert result.code == 0, result.err
    return result.out


async def test_jsonl_matches_the_documented_schema_and_tells_the_story(
    slack: SlackStandin, bot: RunningBot, bot_settings: Settings, tmp_path: Path
) -> None:
    ran, denied, other = await make_history(slack, bot)
    url = bot_settings.database_url
    async with raw_sql(url) as conn:
        stored = [tuple(r) for r in await conn.execute(text("SELECT id, uid FROM events"))]

    out = await export(url, tmp_path, "--format", "jsonl")

    records = [json.loads(line) for line in out.splitlines()]
    for record in records:
        jsonschema.validate(record, SCHEMA)
    assert [(r["seq"], r["event_id"]) for r in records] == sorted(stored)  # every event, once
    for request in {r["request"] for r in records}:  # each request's chain, link by link
        chain = [r for r in records if r["request"] == request]
        assert chain[0]["prev_hash"] == "0" * 64
        assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(chain))

    of_ran = [r for r in records if r["request"] == ran]
    asked = next(r for r in of_ran if r["kind"] == "requested")
    assert (asked["org"], asked["action"], asked["actor"]) == ("acme", "unlink", "U0ALICE")
    assert asked["targets"] == ["+918000000001 on sfv_app_abc123xyz456"]
    assert asked["reason"] == "fraud on this DID, INC-4411"
    approved = next(r for r in of_ran if r["kind"] == "approved")
    assert (approved["actor"], approved["decision"]) == ("U0BOB", "approved")
    (api,) = [r for r in of_ran if r["kind"] == "api_result"]
    assert api["target"] == "+918000000001 on sfv_app_abc123xyz456"
    assert (api["api_outcome"], api["api_status"]) == ("done", 200)
    assert api["api_message"]

    # what was told where: the card, its thread, the DM and the outcome line, with their ts
    told = {r["slack_step"]: r for r in of_ran if r["slack_step"]}
    assert told["card"]["slack_channel"] == APPROVALS
    assert told["card"]["slack_ts"] == card(slack, ran).ts
    (reply,) = slack.thread(APPROVALS, card(slack, ran).ts)
    assert (told["thread"]["slack_channel"], told["thread"]["slack_ts"]) == (APPROVALS, reply.ts)
    (line,) = [m for m in slack.messages(OUTCOMES) if f"#{ran}" in m.text]
    assert (told["outcome"]["slack_channel"], told["outcome"]["slack_ts"]) == (OUTCOMES, line.ts)
    assert told["notice"]["slack_ts"] and told["notice"]["slack_channel"]

    refusal = next(r for r in records if r["request"] == denied and r["kind"] == "denied")
    assert (refusal["actor"], refusal["decision"]) == ("U0CAROL", "denied")
    assert refusal["reason"] == FORMULA_NOTE  # JSON keeps it as it was said
    assert {r["org"] for r in records if r["request"] == other} == {"globex"}
    for secret in secrets():
        assert secret not in out


async def test_csv_has_a_fixed_header_one_row_per_event_and_no_live_formula(
    slack: SlackStandin, bot: RunningBot, bot_settings: Settings, tmp_path: Path
) -> None:
    _ran, denied, _other = await make_history(slack, bot)
    url = bot_settings.database_url
    output = tmp_path / "audit.csv"

    await export(url, tmp_path, "--format", "csv", "--output", str(output))

    content = output.read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(content, newline="")))
    assert tuple(table[0]) == CSV_HEADER
    jsonl = (await export(url, tmp_path)).splitlines()
    assert len(table) - 1 == len(jsonl)
    rows = [dict(zip(CSV_HEADER, row, strict=True)) for row in table[1:]]
    assert [r["event_id"] for r in rows] == [json.loads(j)["event_id"] for j in jsonl]
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    (refusal,) = [r for r in rows if r["kind"] == "denied" and r["request"] == str(denied)]
    assert refusal["reason"] == "'" + FORMULA_NOTE
    (api,) = [r for r in rows if r["kind"] == "api_result"]
    assert api["target"] == "'+918000000001 on sfv_app_abc123xyz456"
    for secret in secrets():
        assert secret not in content


async def test_org_and_since_choose_what_is_exported(
    slack: SlackStandin, bot: RunningBot, bot_settings: Settings, tmp_path: Path
) -> None:
    _ran, _denied, other = await make_history(slack, bot)
    url = bot_settings.database_url
    everything = [json.loads(line) for line in (await export(url, tmp_path)).splitlines()]

    globex = [
        json.loads(line) for line in (await export(url, tmp_path, "--org", "globex")).splitlines()
    ]
    assert globex and {r["request"] for r in globex} == {other}
    assert globex == [r for r in everything if r["org"] == "globex"]

    since = between(everything)
    shown = since.isoformat(timespec="microseconds")
    later = [
        json.loads(line) for line in (await export(url, tmp_path, "--since", shown)).splitlines()
    ]
    assert later == [r for r in everything if datetime.fromisoformat(r["time"]) > since]
    assert 0 < len(later) < len(everything)
    nothing = await export(url, tmp_path, "--since", "2999-01-01")
    assert nothing == ""


def between(records: list[dict[str, object]]) -> datetime:
    """A time half-way between two events well apart (so rounding cannot matter), near the
    middle of the log."""
    times = sorted(datetime.fromisoformat(str(r["time"])) for r in records)
    gaps = [(b - a, a + (b - a) / 2) for a, b in itertools.pairwise(times)]
    half = len(gaps) // 2
    _gap, middle = max(gaps[half // 2 : half + half // 2 + 1])
    assert _gap.total_seconds() > 0.002, gaps
    return middle


async def test_a_bad_since_is_refused_in_one_line(tmp_path: Path) -> None:
    result = await run_cli(
        ["audit", "export", "--since", "yesterday"],
        {"SFVOPI_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
        tmp_path,
    )
    assert result.code == 2
    assert "not an ISO-8601 date or time" in result.err
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("kind", "detail", "decision", "reason"),
    [
        ("broke_glass", {"incident": "INC-4411", "reason": "outage"}, "broke glass", "outage"),
        ("reviewed", {"review": "acknowledged"}, "review acknowledged", None),
        ("reviewed", {"review": "flagged", "note": "no incident"}, "review flagged", "no incident"),
        ("reviewed", {"review": "something else"}, None, None),
    ],
)
def test_break_glass_steps_export_as_decisions(
    kind: str, detail: dict[str, str], decision: str | None, reason: str | None
) -> None:
    """An auditor filtering on `decision` sees glass broken and every review's verdict."""
    link = ChainLink(
        seq=1,
        uid="00000000-0000-4000-8000-000000000001",
        request_id=7,
        at=1_700_000_000.0,
        actor="U0CAROL",
        kind=kind,
        detail=json.dumps(detail),
        prev_hash="",
        hash="",
    )
    exported = export_record(AuditEvent(link, "acme", "unlink", ("+918000000001",)))
    assert exported["decision"] == decision
    assert exported["reason"] == reason
