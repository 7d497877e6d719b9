"""The read calls with respx: every documented answer, retries of what is safe, and bodies
that are not what the reference says answered as UnexpectedResponse, never another exception."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from bot.errors import (
    ApiNotFound,
    ApiServerError,
    AppNotFound,
    InvalidId,
    TransportFailure,
    Unauthorized,
    UnexpectedResponse,
)
from bot.sfvopi import AppInfo, AvailableNumber, NumberLink, SfvopiClient
from tests.support.sfvopi_wire import APP, APP_BODY, BASE, KEY, LINK, NUMBERS, ok

ONE_APP = f"{BASE}/sfvopi/apps/{APP}"
APPS = f"{BASE}/sfvopi/apps"
AVAILABLE = f"{BASE}/sfvopi/available-numbers"


async def read(client: SfvopiClient, url: str) -> object:
    """The read call whose URL is `url`."""
    if url == NUMBERS:
        return await client.list_app_numbers(KEY, APP)
    if url == ONE_APP:
        return await client.get_app(KEY, APP)
    if url == APPS:
        return await client.list_apps(KEY)
    return await client.available_numbers(KEY)


async def test_list_app_numbers(api: respx.MockRouter, client: SfvopiClient) -> None:
    route = api.get(NUMBERS).respond(200, json=ok([LINK]))
    links = await client.list_app_numbers(KEY, APP)
    assert links == [
        NumberLink(APP, "+918000000001", "ACTIVE", 7, "2024-05-01T09:30:00.000Z", None)
    ]
    request = route.calls.last.request
    assert request.headers["X-API-Key"] == "test-key-unit-not-real"
    assert request.content == b""


async def test_no_numbers_is_an_empty_list(api: respx.MockRouter, client: SfvopiClient) -> None:
    api.get(f"{BASE}/sfvopi/apps/app_abc123/numbers").respond(200, json=ok([]))
    assert await client.list_app_numbers(KEY, "app_abc123") == []


async def test_get_app_reads_every_field(api: respx.MockRouter, client: SfvopiClient) -> None:
    api.get(ONE_APP).respond(200, json=ok(APP_BODY))
    app = await client.get_app(KEY, APP)
    assert app == AppInfo(**APP_BODY)
    assert app.fields.body() == {
        "name": "Support line",
        "answer_url": "https://voice.example.com/answer",
        "answer_method": "POST",
        "hangup_method": "POST",
        "fallback_answer_url": "https://voice.example.com/fallback",
        "fallback_answer_method": "GET",
    }


async def test_list_apps_and_available_numbers(api: respx.MockRouter, client: SfvopiClient) -> None:
    api.get(APPS).respond(200, json=ok([APP_BODY, {**APP_BODY, "app_id": "sfv_app_older0000001"}]))
    held = {"id": 3, "voip_number": "+918000000005", "provider": "exotel", "status": "ACTIVE"}
    api.get(AVAILABLE).respond(200, json=ok([held]))
    assert [a.app_id for a in await client.list_apps(KEY)] == [APP, "sfv_app_older0000001"]
    assert await client.available_numbers(KEY) == [
        AvailableNumber("+918000000005", 3, "exotel", "ACTIVE")
    ]


@pytest.mark.parametrize("message", ["App not found", "SFVoPI app not found"])
@pytest.mark.parametrize("url", [NUMBERS, ONE_APP])
async def test_both_app_not_found_messages(
    api: respx.MockRouter, client: SfvopiClient, message: str, url: str
) -> None:
    route = api.get(url).respond(404, json={"message": message})
    read = client.list_app_numbers if url == NUMBERS else client.get_app
    with pytest.raises(AppNotFound) as caught:
        await read(KEY, APP)
    assert caught.value.message == message and route.call_count == 1


async def test_an_undocumented_404(api: respx.MockRouter, client: SfvopiClient) -> None:
    api.get(NUMBERS).respond(404, json={"message": "Route moved"})
    with pytest.raises(ApiNotFound, match="Route moved"):
        await client.list_app_numbers(KEY, APP)
    api.get(ONE_APP).respond(404, text="Not Found")
    with pytest.raises(UnexpectedResponse, match="base URL"):
        await client.get_app(KEY, APP)


@pytest.mark.parametrize("url", [NUMBERS, ONE_APP, APPS, AVAILABLE])
async def test_unauthorized_is_not_retried(
    api: respx.MockRouter, client: SfvopiClient, url: str
) -> None:
    route = api.get(url).respond(
        401, json={"message": "UnAuthorized, Please Provide Valid API Key"}
    )
    with pytest.raises(Unauthorized):
        await read(client, url)
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (NUMBERS, "Failed to get numbers: db down"),
        (ONE_APP, "Failed to get SFVoPI app: db down"),
        (APPS, "Failed to get SFVoPI apps: db down"),
        (AVAILABLE, "Failed to get available numbers: db down"),
    ],
)
async def test_server_errors_are_retried_then_raised(
    api: respx.MockRouter, client: SfvopiClient, url: str, message: str
) -> None:
    route = api.get(url).respond(500, json={"message": message})
    with pytest.raises(ApiServerError) as caught:
        await read(client, url)
    assert caught.value.message == message and caught.value.attempts == 3
    assert not caught.value.maybe_applied and route.call_count == 3


async def test_a_read_is_retried_after_a_timeout_or_a_drop(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    route = api.get(NUMBERS)
    route.side_effect = [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.Response(200, json=ok([LINK])),
    ]
    assert len(await client.list_app_numbers(KEY, APP)) == 1
    assert route.call_count == 3


async def test_a_read_that_never_answers_never_may_have_applied(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    route = api.get(APPS).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TransportFailure) as caught:
        await client.list_apps(KEY)
    assert caught.value.message == "timeout" and caught.value.attempts == 3
    assert not caught.value.maybe_applied and route.call_count == 3


MALFORMED: list[tuple[str, Any]] = [
    ("not JSON", b"<html>502</html>"),
    ("a JSON list", [LINK]),
    ("no data", {"message": "success"}),
    ("data not a list", ok({"voip_number": "+918000000001"})),
    ("item not an object", ok(["+918000000001"])),
    ("number missing", ok([{k: v for k, v in LINK.items() if k != "voip_number"}])),
    ("number not a string", ok([{**LINK, "voip_number": 918000000001}])),
    ("org_id a string", ok([{**LINK, "org_id": "7"}])),
    ("org_id a boolean", ok([{**LINK, "org_id": True}])),
    ("status empty", ok([{**LINK, "status": ""}])),
    ("a huge field", ok([{**LINK, "created_at": "x" * 5000}])),
]


@pytest.mark.parametrize(("why", "body"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_numbers_are_a_clear_failure(
    api: respx.MockRouter, client: SfvopiClient, why: str, body: Any
) -> None:
    content = body if isinstance(body, bytes) else None
    api.get(NUMBERS).respond(200, content=content, json=None if content else body)
    with pytest.raises(UnexpectedResponse) as caught:
        await client.list_app_numbers(KEY, APP)
    assert caught.value.status_code == 200 and caught.value.message.startswith("HTTP 200, ")
    assert not caught.value.maybe_applied


@pytest.mark.parametrize(
    "body",
    [
        ok({**APP_BODY, "name": None}),
        ok({**APP_BODY, "hangup_url": 5}),
        ok({k: v for k, v in APP_BODY.items() if k != "answer_url"}),
        ok([APP_BODY]),
        {"data": None, "message": "success"},
    ],
)
async def test_malformed_apps_are_a_clear_failure(
    api: respx.MockRouter, client: SfvopiClient, body: Any
) -> None:
    api.get(ONE_APP).respond(200, json=body)
    api.get(APPS).respond(200, json=ok([body["data"]]))
    with pytest.raises(UnexpectedResponse):
        await client.get_app(KEY, APP)
    with pytest.raises(UnexpectedResponse):
        await client.list_apps(KEY)


async def test_undocumented_status(api: respx.MockRouter, client: SfvopiClient) -> None:
    route = api.get(AVAILABLE).respond(418, json={"message": "teapot"})
    with pytest.raises(UnexpectedResponse, match="undocumented"):
        await client.available_numbers(KEY)
    assert route.call_count == 1


async def test_invalid_app_ids_never_reach_the_network(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    for bad in ["../etc", "sfv_app_a/b", "", "sfv_app_x?y=1"]:
        with pytest.raises(InvalidId):
            await client.list_app_numbers(KEY, bad)
        with pytest.raises(InvalidId):
            await client.get_app(KEY, bad)
    assert not api.calls
