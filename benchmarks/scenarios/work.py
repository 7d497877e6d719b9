"""6. The work itself: the bot against the same work with no framework, and bare Bolt.

Three servers take the same closed loops (c=1, then c=50) from the same load generator:
bare Bolt that only acks (pbr=True: the ack alone), the no-framework floor
(benchmarks/floor_work.py: signature, form, one SQLite transaction, ack, card, ts), and the
bot. CPU per command is the server's CPU from the first command to the last card, divided by
the requests it filed, so work an ack promised is counted where it is done, and a command shed
as "busy" (admission, cheap by design) does not make the bot look cheaper; req/s counts filed
commands only.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from pathlib import Path

from benchmarks.harness import APPROVALS, Env, cpu_seconds, log, proc_status, summarize
from benchmarks.results import LoadSummary, WorkRatios, WorkResult, WorkRun
from benchmarks.table import Row, fmt

TEMPLATE = "unlink +9171{i:08d} sfv_app_benchload fraud on this DID, INC-4411"
CONCURRENCIES = (1, 50)


async def run(env: Env) -> WorkResult:
    counts = {1: 150, 50: 400} if env.quick else {1: 1000, 50: 3000}
    warmup = 20 if env.quick else 100

    def filed_in(database: Path | None) -> int:
        if database is None:
            return 0
        with sqlite3.connect(database) as db:
            return int(db.execute("SELECT count(*) FROM requests").fetchone()[0])

    async def measure(
        name: str, pid: int, url: str, *, carded: bool, database: Path | None = None
    ) -> WorkRun:
        env.slack.reset()
        sent = filed = 0
        summaries: dict[int, LoadSummary] = {}
        cpu: dict[int, float] = {}
        for conc in CONCURRENCIES:
            spy = env.profile(pid, f"work-{name.replace(' ', '-')}-c{conc}", 8)
            before = cpu_seconds(pid)
            result = await env.load(
                url,
                concurrency=conc,
                count=counts[conc],
                template=TEMPLATE,
                warmup=warmup,
                start=sent,
                pid=pid,
                time_limit=120,
            )
            if spy is not None:
                await spy
            sent += result.sent
            served = result.sent
            if carded:
                served = filed_in(database) - filed
                filed += served
                await env.settle_cards(filed, 60 if env.quick else 180)
            cpu[conc] = round((cpu_seconds(pid) - before) * 1000 / max(served, 1), 3)
            summaries[conc] = summarize(result)
            log(f"  {name} c={conc}: cpu {cpu[conc]} ms/command, {asdict(summaries[conc])}")
        return WorkRun(
            c1=summaries[1],
            c50=summaries[50],
            cpu_ms_per_command=cpu,
            cards=len(env.slack.messages(APPROVALS)),
            memory_mb=proc_status(pid),
        )

    bolt, url = await env.start_floor(process_before_response=True)
    bolt_run = await measure("bare Bolt", bolt.pid, url, carded=False)
    await env.stop(bolt)

    floor, url = await env.start_work_floor()
    floor_run = await measure(
        "no-framework floor",
        floor.pid,
        url,
        carded=True,
        database=env.workdir / f"floor-{env.floors}.db",
    )
    await env.stop(floor)

    bot = await env.start_bot()
    bot_run = await measure(
        "bot", bot.pid, bot.url, carded=True, database=env.workdir / f"bot-{env.bots}.db"
    )
    await env.stop(bot.process)

    return WorkResult(
        counts=counts,
        warmup=warmup,
        bolt=bolt_run,
        floor=floor_run,
        bot=bot_run,
        bot_vs_floor=ratios(bot_run, floor_run),
        bolt_vs_floor=ratios(bolt_run, floor_run),
    )


def ratios(run: WorkRun, floor: WorkRun) -> WorkRatios:
    def per(pick: str) -> dict[int, float]:
        out = {}
        for conc in CONCURRENCIES:
            mine, theirs = run.closed()[conc], floor.closed()[conc]
            out[conc] = round(served(mine, pick) / served(theirs, pick), 2)
        return out

    return WorkRatios(
        cpu={
            c: round(run.cpu_ms_per_command[c] / floor.cpu_ms_per_command[c], 2)
            for c in CONCURRENCIES
        },
        p50=per("p50_ms"),
        p99=per("p99_ms"),
        rps=per("rps"),
    )


def served(summary: LoadSummary, pick: str) -> float:
    """A latency as measured; req/s of commands served (a "busy" answer filed nothing)."""
    if pick == "rps":
        return summary.ok / summary.wall_s if summary.wall_s else float("nan")
    return float(getattr(summary, pick))


def rows(work: WorkResult) -> list[Row]:
    out: list[Row] = []
    r, b = work.bot_vs_floor, work.bolt_vs_floor
    for conc in CONCURRENCIES:
        bot, floor, bolt = (x.closed()[conc] for x in (work.bot, work.floor, work.bolt))
        cpu = (
            work.bot.cpu_ms_per_command[conc],
            work.floor.cpu_ms_per_command[conc],
            work.bolt.cpu_ms_per_command[conc],
        )
        out += [
            Row(
                "6",
                f"CPU per command, c={conc}, vs no-framework floor (bare Bolt: "
                f"{fmt(cpu[2], ' ms', 3)}, {fmt(b.cpu[conc], 'x')})",
                fmt(cpu[0], " ms", 3),
                fmt(cpu[1], " ms", 3),
                f"{fmt(r.cpu[conc], 'x')} (≤ 2x)",
                r.cpu[conc] <= 2,
            ),
            Row(
                "6",
                f"ack p50 / p99, c={conc}, vs no-framework floor (bare Bolt: "
                f"{fmt(bolt.p50_ms, ' ms')} / {fmt(bolt.p99_ms, ' ms')})",
                f"{fmt(bot.p50_ms, ' ms')} / {fmt(bot.p99_ms, ' ms')}",
                f"{fmt(floor.p50_ms, ' ms')} / {fmt(floor.p99_ms, ' ms')}",
                f"{fmt(r.p50[conc], 'x')} / {fmt(r.p99[conc], 'x')}",
                None,
            ),
            Row(
                "6",
                f"commands served per s, c={conc}, vs no-framework floor (bare Bolt: "
                f"{fmt(served(bolt, 'rps'), '', 0)}; the bot's busy answers: "
                f"{bot.statuses.get('busy', 0)})",
                fmt(served(bot, "rps"), "", 0),
                fmt(served(floor, "rps"), "", 0),
                f"{fmt(r.rps[conc], 'x')}" + (" (≥ 0.5x)" if conc == 50 else ""),
                r.rps[conc] >= 0.5 if conc == 50 else None,
            ),
        ]
    return out
