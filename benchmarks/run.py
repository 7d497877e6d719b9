"""sfvopi-bot benchmarks, all on loopback: ack latency against bare Bolt, acks under a slow API,
bulk throughput, approvals per second, memory and start-up time.

    python benchmarks/run.py [--quick] [--json FILE] [--only NAME ...] [--no-postgres]

What runs where (see benchmarks/README.md for why):
  - the bot: `python -m bot serve` in a subprocess, a fresh SQLite file (or PostgreSQL database)
    per scenario, configured only through its environment, as in production;
  - the floor: benchmarks/floor_app.py, a bare Bolt AsyncApp whose /sfvopi listener only acks,
    in a subprocess, once with process_before_response=False (Bolt's default), once with True;
  - the SFVoPI emulator: `python -m bot.sandbox.emulator` in a subprocess (latency set over its
    control endpoint), so a hundred sleeping API calls never share a loop with anything we time;
  - the Slack stand-in: in this process; it takes the bot's Web API calls and is the Slack
    client for the few commands and clicks we send ourselves;
  - load: benchmarks/loadgen.py in a subprocess, signed slash commands at a fixed concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import Message

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECRET = "bench-signing-secret-not-real"
TOKEN = "xoxb-bench-not-real"
API_KEY = "bench-api-key-acme-not-real"
APPROVALS = "C0APPROVALS"
OPS = "C0OPS"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_BENCH_DB = "sfvopi_bench"
CARD = re.compile(r"request #(\d+): (.+)$")
FINAL = ("done", "failed", "denied", "cancelled", "expired")
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
PACE = 0.05  # seconds between commands in the paced (isolated ack) run
T = TypeVar("T")


# -- small helpers ---------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon and RssFile in MB from /proc/<pid>/status."""
    found: dict[str, float] = {}
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


def card_states(slack: SlackStandin) -> dict[int, str]:
    """Request id → the status word its card shows, for every card in the approval channel."""
    states: dict[int, str] = {}
    for message in slack.messages(APPROVALS):
        match = CARD.search(message.text)
        if match:
            states[int(match.group(1))] = match.group(2)
    return states


def card_for(slack: SlackStandin, request_id: int) -> Message | None:
    for message in slack.messages(APPROVALS):
        match = CARD.search(message.text)
        if match and int(match.group(1)) == request_id:
            return message
    return None


async def bounded(jobs: Iterable[Awaitable[T]], limit: int) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[T]) -> T:
        async with gate:
            return await job

    return await asyncio.gather(*(one(j) for j in jobs))


async def poll(predicate: Callable[[], bool], timeout: float, every: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(every)
    return predicate()


_T0 = time.monotonic()


def log(text: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f} s] {text}", file=sys.stderr, flush=True)


# -- processes -------------------------------------------------------------------------------


