"""The harness every scenario shares: its processes, the load generator, and measuring.

- the bot: `python -m bot serve`, started with `tests.support.processes.start_bot_process`,
  configured only through its environment; /healthz polled every 5 ms to time its start-up;
- the floor (benchmarks/floor_app.py) and the SFVoPI emulator (`python -m bot.sandbox.emulator`)
  in subprocesses that print one line once they listen;
- the Slack stand-in in this process, which also files the few commands and clicks we time;
- load: benchmarks/loadgen.py in a subprocess, signed slash commands at a fixed concurrency;
- measuring: nearest-rank percentiles, /proc/<pid> memory and CPU time, bounded polling.

Every child is stopped by its own pid and nothing else; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp

from benchmarks.results import LoadSummary, Machine, MemoryMB
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import Message
from tests.support.orgs import ORG_ENV, write_orgs
from tests.support.processes import BotProcess, free_port, start_bot_process, wait_until
from tests.support.slack import SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET
from tests.support.slack_user import APPROVALS, OPS, request_id_in

HERE = Path(__file__).resolve().parent
SECRET = SLACK_SIGNING_SECRET
TOKEN = SLACK_BOT_TOKEN
API_KEY = ORG_ENV["SFVOPI_API_KEY_ACME"]
CARD = re.compile(r"request #(\d+): (.+)$")
FINAL = ("done", "failed", "denied", "cancelled", "expired")
# not tests/support's ORGS_YAML: there delete needs two approvals, here one (scenario 3 clicks once)
ORGS_YML = """\
organizations:
  acme:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0APPROVALS
    outcome_channel: C0OPSLOG
    policy:
      unlink: {approvals: 1}
      delete: {approvals: 1}
      ttl_minutes: 60
      self_approval: false
    members:
      U0ALICE: requester
      U0BOB: approver
      U0CAROL: approver
"""
T = TypeVar("T")

__all__ = [
    "APPROVALS",
    "FINAL",
    "OPS",
    "BotProc",
    "Child",
    "EmulatorProc",
    "Env",
    "LoadRun",
    "all_final",
    "approve",
    "approve_all",
    "card_for",
    "card_states",
    "create_requests",
    "log",
    "machine",
    "pct",
    "poll",
    "session",
    "summarize",
]


# -- small helpers ---------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def proc_status(pid: int) -> MemoryMB:
    """VmRSS, VmHWM, RssAnon and RssFile in MB from /proc/<pid>/status."""
    found: MemoryMB = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                found[key] = int(value.split()[0]) / 1024
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bounded(jobs: Iterable[Awaitable[T]], limit: int) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[T]) -> T:
        async with gate:
            return await job

    return await asyncio.gather(*(one(j) for j in jobs))


async def poll(predicate: Callable[[], bool], timeout: float, every: float = 0.01) -> bool:
    """Like tests.support.processes.wait_until, but answers whether it came true (a figure)
    instead of failing, and polls as often as asked."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(every)
    return predicate()


_T0 = time.monotonic()


def log(text: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f} s] {text}", file=sys.stderr, flush=True)


def machine() -> Machine:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return Machine(
        nproc=os.cpu_count(),
        cpu_model=model,
        python=platform.python_version(),
        platform=platform.platform(),
    )


def seed() -> dict[str, Any]:
    """The emulator's apps for every scenario (one org, acme, under API_KEY)."""
    apps: dict[str, list[str]] = {
        "sfv_app_benchslow": [f"+9171{i:08d}" for i in range(100)],
        "sfv_app_benchappr": [f"+9172{i:08d}" for i in range(200)]
        + [f"+9173{i:08d}" for i in range(200)],
    }
    for rep in range(3):
        for i in range(100):
            apps[f"sfv_app_bulk{rep}_{i:03d}"] = []
    return {"keys": {API_KEY: "acme"}, "apps": {API_KEY: apps}}


# -- processes -------------------------------------------------------------------------------


class Stoppable(Protocol):
    """A child we started: a `Child` here or a `tests.support.processes.BotProcess`."""

    name: str

    async def stop(self, timeout: float = ...) -> None: ...


