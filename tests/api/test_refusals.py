"""Every refusal of the HTTP API, over the real server: an RFC 9457 problem with the status
the bot's error tree maps to, nothing stored, the call counted and (for a known client)
logged; hostile input changes nothing. Each answer is also checked against the OpenAPI
document by the client (tests/support/api.py)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from bot.api.bodies import MAX_API_BODY
from bot.config.settings import Settings
from bot.core.models import Action, NewRequest, Target
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackServerError, SlackStandin
from tests.support.api import API_ORGS_YAML, API_TOKENS, ApiUser
from tests.support.bot import RunningBot

NUMBER = {"app_id": "sfv_app_abc123xyz456", "number": "+918000000001"}
FILE: dict[str, Any] = {"action": "unlink", "targets": [NUMBER], "reason": "INC-4411"}
GLOBEX_ONCALL = "S0GLXONCALL"
GLOBEX_GROUPED = API_ORGS_YAML.replace(
    "      U0MULTI: approver\n", f"      U0MULTI: approver\n      {GLOBEX_ONCALL}: approver\n", 1
)


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    return bot_settings.model_copy(update={"database_url": bot_database_url})


def client(bot: RunningBot, name: str | None = "incident-bot") -> ApiUser:
    return ApiUser.for_bot(bot.url, API_TOKENS[name] if name else None)


def problem(answer: Any, status: int, slug: str) -> str:
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"] == "application/problem+json"
    body = answer.body
    assert body["type"] == f"urn:sfvopi-bot:problem:{slug}" and body["status"] == status
    assert body["title"] and body["detail"]
    return str(body["detail"])


def counted(bot: RunningBot, client: str, call: str, status: int) -> float:
    value = bot.services.metrics.registry.get_sample_value(
        "sfvopi_bot_api_calls_total", {"client": client, "call": call, "status": str(status)}
    )
    return value or 0.0


async def nothing_stored(bot: RunningBot) -> None:
    assert await bot.services.store.list_requests(orgs=["acme", "globex"]) == []


async def test_no_token_or_a_wrong_one_is_401_with_a_bearer_challenge(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    anonymous = client(bot, None)
    answer = await anonymous.call("POST", "/api/v1/requests", json=FILE)
    problem(answer, 401, "unauthenticated")
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="sfvopi-bot API"'

    near_miss = API_TOKENS["incident-bot"][:-1] + "X"
    for header, invalid in (
        (f"Bearer {near_miss}", True),
        (f"Bearer {API_TOKENS['incident-bot']}x", True),
        (f"Basic {API_TOKENS['incident-bot']}", False),
        ("Bearer", False),
    ):
        answer = await anonymous.call(
            "GET", "/api/v1/requests/1", headers={"Authorization": header}
        )
        problem(answer, 401, "unauthenticated")
        challenge = answer.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="sfvopi-bot API"')
        assert ('error="invalid_token"' in challenge) is invalid
    await nothing_stored(bot)
    assert counted(bot, "none", "file", 401) == 1 and counted(bot, "none", "status", 401) == 4
    refusals = [r.getMessage() for r in caplog.records if r.name == "bot.api.auth"]
    assert len(refusals) == 1, refusals  # the first logged, the rest counted for the interval


async def test_bodies_that_are_not_a_request_are_400_415_or_413(bot: RunningBot) -> None:
    api = client(bot)
    url = "/api/v1/requests"
    json_type = {"Content-Type": "application/json"}
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (
            b"action=unlink",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "unsupported-media-type",
        ),
        (b"{not json", json_type, 400, "malformed-body"),
        (b"\xff\xfe{}", json_type, 400, "malformed-body"),
        (b"[1, 2]", json_type, 400, "malformed-body"),
        (b'{"action": "unlink", "action": "delete"}', json_type, 400, "malformed-body"),
        (b'{"reason": NaN}', json_type, 400, "malformed-body"),
        (b"[" * 50_000 + b"]" * 50_000, json_type, 413, "body-too-large"),
        (b"[" * 200_000 + b"]" * 200_000, json_type, 413, "body-too-large"),
        (b"[" * 30_000 + b"]" * 30_000, json_type, 400, "malformed-body"),
        (b"", json_type, 400, "malformed-body"),
    ]
    for content, headers, status, slug in cases:
        answer = await api.call("POST", url, content=content, headers=headers)
        problem(answer, status, slug)
    await nothing_stored(bot)


async def test_a_huge_body_is_refused_unread_with_or_without_a_length(bot: RunningBot) -> None:
    api = client(bot)
    huge = b'{"reason": "' + b"x" * (MAX_API_BODY + 10) + b'"}'
    answer = await api.call(
        "POST", "/api/v1/requests", content=huge, headers={"Content-Type": "application/json"}
    )
    problem(answer, 413, "body-too-large")

    async def chunks() -> Any:
        for _ in range(40):
            yield b" " * 4096

    async with httpx.AsyncClient(base_url=api.base_url) as http:
        streamed = await http.post(
            "/api/v1/requests",
            content=chunks(),
            headers={
                "Authorization": f"Bearer {API_TOKENS['incident-bot']}",
                "Content-Type": "application/json",
            },
        )
    assert streamed.status_code == 413
    await nothing_stored(bot)


MALFORMED: list[tuple[dict[str, Any], str]] = [
    ({**FILE, "priority": "high"}, "body"),
    ({**FILE, "targets": "+918000000001 sfv_app_abc123xyz456"}, "body.targets"),
    ({**FILE, "targets": [["sfv_app_abc123xyz456"]]}, "body.targets[0]"),
    ({**FILE, "targets": [{**NUMBER, "org": "globex"}]}, "body.targets[0]"),
    ({**FILE, "targets": [{"app_id": 12}]}, "body.targets[0].app_id"),
    ({**FILE, "reason": 4411}, "body.reason"),
    ({"targets": [NUMBER], "reason": "INC-4411"}, "body.action"),
    ({**FILE, "again": "yes"}, "body.again"),
    ({**FILE, "break_glass": "INC-4411"}, "body.break_glass"),
    ({**FILE, "break_glass": {"incident": "INC-4411", "roles": ["admin"]}}, "body.break_glass"),
]


async def test_wrong_types_and_unknown_fields_are_400_naming_the_field(bot: RunningBot) -> None:
    for body, field in MALFORMED:
        answer = await client(bot).call("POST", "/api/v1/requests", json=body)
        problem(answer, 400, "malformed-body")
        assert answer.body["field"] == field
    await nothing_stored(bot)


INVALID: list[tuple[dict[str, Any], str]] = [
    ({**FILE, "action": "drop"}, "unknown action"),
    ({**FILE, "targets": [{"app_id": "sfv_app_abc123xyz456/../x"}]}, "is not an app id"),
    ({**FILE, "targets": [{**NUMBER, "number": "8000000001"}]}, "E.164"),
    ({**FILE, "targets": [{"app_id": "sfv_app_abc123xyz456"}]}, "unlink needs a number"),
    ({**FILE, "targets": []}, "needs at least one target"),
    (
        {**FILE, "targets": [{**NUMBER, "number": f"+9180000{i:05d}"} for i in range(101)]},
        "too many",
    ),
    ({**FILE, "reason": " \u0000 "}, "a reason is required"),
    ({**FILE, "reason": "\u200b\u202e \u2066\u2069\ufeff\u200e"}, "a reason is required"),
    ({**FILE, "reason": "x" * 501}, "too long"),
]


async def test_what_slack_refuses_the_api_refuses_with_the_same_words(bot: RunningBot) -> None:
    for body, says in INVALID:
        answer = await client(bot).call("POST", "/api/v1/requests", json=body)
        assert says in problem(answer, 422, "invalid-request")
    await nothing_stored(bot)


LONE = "\ud800"  # a lone surrogate: JSON carries it as the escape "\ud800", no encoder takes it
NOT_TEXT: list[tuple[dict[str, Any], str]] = [
    ({**FILE, "reason": f"INC-4411 {LONE}"}, "body.reason"),
    ({**FILE, "action": f"unlink{LONE}"}, "body.action"),
    ({**FILE, "org": f"acme{LONE}"}, "body.org"),
    ({**FILE, "targets": [{**NUMBER, "app_id": f"sfv_app_{LONE}"}]}, "body.targets[0].app_id"),
    ({**FILE, "targets": [{**NUMBER, "number": f"+91{LONE}"}]}, "body.targets[0].number"),
    ({**FILE, "break_glass": {"incident": f"INC-{LONE}"}}, "body.break_glass.incident"),
]


def escaped(body: dict[str, Any]) -> bytes:
    """The body as JSON with every non-ASCII character escaped, as a hostile client may send."""
    return json.dumps(body).encode()


async def test_text_that_is_not_valid_unicode_is_400_naming_the_field_never_a_500(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    api = client(bot)
    sent = {"Content-Type": "application/json"}
    for body, field in NOT_TEXT:
        answer = await api.call("POST", "/api/v1/requests", content=escaped(body), headers=sent)
        said = problem(answer, 400, "malformed-body")
        assert said == f"{field} contains characters that are not valid text"
        assert answer.body["field"] == field
    stray_key = await api.call(
        "POST", "/api/v1/requests", content=escaped({**FILE, f"x{LONE}": 1}), headers=sent
    )
    assert "unknown field `x\ufffd`" in problem(stray_key, 400, "malformed-body")
    await nothing_stored(bot)

    number = (await api.call("POST", "/api/v1/requests", json=FILE)).body["id"]
    cancel = await api.call(
        "POST",
        f"/api/v1/requests/{number}/cancel",
        content=escaped({"reason": f"wrong DID {LONE}"}),
        headers=sent,
    )
    assert "not valid text" in problem(cancel, 400, "malformed-body")
    assert cancel.body["field"] == "body.reason"
    still = await bot.services.store.get(number)
    assert still is not None and still.status.value == "pending"
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_a_client_without_the_role_is_403_and_its_refusal_is_logged_and_counted(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.api")
    viewer = client(bot, "dashboard")
    answer = await viewer.call("POST", "/api/v1/requests", json=FILE)
    assert "you need requester" in problem(answer, 403, "not-allowed")
    await nothing_stored(bot)
    assert counted(bot, "dashboard", "file", 403) == 1
    assert any(
        "file by client dashboard refused: 403 not-allowed" in r.getMessage()
        for r in caplog.records
    )
    # a client bound to acme cannot file in globex, even naming it
    answer = await client(bot).call("POST", "/api/v1/requests", json={**FILE, "org": "globex"})
    assert "org acme only" in problem(answer, 403, "not-allowed")
    # break-glass where the org has no break-glass policy
    answer = await client(bot).call(
        "POST", "/api/v1/requests", json={**FILE, "break_glass": {"incident": "INC-4411"}}
    )
    assert "no break-glass policy" in problem(answer, 403, "not-allowed")
    await nothing_stored(bot)


async def test_another_orgs_request_does_not_exist_for_a_client(
    bot: RunningBot, emulator: Emulator
) -> None:
    theirs = await client(bot, "globex-bot").call(
        "POST",
        "/api/v1/requests",
        json={"action": "delete", "targets": [{"app_id": "sfv_app_globex000001"}], "reason": "x"},
    )
    assert theirs.status == 201
    number = theirs.body["id"]
    ours = client(bot)  # acme's token
    absent = await ours.get(number + 1000)
    hidden = await ours.get(number)
    assert problem(hidden, 404, "not-found") == problem(absent, 404, "not-found").replace(
        str(number + 1000), str(number)
    )
    problem(await ours.get(number, wait=5), 404, "not-found")
    problem(await ours.cancel(number), 404, "not-found")
    still = await bot.services.store.get(number)
    assert still is not None and still.status.value == "pending"
    events = await bot.services.store.events(number)
    assert {e.detail["client"] for e in events if e.kind == "api_call"} == {"globex-bot"}


@pytest.mark.parametrize("orgs_yaml", [GLOBEX_GROUPED])
@pytest.mark.parametrize("slack_is", ["slow", "failing"])
async def test_another_orgs_request_is_a_missing_one_while_its_groups_are_unread(
    bot: RunningBot, slack: SlackStandin, slack_is: str
) -> None:
    """globex grants a role to a user group Slack does not list (slowly, or not at all): an
    acme client still gets the answer a missing number gets, and nothing of globex is read
    (before: 503 "still reading user groups", a second late: the request was there)."""
    if slack_is == "slow":
        slack.slow_down("usergroups.users.list", 10)  # longer than any role check waits
    else:
        slack.fail("usergroups.users.list", *[SlackServerError()] * 20)
    now = time.time()
    theirs, _ = await bot.services.store.create_request(  # as another replica filed it
        NewRequest(
            org="globex",
            action=Action.DELETE,
            requester="U0GINA",
            reason="x",
            targets=[Target("sfv_app_globex000001")],
            now=now,
            expires_at=now + 3600,
        ),
        approvals_needed=1,
    )
    ours = client(bot)
    missing = theirs.id + 1  # no such request; as many digits, so as long an answer
    assert len(str(missing)) == len(str(theirs.id))
    for call in (ours.get, ours.cancel, lambda n: ours.get(n, wait=5)):
        hidden, absent = await call(theirs.id), await call(missing)
        assert (hidden.status, hidden.body) == (
            absent.status,
            {**absent.body, "detail": absent.body["detail"].replace(str(missing), str(theirs.id))},
        )
        assert {k: v for k, v in hidden.headers.items() if k != "date"} == {
            k: v for k, v in absent.headers.items() if k != "date"
        }
        problem(hidden, 404, "not-found")
    if slack_is == "failing":
        assert not [c for c in slack.calls if c.method == "usergroups.users.list"]


async def test_request_ids_and_waits_out_of_range(bot: RunningBot) -> None:
    api = client(bot)
    for bad in ("abc", "0", "-1", "1.5", "%231", "0x10", "1" * 40):
        problem(await api.call("GET", f"/api/v1/requests/{bad}"), 400, "bad-parameter")
    assert "no request #2147483648" in problem(await api.get(2**31), 404, "not-found")
    problem(await api.get(99999999999), 404, "not-found")
    problem(await api.get(7), 404, "not-found")
    filed = await api.call("POST", "/api/v1/requests", json=FILE)
    for wait in ("31", "-1", "abc", "1e3", ""):
        answer = await api.call("GET", f"/api/v1/requests/{filed.body['id']}?wait={wait}")
        problem(answer, 400, "bad-parameter")


async def test_cancelling_someone_elses_request_needs_an_admin(bot: RunningBot) -> None:
    filed = await client(bot, "pagerduty").call("POST", "/api/v1/requests", json=FILE)
    number = filed.body["id"]
    refused = await client(bot).cancel(number)
    assert "only the requester or an admin" in problem(refused, 403, "not-allowed")
    problem(await client(bot, "pagerduty").cancel(number, "x" * 501), 422, "invalid-request")
    bad_reason = await client(bot).call(
        "POST", f"/api/v1/requests/{number}/cancel", json={"why": "no"}
    )
    problem(bad_reason, 400, "malformed-body")
    done = await client(bot, "admin-tool").cancel(number, "not needed any more")
    assert done.status == 200 and done.body["decided_by"] == "U0DAVE"


async def test_routes_and_methods_outside_the_api_are_problems_too(bot: RunningBot) -> None:
    api = client(bot)
    problem(await api.call("GET", "/api/v1/requestz"), 404, "not-found")
    problem(await api.call("GET", "/api/v1/requests/"), 404, "not-found")
    gone = await api.call("DELETE", "/api/v1/requests/1")
    problem(gone, 405, "method-not-allowed")
    assert "GET" in gone.headers["Allow"]


async def test_a_database_that_does_not_answer_is_503_try_again(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = client(bot)
    filed = await api.call("POST", "/api/v1/requests", json=FILE)

    async def down(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT requests", {}, ConnectionError("server closed"))

    async def no_answer() -> bool:
        return False

    monkeypatch.setattr(bot.services.store, "get", down)
    monkeypatch.setattr(bot.services.store, "ping", no_answer)
    answer = await api.get(filed.body["id"])
    problem(answer, 503, "unavailable")
    assert answer.headers["Retry-After"]
