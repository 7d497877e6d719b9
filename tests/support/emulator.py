"""Fixtures: one SFVoPI emulator (a real aiohttp server on loopback) for the whole run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from bot.sandbox.emulator import Emulator

__all__ = ["emulator", "emulator_server"]

ACME_KEY = "test-key-acme-not-real"
GLOBEX_KEY = "test-key-globex-not-real"

ACME_APPS: dict[str, tuple[str, ...]] = {
    "sfv_app_abc123xyz456": ("+918000000001", "+918000000002"),
    "app_abc123": ("+918000000001",),
    "sfv_app_def789ghi012": ("+918000000003", "+918000000004"),
    "sfv_app_empty0000001": (),
}
GLOBEX_APPS: dict[str, tuple[str, ...]] = {
    "sfv_app_globex000001": ("+918000000009",),
}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def emulator_server() -> AsyncIterator[Emulator]:
    """Started once; tests get it clean and seeded through `emulator`."""
    server = Emulator()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def emulator(emulator_server: Emulator) -> Iterator[Emulator]:
    """The shared emulator, reset and seeded with orgs acme and globex (fake keys above)."""
    emulator_server.reset()
    emulator_server.add_key(ACME_KEY, "acme")
    emulator_server.add_key(GLOBEX_KEY, "globex")
    for app_id, numbers in ACME_APPS.items():
        emulator_server.add_app(ACME_KEY, app_id, numbers)
    for app_id, numbers in GLOBEX_APPS.items():
        emulator_server.add_app(GLOBEX_KEY, app_id, numbers)
    yield emulator_server
    emulator_server.reset()