@dataclass
class Child:
    """The floor or the emulator: a process we started, stopped by its own pid only."""

    name: str
    proc: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if it does not leave in time; never blocks this loop (the
        stand-in here must keep answering the bot's last Web API calls while it drains)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await asyncio.wait_for(self.proc.wait(), 5)


async def start_child(
    name: str, args: list[str], cwd: Path, timeout: float = 20.0
) -> tuple[Child, str]:
    """Starts a process that prints one line once it listens; returns it and that line."""
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=cwd
    )
    child = Child(name, proc)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"process {args!r} exited before it was ready")
    except BaseException:
        await child.stop(5.0)
        raise
    return child, line.decode().strip()


class EmulatorProc:
    """The emulator in a subprocess, seeded from a file, latency set over HTTP."""

    def __init__(self, child: Child, base_url: str, control_url: str) -> None:
        self.child = child
        self.base_url = base_url
        self.control_url = control_url

    @classmethod
    async def start(cls, workdir: Path, seed: dict[str, Any]) -> EmulatorProc:
        seed_file = workdir / "emulator-seed.json"
        seed_file.write_text(json.dumps(seed))
        args = [sys.executable, "-m", "bot.sandbox.emulator", "--port", "0"]
        child, line = await start_child("emulator", [*args, "--seed", str(seed_file)], workdir)
        match = re.search(r"(http://\S+/superfone)\s+\(control: (http://\S+)\)", line)
        if not match:
            await child.stop(5.0)
            raise RuntimeError(f"unexpected emulator banner: {line!r}")
        return cls(child, match.group(1), match.group(2))

    async def set_latency(self, http: aiohttp.ClientSession, seconds: float) -> None:
        async with http.post(f"{self.control_url}/config", json={"latency": seconds}) as r:
            r.raise_for_status()

    async def calls(self, http: aiohttp.ClientSession) -> list[dict[str, Any]]:
        async with http.get(f"{self.control_url}/calls") as r:
            r.raise_for_status()
            return list(await r.json())


@dataclass
class BotProc:
    """A bot process and how long it took from exec to the first 200 on /healthz."""

    process: BotProcess
    startup_s: float

    @property
    def pid(self) -> int:
        return self.process.proc.pid

    @property
    def url(self) -> str:
        return self.process.url

    def memory(self) -> MemoryMB:
        return proc_status(self.pid)


@dataclass
class LoadRun:
    """What benchmarks/loadgen.py reports for one run, plus the server's CPU use."""

    latencies_ms: list[float]
    starts: list[float]  # wall-clock send time of each recorded command
    wall_s: float
    statuses: dict[str, int]
    sent: int  # incl. the warm-up
    timed_out: bool
    # includes the warm-up and work the acks started, so it is an upper bound per request
    server_cpu_s: float = math.nan


def summarize(result: LoadRun) -> LoadSummary:
    lat = result.latencies_ms
    return LoadSummary(
        requests=len(lat),
        ok=result.statuses.get("200", 0),
        statuses=result.statuses,
        p50_ms=round(pct(lat, 50), 3),
        p99_ms=round(pct(lat, 99), 3),
        max_ms=round(max(lat), 3) if lat else math.nan,
        rps=round(len(lat) / result.wall_s, 1) if result.wall_s else math.nan,
        wall_s=round(result.wall_s, 3),
        server_cpu_s=round(result.server_cpu_s, 3),
    )


