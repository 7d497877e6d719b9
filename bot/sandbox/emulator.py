"""A real HTTP server that answers like the SFVoPI reference pages, with faults on demand.

Tests, the `sandbox` command and the benchmarks run the bot against it over loopback, so the
client's encoding, timeouts and retries meet a real socket rather than a mock.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import enum
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote

from aiohttp import web

from bot.sandbox.emulator_controls import Controls
from bot.sandbox.emulator_state import MUTATIONS, UNAUTHORIZED, Org, Route, apply, server_error
from bot.sandbox.loopback import LoopbackServer

__all__ = ["API_PREFIX", "ApiFault", "Call", "Emulator", "Hold", "main"]

API_PREFIX = "/superfone"

Effect = Route


class ApiFault(enum.Enum):
    """One misbehaviour for one matching call; those named APPLY_* remove the target first."""

    SERVER_ERROR = "server_error"
    APPLY_THEN_SERVER_ERROR = "apply_then_server_error"
    DROP = "drop"
    APPLY_THEN_DROP = "apply_then_drop"
    GARBAGE = "garbage"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Call:
    """One request as the server saw it: `org` None for a bad key, `status` None if unanswered."""

    method: str
    raw_path: str
    org: str | None
    status: int | None
    at: float
    fault: str | None = None


@dataclass(frozen=True)
class _Scripted:
    fault: ApiFault
    match: str | None
    method: str | None = None


class Hold:
    """Keeps matching calls waiting inside the handler until `release()`, to kill a client mid-call.

    Calls held across `Emulator.reset()` are dropped unapplied, so one test cannot reach the next.
    """

    def __init__(self, match: str | None) -> None:
        self.match = match
        self.waiting = 0
        self.arrived = asyncio.Event()
        self._released = asyncio.Event()

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def release(self) -> None:
        self._released.set()

    async def wait_arrived(self, timeout: float = 5.0) -> None:
        """Return once a call is being held; raises TimeoutError otherwise."""
        await asyncio.wait_for(self.arrived.wait(), timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _matches(self, raw_path: str) -> bool:
        return not self.released and (self.match is None or self.match in raw_path)

    async def _wait(self) -> None:
        self.waiting += 1
        self.arrived.set()
        try:
            await self._released.wait()
        finally:
            self.waiting -= 1


class Emulator(Controls, LoopbackServer):
    """SFVoPI state per organization plus the server that exposes it; see the module docstring."""

    def __init__(self, *, timeout_sleep: float = 30.0) -> None:
        self.timeout_sleep = timeout_sleep
        self.latency = 0.0
        self.calls: list[Call] = []
        self.effective: collections.Counter[Effect] = collections.Counter()
        self._keys: dict[str, str] = {}
        self._orgs: dict[str, Org] = {}
        self._script: list[_Scripted] = []
        self._holds: list[Hold] = []
        self._generation = 0
        self._abort = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._host = "127.0.0.1"

    @property
    def writes(self) -> list[Call]:
        """The calls that may change something (a preview's reads left out)."""
        return [call for call in self.calls if call.method != "GET"]

    def add_key(self, key: str, org: str) -> None:
        self._keys[key] = org
        self._orgs.setdefault(org, Org(org_id=len(self._orgs) + 1))

    def add_app(
        self,
        key: str,
        app_id: str,
        numbers: Iterable[str] = (),
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """An app with its linked numbers (held by the org from now on) and fields (defaults
        for those not given: a demo name, answer URL, ACTIVE)."""
        self._org_state(key).add_app(app_id, set(numbers), dict(fields or {}))

    def add_numbers(self, key: str, numbers: Iterable[str]) -> None:
        """Numbers the org holds, linked to no app: what `available-numbers` lists."""
        self._org_state(key).held.update(numbers)

    def has_app(self, key: str, app_id: str) -> bool:
        return app_id in self._org_state(key).apps

    def numbers(self, key: str, app_id: str) -> set[str]:
        return set(self._org_state(key).apps.get(app_id, ()))

    def available(self, key: str) -> set[str]:
        return set(self._org_state(key).available())

    def app(self, key: str, app_id: str) -> dict[str, Any]:
        """The app as `GET /sfvopi/apps/:app_id` answers it (KeyError if there is none)."""
        return self._org_state(key).app_body(app_id)

    def apps(self, key: str) -> list[str]:
        return list(self._org_state(key).apps)

    def snapshot(self) -> dict[str, dict[str, list[str]]]:
        """Apps and numbers per organization, without the keys, ready for JSON."""
        return {
            org: {app: sorted(numbers) for app, numbers in sorted(state.apps.items())}
            for org, state in sorted(self._orgs.items())
        }

    def load_seed(self, seed: Mapping[str, Any]) -> None:
        """Load `{"keys": {KEY: org}, "apps": {KEY: {app_id: [numbers]}}, "held": {KEY:
        [numbers]}}` ("held": numbers the org holds unlinked)."""
        for key, org in seed.get("keys", {}).items():
            self.add_key(key, org)
        for key, apps in seed.get("apps", {}).items():
            for app_id, numbers in apps.items():
                self.add_app(key, app_id, numbers)
        for key, numbers in seed.get("held", {}).items():
            self.add_numbers(key, numbers)

    def _org_state(self, key: str) -> Org:
        return self._orgs[self._org(key)]

    def reset(self) -> None:
        """Forget everything, and drop unapplied any call still waiting from before."""
        self._keys.clear()
        self._orgs.clear()
        self.calls.clear()
        self.effective.clear()
        self._script.clear()
        self.latency = 0.0
        self._abandon_waiting()

    def _abandon_waiting(self) -> None:
        self._generation += 1
        self._abort.set()
        self._abort = asyncio.Event()
        for hold in self._holds:
            hold.release()
        self._holds.clear()

    def _org(self, key: str) -> str:
        try:
            return self._keys[key]
        except KeyError:
            raise KeyError("unknown emulator key; call add_key first") from None

    def script(
        self, *faults: ApiFault, match: str | None = None, method: str | None = None
    ) -> None:
        """Queue faults, each consumed by the next API call whose raw path contains `match`
        (and whose method is `method`: "DELETE" leaves a preview's reads alone)."""
        self._script.extend(_Scripted(fault, match, method) for fault in faults)

    def hold(self, match: str | None = None) -> Hold:
        held = Hold(match)
        self._holds.append(held)
        return held

    @property
    def waiting(self) -> int:
        return sum(hold.waiting for hold in self._holds)

    def _take_fault(self, raw_path: str, method: str) -> ApiFault | None:
        for i, scripted in enumerate(self._script):
            if scripted.method not in (None, method):
                continue
            if scripted.match is None or scripted.match in raw_path:
                del self._script[i]
                return scripted.fault
        return None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}{API_PREFIX}"

    @property
    def control_url(self) -> str:
        return f"http://{self._host}:{self.port}/_emulator"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/_emulator/state", self._state)
        app.router.add_get("/_emulator/calls", self._calls)
        app.router.add_post("/_emulator/config", self._config)
        self._add_controls(app)
        app.router.add_route("*", "/{tail:.*}", self._api)
        self._port = await self._serve(app, host, port)

    async def stop(self) -> None:
        self._abandon_waiting()
        await super().stop()

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def _calls(self, request: web.Request) -> web.Response:
        return web.json_response([asdict(call) for call in self.calls])

    async def _config(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            latency = float(body["latency"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"message": 'expected {"latency": seconds}'}, status=400)
        if not 0 <= latency <= 60:
            return web.json_response({"message": "latency must be 0..60 seconds"}, status=400)
        self.latency = latency
        return web.json_response({"latency": self.latency})

    async def _api(self, request: web.Request) -> web.StreamResponse:
        at = time.time()
        generation = self._generation
        abort = self._abort
        raw_path = request.raw_path
        key = request.headers.get("X-API-Key", "")
        org = self._keys.get(key) if key else None
        route = _route(request.method, raw_path)

        def record(status: int | None, fault: ApiFault | None = None) -> None:
            self.calls.append(
                Call(request.method, raw_path, org, status, at, fault.value if fault else None)
            )

        if route is None:
            record(404)
            return web.Response(status=404, text="404: Not Found")
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        for held in [h for h in self._holds if h._matches(raw_path)]:
            await held._wait()
        fault = self._take_fault(raw_path, request.method)
        if generation != self._generation:
            record(None, fault)
            return _drop(request)
        if fault is ApiFault.TIMEOUT:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(abort.wait(), self.timeout_sleep)
            record(None, fault)
            return _drop(request)
        if fault is ApiFault.DROP:
            record(None, fault)
            return _drop(request)
        if fault is ApiFault.SERVER_ERROR:
            record(500, fault)
            return web.json_response({"message": server_error(route)}, status=500)
        if fault is ApiFault.GARBAGE:
            record(200, fault)
            return web.Response(
                status=200, text="<html>502 Bad Gateway</html>", content_type="text/html"
            )

        status, body = self._apply(org, route, await request.read())
        if status == 200 and fault is ApiFault.APPLY_THEN_SERVER_ERROR:
            record(500, fault)
            return web.json_response({"message": server_error(route)}, status=500)
        if status == 200 and fault is ApiFault.APPLY_THEN_DROP:
            record(None, fault)
            return _drop(request)
        record(status, fault)
        return web.json_response(body, status=status)

    def _apply(self, org: str | None, route: Effect, raw_body: bytes) -> tuple[int, dict[str, Any]]:
        """The documented behaviour (bot/sandbox/emulator_state.py); counts effects applied."""
        if org is None:
            return 401, {"message": UNAUTHORIZED}
        state = self._orgs.setdefault(org, Org(org_id=len(self._orgs) + 1))
        status, body, effect = apply(state, route, raw_body)
        if status == 200 and effect[0] in MUTATIONS:
            self.effective[effect] += 1
        return status, body


_APPS = ["", API_PREFIX.strip("/"), "sfvopi", "apps"]
_AVAILABLE = ["", API_PREFIX.strip("/"), "sfvopi", "available-numbers"]


def _route(method: str, raw_path: str) -> Effect | None:
    """Split the raw path ourselves so `%2B` and `%2F` decode inside one segment only."""
    parts = raw_path.split("?", 1)[0].split("/")
    if parts == _AVAILABLE:
        return ("available", "", None) if method == "GET" else None
    if parts[:4] != _APPS:
        return None
    segments = [unquote(part) for part in parts[4:]]
    if any(not segment for segment in segments):
        return None
    routes: dict[tuple[str, int], Effect | None] = {
        ("GET", 0): ("list_apps", "", None),
        ("POST", 0): ("create", "", None),
    }
    if len(segments) == 1:
        routes = {
            ("DELETE", 1): ("delete", segments[0], None),
            ("GET", 1): ("get_app", segments[0], None),
        }
    elif len(segments) == 2 and segments[1] == "numbers":
        routes = {
            ("GET", 2): ("numbers", segments[0], None),
            ("POST", 2): ("link", segments[0], None),
        }
    elif len(segments) == 3 and segments[1] == "numbers":
        routes = {("DELETE", 3): ("unlink", segments[0], segments[2])}
    return routes.get((method, len(segments)))


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection with no answer; the returned response is never written."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)


async def _serve(host: str, port: int, seed: Mapping[str, Any] | None, latency: float) -> None:
    emulator = Emulator()
    if seed is not None:
        emulator.load_seed(seed)
    emulator.latency = latency
    await emulator.start(host, port)
    print(f"SFVoPI emulator: {emulator.base_url}  (control: {emulator.control_url})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument(
        "--seed", type=Path, help='JSON: {"keys": {...}, "apps": {...}, "held": {...}}'
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per call")
    args = parser.parse_args(argv)
    seed = json.loads(args.seed.read_text()) if args.seed else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, seed, args.latency))


if __name__ == "__main__":
    main()
