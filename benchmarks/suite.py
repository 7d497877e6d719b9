"""The run: which scenarios, in what order, in one harness session; and the table of it all."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import harness
from benchmarks.harness import log
from benchmarks.results import Results, Skipped
from benchmarks.scenarios import ack, approvals, bulk, burst, slow_api, startup, work
from benchmarks.table import Row, fmt, render

# the order they run in (the table lists them by number)
SCENARIOS = ("startup", "ack", "slow_api", "bulk", "approvals", "work", "burst")


@dataclass
class Options:
    quick: bool = False
    only: frozenset[str] = frozenset(SCENARIOS)
    postgres: bool = True
    keep: bool = False
    bot_env: dict[str, str] | None = None
    profile_dir: Path | None = None


async def run(options: Options) -> Results:
    results = Results(
        machine=harness.machine(),
        quick=options.quick,
        started_at=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        loadavg_at_start=os.getloadavg(),
    )
    only = options.only
    began = time.monotonic()
    async with harness.session(
        quick=options.quick,
        profile_dir=options.profile_dir,
        bot_env=dict(options.bot_env or {}),
        keep=options.keep,
    ) as env:
        if "startup" in only:
            log("startup and idle memory …")
            results.startup = await startup.run(env)
        if "ack" in only:
            log("1. ack latency, bot vs bare Bolt …")
            results.ack = await ack.run(env)
        if "slow_api" in only:
            log("2. acks while 100 operations wait on a 5 s API …")
            results.slow_api = await slow_api.run(env)
        if "bulk" in only:
            log("3. bulk delete of 100 apps at 200 ms per call …")
            results.bulk = await bulk.run(env)
        if "approvals" in only:
            log("4. approvals per second …")
            results.approvals = await approvals.run(env, postgres=options.postgres)
        if "work" in only:
            log("6. the work itself: bot, no-framework floor, bare Bolt …")
            results.work = await work.run(env)
        if "burst" in only:
            log(f"7. a burst of {burst.COMMANDS} simultaneous commands …")
            results.burst = await burst.run(env)
    # the stops timed by the scenarios; the final clean-up of the session is not timed
    results.stop_times_s = env.stop_times
    results.elapsed_s = round(time.monotonic() - began, 1)
    results.loadavg_at_end = os.getloadavg()
    return results


def table(results: Results) -> str:
    rows: list[Row] = []
    if results.ack:
        rows += ack.rows(results.ack)
    if results.slow_api:
        rows += slow_api.rows(results.slow_api)
    if results.bulk:
        rows += bulk.rows(results.bulk)
    if results.approvals:
        rows += approvals.rows(results.approvals)
    if results.startup:
        rows += startup.rows(results.startup)
    if results.work:
        rows += work.rows(results.work)
    if results.burst:
        rows += burst.rows(results.burst)
    peak = peak_memory(results)
    if peak is not None:
        name, mb = peak
        rows.append(
            Row("5", f"peak RSS under load (VmHWM, worst: {name})", fmt(mb, " MB", 1), "", "", None)
        )
    return render(rows)


def peak_memory(results: Results) -> tuple[str, float] | None:
    """The scenario whose bot reached the highest VmHWM, and that figure in MB."""
    appr = results.approvals
    postgresql = None if appr is None or isinstance(appr.postgresql, Skipped) else appr.postgresql
    peaks = [
        (name, s.bot_memory_mb.get("VmHWM", math.nan))
        for name, s in (
            ("ack", results.ack),
            ("slow_api", results.slow_api),
            ("bulk", results.bulk),
            ("approvals sqlite", appr.sqlite if appr else None),
            ("approvals postgresql", postgresql),
            ("burst", results.burst),
        )
        if s is not None
    ]
    return max(peaks, key=lambda p: p[1]) if peaks else None