@dataclass
class Proc:
    """A child process we started, stopped by its own pid and nothing else."""

    popen: subprocess.Popen[bytes]
    name: str

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        """SIGTERM, then wait (blocking: only for the final clean-up)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)

    async def astop(self) -> float:
        """SIGTERM, then wait without blocking this loop: the stand-in here must keep
        answering the bot's last Web API calls, or its shutdown drain would wait on us."""
        began = time.monotonic()
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(self.popen.wait), 20)
            except TimeoutError:
                self.popen.kill()
                await asyncio.to_thread(self.popen.wait, 5)
        return time.monotonic() - began


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen, kept out of the coroutines: starting a process is quick, waiting is never done."""
    return subprocess.Popen(args, **kwargs)


async def read_ready_line(popen: subprocess.Popen[bytes], timeout: float = 20.0) -> str:
    assert popen.stdout is not None
    stdout = popen.stdout
    line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), timeout)
    if not line:
        raise RuntimeError(f"process {popen.args!r} exited before it was ready")
    return line.decode().strip()


class EmulatorProc:
    """The emulator in a subprocess, seeded from a file, latency set over HTTP."""

    def __init__(self, proc: Proc, base_url: str, control_url: str) -> None:
        self.proc = proc
        self.base_url = base_url
        self.control_url = control_url

    @classmethod
    async def start(cls, workdir: Path, seed: dict[str, Any]) -> EmulatorProc:
        seed_file = workdir / "emulator-seed.json"
        seed_file.write_text(json.dumps(seed))
        popen = spawn(
            [sys.executable, "-m", "bot.sandbox.emulator", "--port", "0", "--seed", str(seed_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=workdir,
        )
        line = await read_ready_line(popen)
        match = re.search(r"(http://\S+/superfone)\s+\(control: (http://\S+)\)", line)
        if not match:
            popen.terminate()
            raise RuntimeError(f"unexpected emulator banner: {line!r}")
        return cls(Proc(popen, "emulator"), match.group(1), match.group(2))

    async def set_latency(self, http: aiohttp.ClientSession, seconds: float) -> None:
        async with http.post(f"{self.control_url}/config", json={"latency": seconds}) as r:
            r.raise_for_status()

    async def calls(self, http: aiohttp.ClientSession) -> list[dict[str, Any]]:
        async with http.get(f"{self.control_url}/calls") as r:
            r.raise_for_status()
            return list(await r.json())


@dataclass
class BotProc:
    proc: Proc
    url: str
    health_url: str
    startup_s: float
    idle: dict[str, float] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def memory(self) -> dict[str, float]:
        return proc_status(self.pid)


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
    procs: list[Proc] = field(default_factory=list)
    bots: int = 0
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
        self, *, database_url: str | None = None, api_concurrency: int = 8
    ) -> BotProc:
        """Starts `python -m bot serve` and returns once /healthz answers 200 (timed)."""
        self.bots += 1
        port = free_port()
        if database_url is None:
            database_url = f"sqlite:///{self.workdir / f'bot-{self.bots}.db'}"
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
            "PORT": str(port),
            "SFVOPI_MAX_TARGETS": "100",
            "SFVOPI_API_CONCURRENCY": str(api_concurrency),
        }
        env |= self.bot_env
        log_file = (self.workdir / f"bot-{self.bots}.log").open("wb")
        began = time.perf_counter()
        popen = spawn(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            cwd=self.workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        log_file.close()
        proc = Proc(popen, f"bot-{self.bots}")
        self.procs.append(proc)
        health = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 30
        while True:
            if popen.poll() is not None:
                tail = (self.workdir / f"bot-{self.bots}.log").read_text()[-2000:]
                raise RuntimeError(f"bot exited with {popen.returncode}:\n{tail}")
            with contextlib.suppress(aiohttp.ClientError):
                async with self.http.get(health) as r:
                    if r.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError("bot did not answer /healthz within 30 s")
            await asyncio.sleep(0.005)
        startup = time.perf_counter() - began
        self.slack.configure(f"http://127.0.0.1:{port}/slack/events", SECRET)
        return BotProc(proc, f"http://127.0.0.1:{port}/slack/events", health, startup)

    async def start_floor(self, *, process_before_response: bool) -> tuple[Proc, str]:
        args = [sys.executable, str(HERE / "floor_app.py"), "--port", "0", "--secret", SECRET]
        if process_before_response:
            args.append("--process-before-response")
        popen = spawn(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=self.workdir)
        proc = Proc(popen, "floor")
        self.procs.append(proc)
        line = await read_ready_line(popen)
        return proc, line.split()[-1]

    async def stop(self, proc: Proc) -> None:
        took = await proc.astop()
        self.stop_times.append((proc.name, round(took, 3)))
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
    ) -> dict[str, Any]:
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
        result: dict[str, Any] = json.loads(out)
        if pid:
            # includes the warm-up and work the acks started, so it is an upper bound per request
            result["server_cpu_s"] = cpu_seconds(pid) - cpu_before
        return result

    async def settle_cards(self, expected: int, timeout: float) -> float:
        """Waits (bounded) until `expected` cards are posted; returns seconds waited."""
        began = time.monotonic()
        await poll(lambda: len(self.slack.messages(APPROVALS)) >= expected, timeout, 0.05)
        return time.monotonic() - began


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    lat = result["latencies_ms"]
    ok = result["statuses"].get("200", 0)
    return {
        "requests": len(lat),
        "ok": ok,
        "statuses": result["statuses"],
        "p50_ms": round(pct(lat, 50), 3),
        "p99_ms": round(pct(lat, 99), 3),
        "max_ms": round(max(lat), 3) if lat else math.nan,
        "rps": round(len(lat) / result["wall_s"], 1) if result["wall_s"] else math.nan,
        "wall_s": round(result["wall_s"], 3),
        "server_cpu_s": round(result.get("server_cpu_s", math.nan), 3),
    }


# -- 1. ack latency against bare Bolt --------------------------------------------------------


async def bench_ack(env: Env) -> dict[str, Any]:
    counts = {1: 150, 50: 400} if env.quick else {1: 1000, 50: 5000}
    warmup = 20 if env.quick else 100
    template = "unlink +9170{i:08d} sfv_app_benchload fraud on this DID, INC-4411"
    out: dict[str, Any] = {"counts": counts, "warmup": warmup}

    paced = 40 if env.quick else 300
    for name, pbr in (("floor_pbr_false", False), ("floor_pbr_true", True)):
        proc, url = await env.start_floor(process_before_response=pbr)
        out[name] = {}
        for conc, count in counts.items():
            result = await env.load(
                url, concurrency=conc, count=count, template=template, warmup=warmup, pid=proc.pid
            )
            out[name][f"c{conc}"] = summarize(result)
            log(f"  {name} c={conc}: {out[name][f'c{conc}']}")
        result = await env.load(
            url, concurrency=1, count=paced, template=template, interval=PACE, pid=proc.pid
        )
        out[name]["paced"] = summarize(result)
        await env.stop(proc)

    env.slack.reset()
    bot = await env.start_bot()
    out["bot"] = {}
    sent = 0
    # one command every PACE seconds: the ack alone, with the previous card already posted
    result = await env.load(
        bot.url, concurrency=1, count=paced, template=template, interval=PACE, pid=bot.pid
    )
    sent += result["sent"]
    out["bot"]["paced"] = summarize(result)
    await env.settle_cards(sent, 30)
    for conc, count in counts.items():
        spy = env.profile(bot.pid, f"ack-bot-c{conc}", 8)
        result = await env.load(
            bot.url,
            concurrency=conc,
            count=count,
            template=template,
            warmup=warmup,
            start=sent,
            pid=bot.pid,
            time_limit=120,
        )
        if spy is not None:
            await spy
        sent += result["sent"]
        out["bot"][f"c{conc}"] = summarize(result)
        # the cards promised by these acks are posted after them; let them land (bounded) so
        # one run's backlog does not slow the next, and report how long that took
        waited = await env.settle_cards(sent, 60 if env.quick else 180)
        out["bot"][f"c{conc}"]["cards_posted"] = len(env.slack.messages(APPROVALS))
        out["bot"][f"c{conc}"]["cards_settled_after_s"] = round(waited, 2)
        log(f"  bot c={conc}: {out['bot'][f'c{conc}']}")
    out["bot_memory_mb"] = bot.memory()
    await env.stop(bot.proc)

    for floor in ("floor_pbr_false", "floor_pbr_true"):
        out[f"ratios_vs_{floor}"] = {
            f"c{conc}": {
                "p50": round(
                    out["bot"][f"c{conc}"]["p50_ms"] / out[floor][f"c{conc}"]["p50_ms"], 2
                ),
                "p99": round(
                    out["bot"][f"c{conc}"]["p99_ms"] / out[floor][f"c{conc}"]["p99_ms"], 2
                ),
                "rps": round(out["bot"][f"c{conc}"]["rps"] / out[floor][f"c{conc}"]["rps"], 2),
            }
            for conc in counts
        }
        out[f"ratios_vs_{floor}"]["paced"] = {
            "p50": round(out["bot"]["paced"]["p50_ms"] / out[floor]["paced"]["p50_ms"], 2),
            "p99": round(out["bot"]["paced"]["p99_ms"] / out[floor]["paced"]["p99_ms"], 2),
        }
    return out


# -- 2. acks while 100 approved operations wait on a 5 s API ---------------------------------


async def create_requests(env: Env, texts: Sequence[str], limit: int = 10) -> list[int]:
    """Files requests as Alice through the stand-in; returns their ids once all cards are up."""
    before = set(card_states(env.slack))
    results = await bounded((env.slack.command("U0ALICE", t, channel=OPS) for t in texts), limit)
    ids = []
    for r in results:
        assert r.status == 200 and r.ephemeral is not None, (r.status, r.body)
        match = re.search(r"#(\d+)", r.ephemeral.text)
        assert match, r.ephemeral.text
        ids.append(int(match.group(1)))
    ok = await poll(lambda: set(ids) <= set(card_states(env.slack)) - before, 60, 0.05)
    assert ok, "cards were not all posted within 60 s"
    return ids


async def approve_all(env: Env, ids: Sequence[int], limit: int) -> list[float]:
    """Clicks Approve as Bob on every card; returns the click ack latencies in ms."""
    cards = {i: card_for(env.slack, i) for i in ids}

    async def one(request_id: int) -> float:
        card = cards[request_id]
        assert card is not None
        result = await env.slack.click("U0BOB", APPROVALS, card.ts, "sfvopi_approve")
        assert result.status == 200, result.status
        return result.elapsed * 1000

    return await bounded((one(i) for i in ids), limit)


def all_final(env: Env, ids: Iterable[int]) -> Callable[[], bool]:
    wanted = set(ids)

    def check() -> bool:
        states = card_states(env.slack)
        return all(states.get(i, "").startswith(FINAL) for i in wanted)

    return check


async def bench_slow_api(env: Env) -> dict[str, Any]:
    operations, latency = 100, 5.0
    env.slack.reset()
    bot = await env.start_bot()
    await env.emulator.set_latency(env.http, 0)
    texts = [f"unlink +9171{i:08d} sfv_app_benchslow fraud, INC-{i}" for i in range(operations)]
    ids = await create_requests(env, texts)
    await env.emulator.set_latency(env.http, latency)
    calls_before = len(await env.emulator.calls(env.http))

    # a steady stream of new commands (one at a time) from before the clicks to after the end
    stream = asyncio.create_task(
        env.load(
            bot.url,
            concurrency=1,
            count=20000,
            template="unlink +9174{i:08d} sfv_app_benchslow new request while busy",
            time_limit=latency + (3 if env.quick else 5),
        )
    )
    await asyncio.sleep(0.5)
    clicks_began = time.time()
    click_ms = await approve_all(env, ids, limit=25)
    clicks_done = time.time()
    finished = await poll(all_final(env, ids), 60, 0.05)
    all_final_at = time.time()
    result = await stream
    await env.emulator.set_latency(env.http, 0)
    calls = (await env.emulator.calls(env.http))[calls_before:]
    memory = bot.memory()
    await env.stop(bot.proc)

    unlinks = [c for c in calls if "benchslow" in c["raw_path"]]
    effective = sum(1 for c in unlinks if c["status"] == 200)
    first_sent = min((c["at"] for c in unlinks), default=math.nan)
    last_sent = max((c["at"] for c in unlinks), default=math.nan)
    first_answer = first_sent + latency
    in_flight = [
        ms
        for at, ms in zip(result["starts"], result["latencies_ms"], strict=True)
        if clicks_began <= at and at + ms / 1000 < first_answer
    ]
    states = card_states(env.slack)
    timeline = [
        (round(at - clicks_began, 3), round(ms, 2))
        for at, ms in zip(result["starts"], result["latencies_ms"], strict=True)
    ]
    return {
        "operations": operations,
        "timeline_s_ms": timeline,
        "clicks_done_at_s": round(clicks_done - clicks_began, 3),
        "first_api_call_at_s": round(first_sent - clicks_began, 3),
        "last_api_call_at_s": round(last_sent - clicks_began, 3),
        "api_latency_s": latency,
        "new_commands": summarize(result),
        "new_commands_in_flight_window": {
            "requests": len(in_flight),
            "p50_ms": round(pct(in_flight, 50), 3),
            "p99_ms": round(pct(in_flight, 99), 3),
            "max_ms": round(max(in_flight), 3) if in_flight else math.nan,
        },
        "approve_click_ack_ms": {
            "p50": round(pct(click_ms, 50), 3),
            "p99": round(pct(click_ms, 99), 3),
        },
        "clicks_s": round(clicks_done - clicks_began, 3),
        "api_calls_sent_within_s": round(last_sent - first_sent, 3),
        "emulator_effective": effective,
        "cards_final": sum(1 for i in ids if states.get(i, "").startswith(FINAL)),
        "cards_done": sum(1 for i in ids if states.get(i) == "done"),
        "all_completed": finished and effective == operations,
        "click_to_all_final_s": round(all_final_at - clicks_began, 3),
        "bot_memory_mb": memory,
    }


# -- 3. bulk delete of 100 apps at 200 ms per call -------------------------------------------


async def bench_bulk(env: Env) -> dict[str, Any]:
    apps, latency, concurrency = 100, 0.2, 8
    reps = 1 if env.quick else 3
    ideal = math.ceil(apps / concurrency) * latency
    env.slack.reset()
    bot = await env.start_bot(api_concurrency=concurrency)
    runs = []
    for rep in range(reps):
        await env.emulator.set_latency(env.http, 0)
        names = " ".join(f"sfv_app_bulk{rep}_{i:03d}" for i in range(apps))
        (request_id,) = await create_requests(env, [f"delete {names} decommission, CHG-{rep}"])
        await env.emulator.set_latency(env.http, latency)
        calls_before = len(await env.emulator.calls(env.http))
        card = card_for(env.slack, request_id)
        assert card is not None
        began = time.time()
        click = await env.slack.click("U0BOB", APPROVALS, card.ts, "sfvopi_approve")
        assert click.status == 200
        finished = await poll(all_final(env, [request_id]), 60, 0.005)
        card_final = time.time()
        calls = [
            c
            for c in (await env.emulator.calls(env.http))[calls_before:]
            if f"bulk{rep}_" in c["raw_path"]
        ]
        last_answer = max(c["at"] for c in calls) + latency if calls else math.nan
        run = {
            "calls": len(calls),
            "effective": sum(1 for c in calls if c["status"] == 200),
            "card": card_states(env.slack).get(request_id),
            "finished": finished,
            "click_to_first_call_s": round(min(c["at"] for c in calls) - began, 3),
            "click_to_last_answer_s": round(last_answer - began, 3),
            "click_to_final_card_s": round(card_final - began, 3),
        }
        runs.append(run)
        log(f"  bulk run {rep}: {run}")
    await env.emulator.set_latency(env.http, 0)
    memory = bot.memory()
    await env.stop(bot.proc)
    best_answer = min(r["click_to_last_answer_s"] for r in runs)
    best_card = min(r["click_to_final_card_s"] for r in runs)
    median_card = sorted(r["click_to_final_card_s"] for r in runs)[len(runs) // 2]
    median_answer = sorted(r["click_to_last_answer_s"] for r in runs)[len(runs) // 2]
    return {
        "apps": apps,
        "api_latency_s": latency,
        "api_concurrency": concurrency,
        "ideal_s": round(ideal, 3),
        "runs": runs,
        "median_click_to_last_answer_s": median_answer,
        "median_click_to_final_card_s": median_card,
        "best_click_to_last_answer_s": best_answer,
        "best_click_to_final_card_s": best_card,
        "ratio_last_answer_vs_ideal": round(median_answer / ideal, 2),
        "ratio_final_card_vs_ideal": round(median_card / ideal, 2),
        "bot_memory_mb": memory,
    }


# -- 4. approvals per second, SQLite and PostgreSQL ------------------------------------------


async def bench_approvals(env: Env, database_url: str | None, prefix: str) -> dict[str, Any]:
    count = 50 if env.quick else 200
    env.slack.reset()
    bot = await env.start_bot(database_url=database_url)
    await env.emulator.set_latency(env.http, 0)
    texts = [f"unlink +{prefix}{i:08d} sfv_app_benchappr fraud, INC-{i}" for i in range(count)]
    ids = await create_requests(env, texts)
    spy = env.profile(bot.pid, f"approvals-{'postgresql' if database_url else 'sqlite'}", 3)
    began = time.time()
    click_ms = await approve_all(env, ids, limit=10)
    finished = await poll(all_final(env, ids), 120, 0.02)
    wall = time.time() - began
    if spy is not None:
        await spy
    states = card_states(env.slack)
    memory = bot.memory()
    startup = bot.startup_s
    await env.stop(bot.proc)
    return {
        "approvals": count,
        "click_concurrency": 10,
        "finished": finished,
        "cards_done": sum(1 for i in ids if states.get(i) == "done"),
        "wall_s": round(wall, 3),
        "approvals_per_s": round(count / wall, 1),
        "click_ack_ms": {"p50": round(pct(click_ms, 50), 3), "p99": round(pct(click_ms, 99), 3)},
        "startup_s": round(startup, 3),
        "bot_memory_mb": memory,
    }


async def postgres_database() -> str | None:
    """Creates a fresh benchmark database; None (with the reason logged) if unreachable."""
    try:
        import asyncpg  # type: ignore[import-untyped]
    except ImportError:
        log("  asyncpg not installed: PostgreSQL skipped")
        return None
    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except Exception as exc:
        log(f"  PostgreSQL unreachable at {PG_ADMIN_URL} ({exc}): skipped")
        return None
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")
    finally:
        await conn.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_BENCH_DB}"


async def drop_postgres_database() -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
    finally:
        await conn.close()


# -- 5. memory and start-up ------------------------------------------------------------------


async def bench_startup(env: Env) -> dict[str, Any]:
    runs = 2 if env.quick else 5
    startups, idle = [], []
    for _ in range(runs):
        bot = await env.start_bot()
        startups.append(bot.startup_s)
        await asyncio.sleep(1.0)
        idle.append(bot.memory())
        await env.stop(bot.proc)
    return {
        "runs": runs,
        "startup_s": [round(s, 3) for s in startups],
        "startup_median_s": round(sorted(startups)[len(startups) // 2], 3),
        "idle_memory_mb": idle,
        "idle_rss_max_mb": round(max(m.get("VmRSS", math.nan) for m in idle), 1),
        "idle_hwm_max_mb": round(max(m.get("VmHWM", math.nan) for m in idle), 1),
    }


# -- the run ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def seed() -> dict[str, Any]:
    apps: dict[str, list[str]] = {
        "sfv_app_benchslow": [f"+9171{i:08d}" for i in range(100)],
        "sfv_app_benchappr": [f"+9172{i:08d}" for i in range(200)]
        + [f"+9173{i:08d}" for i in range(200)],
    }
    for rep in range(3):
        for i in range(100):
            apps[f"sfv_app_bulk{rep}_{i:03d}"] = []
    return {"keys": {API_KEY: "acme"}, "apps": {API_KEY: apps}}


SCENARIOS = ("startup", "ack", "slow_api", "bulk", "approvals")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    only = set(args.only or SCENARIOS)
    results: dict[str, Any] = {
        "machine": machine(),
        "quick": args.quick,
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "loadavg_at_start": os.getloadavg(),
    }
    workdir = Path(tempfile.mkdtemp(prefix="sfvopi-bench-"))
    orgs_file = workdir / "orgs.yml"
    orgs_file.write_text(ORGS_YML)
    env: Env | None = None
    began = time.monotonic()
    try:
        async with SlackStandin(bot_token=TOKEN) as slack, aiohttp.ClientSession() as http:
            emulator = await EmulatorProc.start(workdir, seed())
            env = Env(workdir, slack, emulator, http, args.quick, orgs_file, args.profile)
            env.bot_env = dict(item.split("=", 1) for item in args.bot_env or [])
            env.procs.append(emulator.proc)
            if "startup" in only:
                log("startup and idle memory …")
                results["startup"] = await bench_startup(env)
            if "ack" in only:
                log("1. ack latency, bot vs bare Bolt …")
                results["ack"] = await bench_ack(env)
            if "slow_api" in only:
                log("2. acks while 100 operations wait on a 5 s API …")
                results["slow_api"] = await bench_slow_api(env)
            if "bulk" in only:
                log("3. bulk delete of 100 apps at 200 ms per call …")
                results["bulk"] = await bench_bulk(env)
            if "approvals" in only:
                log("4. approvals per second …")
                results["approvals"] = {"sqlite": await bench_approvals(env, None, "9172")}
                pg = None if args.no_postgres else await postgres_database()
                if pg is None:
                    results["approvals"]["postgresql"] = {"skipped": "unreachable or disabled"}
                else:
                    try:
                        results["approvals"]["postgresql"] = await bench_approvals(env, pg, "9173")
                    finally:
                        await drop_postgres_database()
    finally:
        if env is not None:
            results["stop_times_s"] = env.stop_times
            for proc in list(env.procs):
                proc.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir}")
    results["elapsed_s"] = round(time.monotonic() - began, 1)
    results["loadavg_at_end"] = os.getloadavg()
    return results


# -- the table -------------------------------------------------------------------------------


def _f(value: Any, unit: str = "", digits: int = 2) -> str:
    if isinstance(value, float | int) and not (isinstance(value, float) and math.isnan(value)):
        return f"{value:.{digits}f}{unit}"
    return "n/a"


def table(results: dict[str, Any]) -> str:
    rows = ["| # | measure | bot | reference | ratio / target | met |", "|---|---|---|---|---|---|"]

    def row(n: str, what: str, bot: str, ref: str, target: str, met: bool | None) -> None:
        mark = "n/a" if met is None else ("yes" if met else "**no**")
        rows.append(f"| {n} | {what} | {bot} | {ref} | {target} | {mark} |")

    ack = results.get("ack")
    if ack:
        for conc in (1, 50):
            key = f"c{conc}"
            b = ack["bot"][key]
            for floor, label in (("floor_pbr_false", "pbr=False"), ("floor_pbr_true", "pbr=True")):
                f = ack[floor][key]
                r = ack[f"ratios_vs_{floor}"][key]
                row(
                    "1",
                    f"unlink ack p50, c={conc}, vs Bolt {label}",
                    _f(b["p50_ms"], " ms"),
                    _f(f["p50_ms"], " ms"),
                    f"{_f(r['p50'], 'x')} (≤ 2x)",
                    r["p50"] <= 2,
                )
                row(
                    "1",
                    f"unlink ack p99, c={conc}, vs Bolt {label}",
                    _f(b["p99_ms"], " ms"),
                    _f(f["p99_ms"], " ms"),
                    f"{_f(r['p99'], 'x')}",
                    None,
                )
                row(
                    "1",
                    f"unlink req/s, c={conc}, vs Bolt {label}",
                    _f(b["rps"], "", 0),
                    _f(f["rps"], "", 0),
                    f"{_f(r['rps'], 'x')} (≥ 0.5x)",
                    r["rps"] >= 0.5,
                )
        for floor, label in (("floor_pbr_false", "pbr=False"), ("floor_pbr_true", "pbr=True")):
            b, f = ack["bot"]["paced"], ack[floor]["paced"]
            r = ack[f"ratios_vs_{floor}"]["paced"]
            row(
                "1",
                f"unlink ack p50 / p99, paced 1 per {PACE * 1000:.0f} ms, vs Bolt {label}",
                f"{_f(b['p50_ms'], ' ms')} / {_f(b['p99_ms'], ' ms')}",
                f"{_f(f['p50_ms'], ' ms')} / {_f(f['p99_ms'], ' ms')}",
                f"{_f(r['p50'], 'x')} / {_f(r['p99'], 'x')}",
                None,
            )
    slow = results.get("slow_api")
    if slow:
        w = slow["new_commands_in_flight_window"]
        row(
            "2",
            f"new-command ack p99 while 100 ops wait on a 5 s API ({w['requests']} commands)",
            _f(w["p99_ms"], " ms"),
            f"p50 {_f(w['p50_ms'], ' ms')}, max {_f(w['max_ms'], ' ms')}",
            "< 100 ms",
            w["p99_ms"] < 100,
        )
        n = slow["new_commands"]
        row(
            "2",
            "… whole run incl. the completion burst",
            _f(n["p99_ms"], " ms"),
            f"p50 {_f(n['p50_ms'], ' ms')}, max {_f(n['max_ms'], ' ms')}",
            "< 100 ms",
            n["p99_ms"] < 100,
        )
        row(
            "2",
            "operations completed (emulator effective / cards final)",
            f"{slow['emulator_effective']} / {slow['cards_final']}",
            "100 / 100",
            f"all in {_f(slow['click_to_all_final_s'], ' s')}",
            slow["all_completed"] and slow["cards_final"] == 100,
        )
    bulk = results.get("bulk")
    if bulk:
        ideal = bulk["ideal_s"]
        row(
            "3",
            "bulk delete 100 apps, click → last API answer (median)",
            _f(bulk["median_click_to_last_answer_s"], " s"),
            f"ideal {_f(ideal, ' s')}",
            f"{_f(bulk['ratio_last_answer_vs_ideal'], 'x')} (≤ 1.2x)",
            bulk["ratio_last_answer_vs_ideal"] <= 1.2,
        )
        row(
            "3",
            "bulk delete 100 apps, click → final card (median)",
            _f(bulk["median_click_to_final_card_s"], " s"),
            f"ideal {_f(ideal, ' s')}",
            f"{_f(bulk['ratio_final_card_vs_ideal'], 'x')} (≤ 1.2x)",
            bulk["ratio_final_card_vs_ideal"] <= 1.2,
        )
    appr = results.get("approvals")
    if appr:
        for db in ("sqlite", "postgresql"):
            a = appr.get(db, {})
            if "skipped" in a or not a:
                row("4", f"approvals/s end to end, {db}", "skipped", "", a.get("skipped", ""), None)
                continue
            row(
                "4",
                f"approvals/s end to end, {db} ({a['approvals']} clicks, 10 at a time)",
                _f(a["approvals_per_s"], "/s", 1),
                f"click ack p99 {_f(a['click_ack_ms']['p99'], ' ms')}",
                f"{a['cards_done']}/{a['approvals']} done",
                None,
            )
    start = results.get("startup")
    if start:
        row(
            "5",
            "idle RSS (max of runs)",
            _f(start["idle_rss_max_mb"], " MB", 1),
            "",
            "≤ 80 MB",
            start["idle_rss_max_mb"] <= 80,
        )
        row(
            "5",
            "start → /healthz 200 (median)",
            _f(start["startup_median_s"], " s"),
            "",
            "",
            None,
        )
    peaks = [
        (name, s["bot_memory_mb"].get("VmHWM", math.nan))
        for name, s in (
            ("ack", ack),
            ("slow_api", slow),
            ("bulk", bulk),
            ("approvals sqlite", (appr or {}).get("sqlite")),
            ("approvals postgresql", (appr or {}).get("postgresql")),
        )
        if s and "bot_memory_mb" in s
    ]
    if peaks:
        name, peak = max(peaks, key=lambda p: p[1])
        row("5", f"peak RSS under load (VmHWM, worst: {name})", _f(peak, " MB", 1), "", "", None)
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, under a minute")
    parser.add_argument("--json", type=Path, default=HERE / "results.json", metavar="FILE")
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, help="run only these")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (bot logs, DBs)")
    parser.add_argument(
        "--bot-env",
        action="append",
        metavar="KEY=VALUE",
        help="extra environment for the bot (repeatable), e.g. SFVOPI_LOG_LEVEL=WARNING",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the bot under load into DIR"
    )
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(main_async(args))
    results["table"] = table(results)
    args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(results["table"])
    print(f"\n{results['elapsed_s']} s; figures in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
