"""Pure client cases with respx: what goes on the wire, and answers the emulator never gives."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from bot.core.models import Outcome, Target
from bot.core.targets import ApiResult, perform
from bot.errors import ApiNotFound, ApiServerError, NumberNotLinked, UnexpectedResponse
from bot.sfvopi import SfvopiClient
from tests.support.sfvopi_wire import BASE, KEY

UNLINK = f"{BASE}/sfvopi/apps/app_abc123/numbers/%2B918000000001"
DELETE = f"{BASE}/sfvopi/apps/sfv_app_abc123xyz456"
OK = {"data": {"deleted": True}, "message": "success"}


async def test_request_shape(api: respx.MockRouter, client: SfvopiClient) -> None:
    route = api.delete(UNLINK).respond(200, json=OK)
    await client.unlink_number(KEY, "app_abc123", "+918000000001")
    request = route.calls.last.request
    assert request.method == "DELETE"
    assert request.headers["X-API-Key"] == "test-key-unit-not-real"
    assert request.url.raw_path == b"/superfone/sfvopi/apps/app_abc123/numbers/%2B918000000001"
    assert request.content == b""


def test_timeouts_are_bounded_everywhere() -> None:
    client = SfvopiClient(BASE, timeout=2.5)
    assert client.timeout == httpx.Timeout(connect=2.5, read=2.5, write=2.5, pool=2.5)
    assert client._http.timeout == client.timeout


def test_base_url_is_checked() -> None:
    with pytest.raises(ValueError, match="base URL"):
        SfvopiClient("prod-api.superfone.co.in/superfone")


async def test_undocumented_status_is_unexpected_and_not_retried(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    route = api.delete(DELETE).respond(418, json={"message": "I'm a teapot"})
    with pytest.raises(UnexpectedResponse) as caught:
        await client.delete_app(KEY, "sfv_app_abc123xyz456")
    assert caught.value.status_code == 418
    assert "HTTP 418" in caught.value.describe()
    assert route.call_count == 1
    result = await perform(client, KEY, Target("sfv_app_abc123xyz456"))
    assert result == ApiResult(
        Outcome.FAILED, 418, "unexpected response from SFVoPI (HTTP 418, undocumented status)", 1
    )


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"deleted": False}, "message": "success"},
        {"deleted": True},
        {"data": None, "message": "success"},
        ["not", "an", "object"],
    ],
)
async def test_200_without_the_envelope_is_unexpected(
    api: respx.MockRouter, client: SfvopiClient, body: object
) -> None:
    api.delete(DELETE).respond(200, json=body)
    with pytest.raises(UnexpectedResponse, match="without"):
        await client.delete_app(KEY, "sfv_app_abc123xyz456")


async def test_404_that_is_not_json_is_not_taken_for_absence(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    api.delete(DELETE).respond(404, text="<html>Not Found</html>")
    with pytest.raises(UnexpectedResponse, match="base URL"):
        await client.delete_app(KEY, "sfv_app_abc123xyz456", ambiguous_before=True)


async def test_undocumented_404_message_is_never_absence(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    api.delete(DELETE).respond(404, json={"message": "Route not found"})
    with pytest.raises(ApiNotFound) as caught:
        await client.delete_app(KEY, "sfv_app_abc123xyz456", ambiguous_before=True)
    assert type(caught.value) is ApiNotFound and caught.value.message == "Route not found"


async def test_connect_error_is_not_ambiguous(api: respx.MockRouter, client: SfvopiClient) -> None:
    """A refused connection sent nothing, so a later 404 means never there."""
    api.delete(UNLINK).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(404, json={"message": "Number not linked to this app"}),
        ]
    )
    with pytest.raises(NumberNotLinked) as caught:
        await client.unlink_number(KEY, "app_abc123", "+918000000001")
    assert caught.value.attempts == 2


async def test_read_timeout_is_ambiguous(api: respx.MockRouter, client: SfvopiClient) -> None:
    api.delete(UNLINK).mock(
        side_effect=[
            httpx.ReadTimeout("slow"),
            httpx.Response(404, json={"message": "Number not linked to this app"}),
        ]
    )
    done = await client.unlink_number(KEY, "app_abc123", "+918000000001")
    assert done.already_absent and done.attempts == 2


async def test_backoff_doubles_and_5xx_without_json_still_names_the_status(
    api: respx.MockRouter,
) -> None:
    route = api.delete(DELETE).respond(503, text="Service Unavailable")
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    async with SfvopiClient(BASE, tries=4, backoff=0.2) as client:
        client._sleep = fake_sleep
        with pytest.raises(ApiServerError) as caught:
            await client.delete_app(KEY, "sfv_app_abc123xyz456")
    assert caught.value.message == "HTTP 503"
    assert caught.value.attempts == 4 and route.call_count == 4
    assert len(sleeps) == 3
    for slept, base in zip(sleeps, [0.2, 0.4, 0.8], strict=True):
        assert base <= slept <= base * 1.1


async def test_a_message_that_is_not_valid_text_is_kept_storable(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    body = b'{"message": "down \\ud800 again"}'  # JSON's escape for a lone surrogate
    api.delete(DELETE).respond(500, content=body, headers={"Content-Type": "application/json"})
    result = await perform(client, KEY, Target("sfv_app_abc123xyz456"))
    assert result.message.endswith(": down \ufffd again")


async def test_cancellation_propagates(api: respx.MockRouter, client: SfvopiClient) -> None:
    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    api.delete(DELETE).mock(side_effect=never)
    task = asyncio.create_task(perform(client, KEY, Target("sfv_app_abc123xyz456")))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