@dataclass
class Env:
    """What every scenario shares: a work dir, the stand-in, the emulator, an HTTP client."""

    workdir: Path
    slack: SlackStandin
    emulator: EmulatorProc
    http: aiohttp.ClientSession
    quick: bool
    orgs_file: Path
    profile_dir: Path | None = None
    bot_env: dict[str, str] = field(default_factory=dict)
    procs: list[Stoppable] = field(default_factory=list)
    bots: int = 0
    floors: int = 0
    stop_times: list[tuple[str, float]] = field(default_factory=list)

    def profile(self, pid: int, name: str, seconds: float) -> asyncio.Task[None] | None:
        """With --profile DIR: py-spy samples the bot while a load runs (collapsed stacks)."""
        if self.profile_dir is None:
            return None
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        out = self.profile_dir / f"{name}.txt"

        async def record() -> None:
            proc = await asyncio.create_subprocess_exec(
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, int(seconds))),
                "--rate",
                "250",
                "--gil",
                "--format",
                "raw",
                "--output",
                str(out),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await asyncio.wait_for(proc.wait(), seconds + 30)

        return asyncio.create_task(record())

    async def start_bot(
        self,
        *,
        database_url: str | None = None,
        api_concurrency: int = 8,
        extra_env: dict[str, str] | None = None,
    ) -> BotProc:
        """Starts `python -m bot serve` and returns once /healthz answers 200 (timed)."""
        self.bots += 1
        name = f"bot-{self.bots}"  # its log: <workdir>/bot-N.log
        port = free_port()
        if database_url is None:
            database_url = f"sqlite:///{self.workdir / f'{name}.db'}"
        # not tests.support.processes.bot_env: it sets a 5 s API timeout (scenario 2's API
        # takes 5 s) and log level WARNING, which would change what is measured
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SFVOPI_", "SLACK_")) and k != "PORT"
        }
        env |= {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": self.slack.api_url,
            "SFVOPI_BASE_URL": self.emulator.base_url,
            "SFVOPI_DATABASE_URL": database_url,
            "SFVOPI_ORGS_FILE": str(self.orgs_file),
            "SFVOPI_API_KEY_ACME": API_KEY,
            "SFVOPI_HOST": "127.0.0.1",
            "SFVOPI_MAX_TARGETS": "100",
            "SFVOPI_API_CONCURRENCY": str(api_concurrency),
        }
        env |= (extra_env or {}) | self.bot_env
        began = time.perf_counter()
        process = await start_bot_process(name, env, self.workdir, port=port)
        self.procs.append(process)
        # polled here every 5 ms, not with BotProcess.ready (every 50 ms): start-up is a figure
        health = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 30
        while True:
            if process.proc.returncode is not None:
                raise RuntimeError(
                    f"bot exited with {process.proc.returncode}:\n{process.output()}"
                )
            with contextlib.suppress(aiohttp.ClientError):
                async with self.http.get(health) as r:
                    if r.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError("bot did not answer /healthz within 30 s")
            await asyncio.sleep(0.005)
        startup = time.perf_counter() - began
        self.slack.configure(process.url, SECRET)
        return BotProc(process, startup)

    async def start_floor(self, *, process_before_response: bool) -> tuple[Child, str]:
        """Starts benchmarks/floor_app.py; returns it and its /slack/events URL."""
        args = [sys.executable, str(HERE / "floor_app.py"), "--port", "0", "--secret", SECRET]
        if process_before_response:
            args.append("--process-before-response")
        child, line = await start_child("floor", args, self.workdir)
        self.procs.append(child)
        return child, line.split()[-1]

    async def start_work_floor(self) -> tuple[Child, str]:
        """Starts benchmarks/floor_work.py on a fresh SQLite file, posting cards to the
        stand-in; returns it and its /slack/events URL."""
        self.floors += 1
        args = [
            sys.executable,
            str(HERE / "floor_work.py"),
            "--port",
            "0",
            "--secret",
            SECRET,
            "--db",
            str(self.workdir / f"floor-{self.floors}.db"),
            "--slack-api",
            self.slack.api_url,
            "--token",
            TOKEN,
        ]
        child, line = await start_child("work-floor", args, self.workdir)
        self.procs.append(child)
        return child, line.split()[-1]

    async def stop(self, proc: Stoppable) -> None:
        """Stops one child and records how long it took (draining, for the bot)."""
        began = time.monotonic()
        await proc.stop(20.0)
        self.stop_times.append((proc.name, round(time.monotonic() - began, 3)))
        if proc in self.procs:
            self.procs.remove(proc)

    async def load(
        self,
        url: str,
        *,
        concurrency: int,
        count: int,
        template: str,
        start: int = 0,
        warmup: int = 0,
        time_limit: float = 60.0,
        interval: float = 0.0,
        pid: int | None = None,
    ) -> LoadRun:
        """Runs benchmarks/loadgen.py once and returns its figures (and `pid`'s CPU use)."""
        config = {
            "url": url,
            "secret": SECRET,
            "concurrency": concurrency,
            "count": count,
            "warmup": warmup,
            "template": template,
            "start": start,
            "user": "U0ALICE",
            "channel": OPS,
            "response_url": f"{self.slack.url}response/not-issued",
            "time_limit": time_limit,
            "interval": interval,
        }
        cpu_before = cpu_seconds(pid) if pid else math.nan
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "loadgen.py"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=self.workdir,
        )
        out, _ = await asyncio.wait_for(
            proc.communicate(json.dumps(config).encode()), time_limit + 60
        )
        result = LoadRun(**json.loads(out))
        if pid:
            result.server_cpu_s = cpu_seconds(pid) - cpu_before
        return result

    async def settle_cards(self, expected: int, timeout: float) -> float:
        """Waits (bounded) until `expected` cards are posted; returns seconds waited."""
        began = time.monotonic()
        await poll(lambda: len(self.slack.messages(APPROVALS)) >= expected, timeout, 0.05)
        return time.monotonic() - began


