"""5. Memory and start-up: exec → first 200 on /healthz, and idle RSS 1 s after it (the peak
RSS under load is read from the other scenarios' `bot_memory_mb`, see benchmarks.suite)."""

from __future__ import annotations

import asyncio
import math

from benchmarks.harness import Env
from benchmarks.results import StartupResult
from benchmarks.table import Row, fmt


async def run(env: Env) -> StartupResult:
    runs = 2 if env.quick else 5
    startups: list[float] = []
    idle = []
    for _ in range(runs):
        bot = await env.start_bot()
        startups.append(bot.startup_s)
        await asyncio.sleep(1.0)
        idle.append(bot.memory())
        await env.stop(bot.process)
    return StartupResult(
        runs=runs,
        startup_s=[round(s, 3) for s in startups],
        startup_median_s=round(sorted(startups)[len(startups) // 2], 3),
        idle_memory_mb=idle,
        idle_rss_max_mb=round(max(m.get("VmRSS", math.nan) for m in idle), 1),
        idle_hwm_max_mb=round(max(m.get("VmHWM", math.nan) for m in idle), 1),
    )


def rows(start: StartupResult) -> list[Row]:
    return [
        Row(
            "5",
            "idle RSS (max of runs)",
            fmt(start.idle_rss_max_mb, " MB", 1),
            "",
            "≤ 80 MB",
            start.idle_rss_max_mb <= 80,
        ),
        Row("5", "start → /healthz 200 (median)", fmt(start.startup_median_s, " s"), "", "", None),
    ]
