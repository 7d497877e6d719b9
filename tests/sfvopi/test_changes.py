"""Link and create with respx: a link that may have applied is checked before it is sent again,
and each documented refusal is its own result; a create that may have applied is never sent
again: the caller gets CreateUnknown."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from bot.errors import ApiServerError, InvalidId, TransportFailure, Unauthorized
from bot.sfvopi import (
    AppFields,
    Created,
    CreateRefused,
    CreateUnknown,
    Linked,
    LinkRefusal,
    LinkRefused,
    NumberLink,
    SfvopiClient,
)
from tests.support.sfvopi_wire import APP, APP_BODY, BASE, KEY, LINK, NUMBERS, ok

APPS = f"{BASE}/sfvopi/apps"
N1 = "+918000000001"
LINKED = NumberLink(APP, N1, "ACTIVE", 7, "2024-05-01T09:30:00.000Z", None)
FIELDS = AppFields("Support line", "https://voice.example.com/answer", "POST", None, "POST")
NEW_APP: dict[str, Any] = {
    **APP_BODY,
    "app_id": "sfv_app_new000000001",
    "fallback_answer_url": None,
    "fallback_answer_method": "POST",
    "status": "ACTIVE",
}


# link


async def test_link_sends_the_number_in_the_body(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    route = api.post(NUMBERS).respond(200, json=ok(LINK))
    assert await client.link_number(KEY, APP, N1) == Linked(LINKED, attempts=1)
    request = route.calls.last.request
    assert json.loads(request.content) == {"voip_number": "+918000000001"}
    assert request.headers["X-API-Key"] == "test-key-unit-not-real"
    assert request.url.raw_path == b"/superfone/sfvopi/apps/sfv_app_abc123xyz456/numbers"


@pytest.mark.parametrize(
    ("status", "message", "refusal"),
    [
        (400, "Invalid request body", LinkRefusal.INVALID_BODY),
        (400, "VoIP number not found or does not belong to this org", LinkRefusal.NOT_IN_ORG),
        (404, "SFVoPI app not found", LinkRefusal.APP_NOT_FOUND),
        (404, "App not found", LinkRefusal.APP_NOT_FOUND),
        (409, "VoIP number is already linked to another SFVoPI app", LinkRefusal.LINKED_ELSEWHERE),
    ],
)
async def test_each_refusal_is_its_own_result(
    api: respx.MockRouter, client: SfvopiClient, status: int, message: str, refusal: LinkRefusal
) -> None:
    post = api.post(NUMBERS).respond(status, json={"message": message})
    api.get(NUMBERS).respond(200, json=ok([]))  # the 409's check: not linked here
    assert await client.link_number(KEY, APP, N1) == LinkRefused(refusal, message, status, 1)
    assert post.call_count == 1


async def test_a_409_for_a_number_linked_to_this_very_app_is_linked(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    api.post(NUMBERS).respond(409, json={"message": "already linked"})
    api.get(NUMBERS).respond(200, json=ok([LINK]))
    assert await client.link_number(KEY, APP, N1) == Linked(LINKED, 1, found_linked=True)


async def test_a_409_whose_check_fails_stays_a_refusal(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    api.post(NUMBERS).respond(409, json={})
    api.get(NUMBERS).respond(500, json={"message": "Failed to get numbers: x"})
    done = await client.link_number(KEY, APP, N1)
    assert isinstance(done, LinkRefused) and done.refusal is LinkRefusal.LINKED_ELSEWHERE
    assert done.message == "VoIP number is already linked to another SFVoPI app"


async def test_unauthorized(api: respx.MockRouter, client: SfvopiClient) -> None:
    route = api.post(NUMBERS).respond(401, json={"message": "UnAuthorized"})
    with pytest.raises(Unauthorized):
        await client.link_number(KEY, APP, N1)
    assert route.call_count == 1


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(500, json={"message": "Failed to link number: x"}),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.Response(200, text="<html>oops</html>"),
        httpx.Response(200, json=ok({"voip_number": N1})),
    ],
    ids=["500", "timeout", "dropped", "garbage", "partial"],
)
async def test_an_ambiguous_link_found_applied_is_not_sent_again(
    api: respx.MockRouter, client: SfvopiClient, first: Any
) -> None:
    post = api.post(NUMBERS)
    post.side_effect = [first]
    check = api.get(NUMBERS).respond(200, json=ok([LINK]))
    assert await client.link_number(KEY, APP, N1) == Linked(LINKED, 1, found_linked=True)
    assert (post.call_count, check.call_count) == (1, 1)


async def test_an_ambiguous_link_found_absent_is_sent_again(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    post = api.post(NUMBERS)
    post.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(200, json=ok(LINK))]
    check = api.get(NUMBERS).respond(200, json=ok([]))
    assert await client.link_number(KEY, APP, N1) == Linked(LINKED, attempts=2)
    assert (post.call_count, check.call_count) == (2, 1)


async def test_a_link_failing_every_time_is_checked_each_time(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    post = api.post(NUMBERS).respond(500, json={"message": "Failed to link number: x"})
    check = api.get(NUMBERS).respond(200, json=ok([]))
    with pytest.raises(ApiServerError) as caught:
        await client.link_number(KEY, APP, N1)
    assert caught.value.attempts == 3 and not caught.value.maybe_applied
    assert (post.call_count, check.call_count) == (3, 3)


async def test_an_ambiguous_link_that_cannot_be_checked_may_have_applied(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    post = api.post(NUMBERS)
    post.side_effect = [httpx.ReadTimeout("slow")]
    api.get(NUMBERS).mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(TransportFailure) as caught:
        await client.link_number(KEY, APP, N1)
    assert caught.value.maybe_applied and caught.value.message == "timeout"
    assert post.call_count == 1


async def test_a_refused_connection_is_retried_without_a_check(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    post = api.post(NUMBERS)
    post.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json=ok(LINK))]
    check = api.get(NUMBERS).respond(200, json=ok([]))
    assert await client.link_number(KEY, APP, N1) == Linked(LINKED, attempts=2)
    assert check.call_count == 0


async def test_bad_ids_never_reach_the_network(api: respx.MockRouter, client: SfvopiClient) -> None:
    for app, number in [("sfv_app_a/b", N1), (APP, "918000000001"), (APP, "+91 800")]:
        with pytest.raises(InvalidId):
            await client.link_number(KEY, app, number)
    assert not api.calls


# create


async def test_create_sends_the_fields_set(api: respx.MockRouter, client: SfvopiClient) -> None:
    route = api.post(APPS).respond(200, json=ok(NEW_APP))
    created = await client.create_app(KEY, FIELDS)
    assert isinstance(created, Created) and created.attempts == 1
    assert created.app.app_id == "sfv_app_new000000001"
    assert created.app.fields.name == FIELDS.name and created.app.status == "ACTIVE"
    assert json.loads(route.calls.last.request.content) == {
        "name": "Support line",
        "answer_url": "https://voice.example.com/answer",
        "answer_method": "POST",
        "hangup_method": "POST",
    }


async def test_create_accepts_201(api: respx.MockRouter, client: SfvopiClient) -> None:
    api.post(APPS).respond(201, json=ok(NEW_APP))
    assert isinstance(await client.create_app(KEY, FIELDS), Created)


@pytest.mark.parametrize("status", [400, 403, 409, 422])
async def test_a_refused_create(api: respx.MockRouter, client: SfvopiClient, status: int) -> None:
    route = api.post(APPS).respond(status, json={"message": "Invalid request body"})
    assert await client.create_app(KEY, FIELDS) == CreateRefused("Invalid request body", status, 1)
    assert route.call_count == 1


async def test_create_unauthorized(api: respx.MockRouter, client: SfvopiClient) -> None:
    api.post(APPS).respond(401, json={"message": "UnAuthorized, Please Provide Valid API Key"})
    with pytest.raises(Unauthorized):
        await client.create_app(KEY, FIELDS)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"message": "Failed to create SFVoPI app: x"}),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json=ok({"app_id": "sfv_app_new000000001"})),
        httpx.Response(200, json=ok({**NEW_APP, "app_id": "sfv_app_x` <!channel> /../y"})),
    ],
    ids=["500", "timeout", "dropped", "garbage", "partial", "not-an-app-id"],
)
async def test_a_create_that_may_have_applied_is_never_sent_again(
    api: respx.MockRouter, client: SfvopiClient, answer: Any
) -> None:
    route = api.post(APPS)
    route.side_effect = [answer, httpx.Response(200, json=ok(NEW_APP))]
    unknown = await client.create_app(KEY, FIELDS)
    assert isinstance(unknown, CreateUnknown) and unknown.attempts == 1
    assert route.call_count == 1


async def test_a_create_never_sent_is_tried_again(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    route = api.post(APPS)
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json=ok(NEW_APP))]
    created = await client.create_app(KEY, FIELDS)
    assert isinstance(created, Created) and created.attempts == 2


async def test_a_create_never_sent_at_all_fails_plainly(
    api: respx.MockRouter, client: SfvopiClient
) -> None:
    api.post(APPS).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TransportFailure) as caught:
        await client.create_app(KEY, FIELDS)
    assert not caught.value.maybe_applied and caught.value.attempts == 3