@contextlib.asynccontextmanager
async def session(
    *, quick: bool, profile_dir: Path | None, bot_env: dict[str, str], keep: bool
) -> AsyncIterator[Env]:
    """A work dir with the org file, the stand-in, the seeded emulator; every child stopped
    and the work dir removed (unless `keep`) at the end, whatever happened."""
    workdir = Path(tempfile.mkdtemp(prefix="sfvopi-bench-"))
    orgs_file = write_orgs(workdir, ORGS_YML)
    env: Env | None = None
    try:
        async with SlackStandin(bot_token=TOKEN) as slack, aiohttp.ClientSession() as http:
            emulator = await EmulatorProc.start(workdir, seed())
            env = Env(workdir, slack, emulator, http, quick, orgs_file, profile_dir, bot_env)
            env.procs.append(emulator.child)
            yield env
    finally:
        if env is not None:
            for proc in list(env.procs):
                await proc.stop(15.0)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir}")


# -- acting in Slack through the stand-in ----------------------------------------------------


def card_states(slack: SlackStandin) -> dict[int, str]:
    """Request id → the status word its card shows, for every card in the approval channel."""
    states: dict[int, str] = {}
    for message in slack.messages(APPROVALS):
        match = CARD.search(message.text)
        if match:
            states[int(match.group(1))] = match.group(2)
    return states


def card_for(slack: SlackStandin, request_id: int) -> Message | None:
    """The card of exactly this request (tests.support.slack_user.card matches by prefix)."""
    for message in slack.messages(APPROVALS):
        match = CARD.search(message.text)
        if match and int(match.group(1)) == request_id:
            return message
    return None


async def create_requests(env: Env, texts: Sequence[str], limit: int = 10) -> list[int]:
    """Files requests as Alice through the stand-in; returns their ids once all cards are up."""
    before = set(card_states(env.slack))
    results = await bounded((env.slack.command("U0ALICE", t, channel=OPS) for t in texts), limit)
    ids = []
    for r in results:
        assert r.status == 200 and r.ephemeral is not None, (r.status, r.body)
        ids.append(request_id_in(r.ephemeral.text))
    await wait_until(
        lambda: set(ids) <= set(card_states(env.slack)) - before, 60, "all cards to be posted"
    )
    return ids


async def approve_all(env: Env, ids: Sequence[int], limit: int) -> list[float]:
    """Clicks Approve as Bob on every card and confirms each in its form; returns the ack
    latencies in ms, of the click and of the form (where the approval is decided)."""
    cards = {i: card_for(env.slack, i) for i in ids}

    async def one(request_id: int) -> list[float]:
        card = cards[request_id]
        assert card is not None
        clicked = await approve(env, card.ts, request_id)
        return [clicked[0] * 1000, clicked[1] * 1000]

    return [ms for pair in await bounded((one(i) for i in ids), limit) for ms in pair]


async def approve(env: Env, ts: str, request_id: int) -> tuple[float, float]:
    """Bob clicks Approve on a card and submits the form it opens, as Slack sends it (one form
    open per person at a time in the stand-in, so the form is sent by request, not by what is
    open); returns both acks' latencies in seconds."""
    clicked = await env.slack.click("U0BOB", APPROVALS, ts, "sfvopi_approve")
    assert clicked.status == 200, clicked.status
    form = {
        "type": "modal",
        "callback_id": "sfvopi_approve_note",
        "private_metadata": json.dumps({"request": request_id, "where": APPROVALS}),
        "state": {"values": {}},
    }
    confirmed = await env.slack.submit_payload("U0BOB", form)
    assert confirmed.status == 200 and not confirmed.json, (
        confirmed.status,
        confirmed.timed_out,
        confirmed.body,
    )
    return clicked.elapsed, confirmed.elapsed


def all_final(env: Env, ids: Iterable[int]) -> Callable[[], bool]:
    wanted = set(ids)

    def check() -> bool:
        states = card_states(env.slack)
        return all(states.get(i, "").startswith(FINAL) for i in wanted)

    return check
