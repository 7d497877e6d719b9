"""The SFVoPI client against the emulator over loopback: every documented answer, and faults."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from bot.core.models import Outcome, Target
from bot.core.targets import ApiResult, perform
from bot.errors import (
    ApiNotFound,
    ApiServerError,
    AppNotFound,
    InvalidId,
    InvalidKey,
    NumberNotLinked,
    SfvopiError,
    TransportFailure,
    Unauthorized,
    UnexpectedResponse,
)
from bot.sandbox.emulator import ApiFault, Emulator
from bot.sfvopi import Deleted, SfvopiClient
from tests.support.emulator import ACME_KEY, GLOBEX_KEY

ACME = SecretStr(ACME_KEY)
GLOBEX = SecretStr(GLOBEX_KEY)
WRONG = SecretStr("test-key-wrong-not-real")
APP = "sfv_app_abc123xyz456"
N1 = "+918000000001"
N2 = "+918000000002"


@pytest_asyncio.fixture
async def client(emulator: Emulator) -> AsyncIterator[SfvopiClient]:
    async with SfvopiClient(emulator.base_url, timeout=2.0, backoff=0.001) as c:
        yield c


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# success


async def test_unlink_success_removes_only_that_number(
    client: SfvopiClient, emulator: Emulator
) -> None:
    done = await client.unlink_number(ACME, APP, N1)
    assert done == Deleted(message="success", attempts=1, already_absent=False)
    assert emulator.numbers(ACME_KEY, APP) == {N2}
    assert emulator.numbers(ACME_KEY, "app_abc123") == {N1}
    assert emulator.effective == {("unlink", APP, N1): 1}


async def test_plus_is_sent_percent_encoded(client: SfvopiClient, emulator: Emulator) -> None:
    await client.unlink_number(ACME, "app_abc123", N1)
    (call,) = emulator.calls
    assert call.raw_path == "/superfone/sfvopi/apps/app_abc123/numbers/%2B918000000001"
    assert call.method == "DELETE" and call.org == "acme" and call.status == 200


async def test_emulator_would_show_a_raw_plus(emulator: Emulator) -> None:
    """Guards the test above: a client that sent `+` unencoded is visible in the raw path."""
    async with httpx.AsyncClient() as http:
        url = emulator.base_url + "/sfvopi/apps/app_abc123/numbers/+918000000001"
        response = await http.delete(url, headers={"X-API-Key": ACME_KEY})
    assert response.status_code == 200
    assert emulator.calls[0].raw_path.endswith("/numbers/+918000000001")


async def test_delete_app_success_removes_app_and_numbers(
    client: SfvopiClient, emulator: Emulator
) -> None:
    done = await client.delete_app(ACME, APP)
    assert done == Deleted(message="success", attempts=1)
    assert not emulator.has_app(ACME_KEY, APP)
    assert APP not in emulator.snapshot()["acme"]
    assert emulator.has_app(ACME_KEY, "app_abc123")
    assert emulator.effective == {("delete", APP, None): 1}


# documented errors, not retried


async def test_wrong_key_is_unauthorized_and_not_retried(
    client: SfvopiClient, emulator: Emulator
) -> None:
    with pytest.raises(Unauthorized) as caught:
        await client.unlink_number(WRONG, APP, N1)
    assert caught.value.message == "UnAuthorized, Please Provide Valid API Key"
    assert (caught.value.status_code, caught.value.attempts) == (401, 1)
    with pytest.raises(Unauthorized):
        await client.delete_app(WRONG, APP)
    assert [c.status for c in emulator.calls] == [401, 401]
    assert [c.org for c in emulator.calls] == [None, None]
    assert emulator.numbers(ACME_KEY, APP) == {N1, N2}


async def test_missing_key_is_unauthorized(emulator: Emulator) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.delete(emulator.base_url + f"/sfvopi/apps/{APP}")
    assert response.status_code == 401
    assert response.json() == {"message": "UnAuthorized, Please Provide Valid API Key"}
    assert emulator.has_app(ACME_KEY, APP)


@pytest.mark.parametrize("key", ["", " padded ", "line\nbreak"])
async def test_unusable_key_is_refused_before_any_call(
    client: SfvopiClient, emulator: Emulator, key: str
) -> None:
    with pytest.raises(InvalidKey):
        await client.delete_app(SecretStr(key), APP)
    assert emulator.calls == []


async def test_unlink_unknown_app(client: SfvopiClient, emulator: Emulator) -> None:
    with pytest.raises(AppNotFound) as caught:
        await client.unlink_number(ACME, "sfv_app_nosuchapp000", N1)
    assert caught.value.message == "App not found"
    assert (caught.value.status_code, caught.value.attempts) == (404, 1)
    assert len(emulator.calls) == 1


async def test_unlink_number_not_linked_on_first_try_raises(
    client: SfvopiClient, emulator: Emulator
) -> None:
    with pytest.raises(NumberNotLinked) as caught:
        await client.unlink_number(ACME, "app_abc123", N2)
    assert caught.value.message == "Number not linked to this app"
    assert isinstance(caught.value, ApiNotFound)
    assert len(emulator.calls) == 1


async def test_delete_unknown_app(client: SfvopiClient, emulator: Emulator) -> None:
    with pytest.raises(AppNotFound) as caught:
        await client.delete_app(ACME, "sfv_app_nosuchapp000")
    assert caught.value.message == "SFVoPI app not found"
    assert len(emulator.calls) == 1


async def test_another_orgs_key_cannot_see_the_app(
    client: SfvopiClient, emulator: Emulator
) -> None:
    with pytest.raises(AppNotFound, match=r"^SFVoPI app not found$"):
        await client.delete_app(GLOBEX, APP)
    with pytest.raises(AppNotFound, match=r"^App not found$"):
        await client.unlink_number(GLOBEX, APP, N1)
    assert emulator.has_app(ACME_KEY, APP)
    assert emulator.numbers(ACME_KEY, APP) == {N1, N2}
    assert [c.org for c in emulator.calls] == ["globex", "globex"]


# 5xx and transport failures, retried


async def test_server_error_after_all_tries_carries_the_api_message(
    client: SfvopiClient, emulator: Emulator
) -> None:
    emulator.script(ApiFault.SERVER_ERROR, ApiFault.SERVER_ERROR, ApiFault.SERVER_ERROR)
    with pytest.raises(ApiServerError) as caught:
        await client.unlink_number(ACME, APP, N1)
    assert caught.value.message == "Failed to unlink number: injected fault"
    assert (caught.value.status_code, caught.value.attempts) == (500, 3)
    assert [c.status for c in emulator.calls] == [500, 500, 500]
    assert emulator.numbers(ACME_KEY, APP) == {N1, N2}


async def test_server_error_then_success(client: SfvopiClient, emulator: Emulator) -> None:
    emulator.script(ApiFault.SERVER_ERROR)
    done = await client.delete_app(ACME, APP)
    assert done == Deleted(message="success", attempts=2, already_absent=False)
    assert emulator.effective == {("delete", APP, None): 1}


async def test_dropped_connection_then_success(client: SfvopiClient, emulator: Emulator) -> None:
    emulator.script(ApiFault.DROP)
    done = await client.unlink_number(ACME, APP, N1)
    assert done == Deleted(message="success", attempts=2, already_absent=False)
    assert [c.status for c in emulator.calls] == [None, 200]
    assert emulator.effective == {("unlink", APP, N1): 1}


async def test_applied_then_dropped_reads_as_already_absent(
    client: SfvopiClient, emulator: Emulator
) -> None:
    emulator.script(ApiFault.APPLY_THEN_DROP)
    done = await client.unlink_number(ACME, APP, N1)
    assert done == Deleted(message="Number not linked to this app", attempts=2, already_absent=True)
    assert emulator.effective == {("unlink", APP, N1): 1}
    assert [c.status for c in emulator.calls] == [None, 404]


async def test_applied_then_server_error_reads_as_already_absent(
    client: SfvopiClient, emulator: Emulator
) -> None:
    emulator.script(ApiFault.APPLY_THEN_SERVER_ERROR)
    done = await client.delete_app(ACME, APP)
    assert done == Deleted(message="SFVoPI app not found", attempts=2, already_absent=True)
    assert emulator.effective == {("delete", APP, None): 1}


async def test_ambiguous_before_makes_a_first_404_already_absent(
    client: SfvopiClient, emulator: Emulator
) -> None:
    done = await client.unlink_number(ACME, "app_abc123", N2, ambiguous_before=True)
    assert done == Deleted(message="Number not linked to this app", attempts=1, already_absent=True)
    done = await client.delete_app(ACME, "sfv_app_nosuchapp000", ambiguous_before=True)
    assert done.already_absent and done.message == "SFVoPI app not found"


async def test_unauthorized_is_never_already_absent(
    client: SfvopiClient, emulator: Emulator
) -> None:
    with pytest.raises(Unauthorized):
        await client.delete_app(WRONG, APP, ambiguous_before=True)


async def test_garbage_is_unexpected_and_not_retried(
    client: SfvopiClient, emulator: Emulator
) -> None:
    emulator.script(ApiFault.GARBAGE)
    with pytest.raises(UnexpectedResponse) as caught:
        await client.delete_app(ACME, APP)
    assert caught.value.message == "HTTP 200, not JSON"
    assert caught.value.attempts == 1
    assert len(emulator.calls) == 1


async def test_timeout_after_all_tries(emulator: Emulator) -> None:
    emulator.script(ApiFault.TIMEOUT, ApiFault.TIMEOUT)
    async with SfvopiClient(emulator.base_url, timeout=0.2, tries=2, backoff=0.001) as client:
        with pytest.raises(TransportFailure) as caught:
            await client.delete_app(ACME, APP)
        assert caught.value.message == "timeout"
        assert (caught.value.attempts, caught.value.status_code) == (2, None)
    assert emulator.has_app(ACME_KEY, APP)


async def test_connection_refused(emulator: Emulator) -> None:
    base = f"http://127.0.0.1:{_closed_port()}/superfone"
    async with SfvopiClient(base, timeout=1.0, backoff=0.001) as client:
        with pytest.raises(TransportFailure) as caught:
            await client.unlink_number(ACME, APP, N1)
        assert caught.value.message == "could not connect"
        assert caught.value.attempts == 3
        result = await perform(client, ACME, Target(APP))
    assert result == ApiResult(
        Outcome.FAILED, None, "no answer from SFVoPI after 3 tries (could not connect)", 3
    )


async def test_killed_mid_call_then_retried_is_already_absent(
    client: SfvopiClient, emulator: Emulator
) -> None:
    """The bot dies while the server works; the server finishes; the retry finds it gone."""
    with emulator.hold(match=APP) as held:
        task = asyncio.create_task(client.delete_app(ACME, APP))
        await held.wait_arrived()
        assert emulator.waiting == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    for _ in range(200):
        if emulator.effective:
            break
        await asyncio.sleep(0.005)
    assert emulator.effective == {("delete", APP, None): 1}
    result = await perform(client, ACME, Target(APP), ambiguous_before=True)
    assert result == ApiResult(Outcome.ALREADY_ABSENT, 404, "SFVoPI app not found", 1)
    assert emulator.effective == {("delete", APP, None): 1}


# ids are checked before they reach a path


@pytest.mark.parametrize(
    ("app_id", "number"),
    [
        ("../x", None),
        ("app_1?x=1", None),
        ("app_1/numbers/+918000000001", None),
        ("app_abc123", "+91 800"),
        ("app_abc123", "918000000001"),
        ("app_abc123", "+918000000001/../x"),
    ],
)
async def test_invalid_ids_never_reach_the_server(
    client: SfvopiClient, emulator: Emulator, app_id: str, number: str | None
) -> None:
    with pytest.raises(InvalidId):
        if number is None:
            await client.delete_app(ACME, app_id)
        else:
            await client.unlink_number(ACME, app_id, number)
    result = await perform(client, ACME, Target(app_id, number))
    assert result.outcome is Outcome.FAILED and result.attempts == 0
    assert emulator.calls == []


# perform


async def test_perform_maps_outcomes_to_messages(client: SfvopiClient, emulator: Emulator) -> None:
    done = await perform(client, ACME, Target(APP, N1))
    assert done == ApiResult(Outcome.DONE, 200, "success", 1)

    not_linked = await perform(client, ACME, Target(APP, N1))
    assert not_linked == ApiResult(Outcome.FAILED, 404, "Number not linked to this app", 1)

    rejected = await perform(client, WRONG, Target(APP))
    assert rejected == ApiResult(Outcome.FAILED, 401, "the API key was rejected (401)", 1)

    emulator.script(*[ApiFault.SERVER_ERROR] * 3, match=APP)
    failed = await perform(client, ACME, Target(APP))
    assert failed == ApiResult(
        Outcome.FAILED,
        500,
        "server error after 3 tries: Failed to delete SFVoPI app: injected fault",
        3,
    )

    emulator.script(ApiFault.GARBAGE)
    garbage = await perform(client, ACME, Target(APP))
    assert garbage == ApiResult(
        Outcome.UNKNOWN,
        200,
        "unexpected response from SFVoPI (HTTP 200, not JSON); it may have been applied: "
        f"check {APP} in SFVoPI before trying again",
        1,
    )

    emulator.script(ApiFault.APPLY_THEN_DROP)
    absent = await perform(client, ACME, Target(APP))
    assert absent == ApiResult(Outcome.ALREADY_ABSENT, 404, "SFVoPI app not found", 2)
    assert emulator.effective == {("unlink", APP, N1): 1, ("delete", APP, None): 1}


async def test_perform_timeout_message(emulator: Emulator) -> None:
    emulator.script(ApiFault.TIMEOUT, ApiFault.TIMEOUT)
    async with SfvopiClient(emulator.base_url, timeout=0.2, tries=2, backoff=0.001) as client:
        result = await perform(client, ACME, Target(APP, N1))
    assert result == ApiResult(
        Outcome.UNKNOWN,
        None,
        "no answer from SFVoPI after 2 tries (timeout); it may have been applied: "
        f"check {N1} on {APP} in SFVoPI before trying again",
        2,
    )


async def test_a_refused_connection_is_a_failure_not_an_unknown() -> None:
    """Nothing was sent, so nothing can have been applied."""
    async with SfvopiClient("http://127.0.0.1:9", timeout=0.5, tries=2, backoff=0.001) as client:
        result = await perform(client, ACME, Target(APP, N1))
    assert result.outcome is Outcome.FAILED
    assert result.message == "no answer from SFVoPI after 2 tries (could not connect)"


async def test_the_key_never_shows(
    client: SfvopiClient, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[SfvopiError] = []
    results: list[ApiResult] = []
    scenarios: list[tuple[SecretStr, list[ApiFault], Target]] = [
        (WRONG, [], Target(APP)),
        (ACME, [], Target("sfv_app_nosuchapp000")),
        (ACME, [], Target("app_abc123", N2)),
        (ACME, [ApiFault.SERVER_ERROR] * 3, Target(APP)),
        (ACME, [ApiFault.GARBAGE], Target(APP)),
        (ACME, [ApiFault.DROP] * 3, Target(APP)),
    ]
    for key, faults, target in scenarios:
        emulator.script(*faults)
        try:
            if target.number:
                await client.unlink_number(key, target.app_id, target.number)
            else:
                await client.delete_app(key, target.app_id)
        except SfvopiError as exc:
            errors.append(exc)
        emulator.script(*faults)
        results.append(await perform(client, key, target))
    assert len(errors) == len(scenarios)
    shown = [s for e in errors for s in (str(e), repr(e), e.describe(), e.message)]
    shown += [repr(r) for r in results]
    shown += [r.getMessage() for r in caplog.records]
    shown += [repr(c) for c in emulator.calls]
    for secret in (ACME_KEY, WRONG.get_secret_value()):
        assert not [s for s in shown if secret in s]
    assert "retrying" in caplog.text


# the emulator's own surface


async def test_unknown_paths_are_plain_404(emulator: Emulator) -> None:
    async with httpx.AsyncClient() as http:
        for path in ["/superfone/sfvopi/apps", "/superfone/sfvopi/apps/x/", "/nope"]:
            response = await http.delete(
                f"http://127.0.0.1:{emulator.port}{path}", headers={"X-API-Key": ACME_KEY}
            )
            assert response.status_code == 404
            assert response.text == "404: Not Found"
    assert emulator.effective == {}


async def test_control_surface(emulator: Emulator, client: SfvopiClient) -> None:
    await client.unlink_number(ACME, APP, N1)
    async with httpx.AsyncClient(base_url=emulator.control_url) as http:
        state = (await http.get("/state")).json()
        calls = (await http.get("/calls")).json()
        configured = await http.post("/config", json={"latency": 0.05})
        bad = await http.post("/config", json={"latency": "slow"})
    assert state["acme"][APP] == [N2]
    assert state["globex"] == {"sfv_app_globex000001": ["+918000000009"]}
    assert ACME_KEY not in str(state) and ACME_KEY not in str(calls)
    assert calls[0]["raw_path"].endswith("%2B918000000001") and calls[0]["status"] == 200
    assert configured.json() == {"latency": 0.05} and emulator.latency == 0.05
    assert bad.status_code == 400
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.unlink_number(ACME, APP, N2)
    assert loop.time() - started >= 0.05


async def test_fault_match_only_hits_matching_calls(
    client: SfvopiClient, emulator: Emulator
) -> None:
    emulator.script(ApiFault.SERVER_ERROR, match="app_abc123/")
    await client.unlink_number(ACME, APP, N1)
    done = await client.unlink_number(ACME, "app_abc123", N1)
    assert done.attempts == 2
    assert [c.fault for c in emulator.calls] == [None, "server_error", None]
