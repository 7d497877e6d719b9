"""The SFVoPI client tells its observer of every attempt, against the emulator over a real
socket: the endpoint as a template (never an id or a number), the status, or what came
instead (dropped, timeout, connect_error), and a failing observer changes no outcome."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.errors import TransportFailure
from bot.sandbox.emulator import ApiFault, Emulator
from bot.sfvopi.client import DELETE_ENDPOINT, UNLINK_ENDPOINT, SfvopiClient
from tests.support.emulator import ACME_KEY
from tests.support.processes import free_port

Seen = list[tuple[str, int | str]]


def client(base_url: str, seen: Seen, *, timeout: float = 5.0) -> SfvopiClient:
    def observe(endpoint: str, status: int | str, seconds: float) -> None:
        assert seconds >= 0
        seen.append((endpoint, status))

    return SfvopiClient(base_url, timeout=timeout, tries=2, backoff=0.01, observer=observe)


async def test_each_attempt_is_observed_by_endpoint_template_and_status(
    emulator: Emulator,
) -> None:
    seen: Seen = []
    key = SecretStr(ACME_KEY)
    async with client(emulator.base_url, seen) as sfvopi:
        emulator.script(ApiFault.DROP)
        await sfvopi.unlink_number(key, "sfv_app_abc123xyz456", "+918000000001")
        await sfvopi.delete_app(key, "sfv_app_def789ghi012")
    assert seen == [
        (UNLINK_ENDPOINT, "dropped"),
        (UNLINK_ENDPOINT, 200),
        (DELETE_ENDPOINT, 200),
    ]


async def test_timeouts_and_refused_connections_are_observed_by_name(
    emulator: Emulator,
) -> None:
    seen: Seen = []
    key = SecretStr(ACME_KEY)
    async with client(emulator.base_url, seen, timeout=0.3) as sfvopi:
        emulator.script(ApiFault.TIMEOUT)
        await sfvopi.delete_app(key, "sfv_app_abc123xyz456")
    async with client(f"http://127.0.0.1:{free_port()}/superfone", seen) as nowhere:
        with pytest.raises(TransportFailure, match="could not connect"):
            await nowhere.delete_app(key, "sfv_app_def789ghi012")
    assert seen == [
        (DELETE_ENDPOINT, "timeout"),
        (DELETE_ENDPOINT, 200),
        (DELETE_ENDPOINT, "connect_error"),
        (DELETE_ENDPOINT, "connect_error"),
    ]


async def test_a_failing_observer_changes_no_outcome(emulator: Emulator) -> None:
    def broken(endpoint: str, status: int | str, seconds: float) -> None:
        raise RuntimeError("a metrics bug")

    async with SfvopiClient(emulator.base_url, observer=broken) as sfvopi:
        done = await sfvopi.delete_app(SecretStr(ACME_KEY), "sfv_app_abc123xyz456")
    assert not done.already_absent
    assert not emulator.has_app(ACME_KEY, "sfv_app_abc123xyz456")
