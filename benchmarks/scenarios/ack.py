"""1. Ack latency and throughput of `/sfvopi unlink`, the bot against bare Bolt (the floor).

Each floor (Bolt pbr=False, then pbr=True) and then the bot take closed loops at c=1 and c=50
and a paced run (one command every PACE s from one client); the bot runs paced first, so the
ack is measured on its own before any backlog, and its cards are let to land after each run.
"""

from __future__ import annotations

from dataclasses import asdict

from benchmarks.harness import APPROVALS, Env, log, summarize
from benchmarks.results import (
    AckResult,
    BotLoadSummary,
    BotRuns,
    FloorRatios,
    FloorRuns,
    LoadSummary,
    Percentiles,
    Ratios,
)
from benchmarks.table import Row, fmt

PACE = 0.05  # seconds between commands in the paced (isolated ack) run
TEMPLATE = "unlink +9170{i:08d} sfv_app_benchload fraud on this DID, INC-4411"


async def run(env: Env) -> AckResult:
    counts = {1: 150, 50: 400} if env.quick else {1: 1000, 50: 5000}
    warmup = 20 if env.quick else 100
    paced = 40 if env.quick else 300

    floors: dict[str, FloorRuns] = {}
    for name, pbr in (("floor_pbr_false", False), ("floor_pbr_true", True)):
        floor, url = await env.start_floor(process_before_response=pbr)
        closed: dict[int, LoadSummary] = {}
        for conc, count in counts.items():
            result = await env.load(
                url, concurrency=conc, count=count, template=TEMPLATE, warmup=warmup, pid=floor.pid
            )
            closed[conc] = summarize(result)
            log(f"  {name} c={conc}: {asdict(closed[conc])}")
        result = await env.load(
            url, concurrency=1, count=paced, template=TEMPLATE, interval=PACE, pid=floor.pid
        )
        floors[name] = FloorRuns(c1=closed[1], c50=closed[50], paced=summarize(result))
        await env.stop(floor)

    env.slack.reset()
    bot = await env.start_bot()
    sent = 0
    # one command every PACE seconds: the ack alone, with the previous card already posted
    result = await env.load(
        bot.url, concurrency=1, count=paced, template=TEMPLATE, interval=PACE, pid=bot.pid
    )
    sent += result.sent
    bot_paced = summarize(result)
    await env.settle_cards(sent, 30)
    bot_closed: dict[int, BotLoadSummary] = {}
    for conc, count in counts.items():
        spy = env.profile(bot.pid, f"ack-bot-c{conc}", 8)
        result = await env.load(
            bot.url,
            concurrency=conc,
            count=count,
            template=TEMPLATE,
            warmup=warmup,
            start=sent,
            pid=bot.pid,
            time_limit=120,
        )
        if spy is not None:
            await spy
        sent += result.sent
        summary = summarize(result)
        # the cards promised by these acks are posted after them; let them land (bounded) so
        # one run's backlog does not slow the next, and report how long that took
        waited = await env.settle_cards(sent, 60 if env.quick else 180)
        bot_closed[conc] = BotLoadSummary(
            **asdict(summary),
            cards_posted=len(env.slack.messages(APPROVALS)),
            cards_settled_after_s=round(waited, 2),
        )
        log(f"  bot c={conc}: {asdict(bot_closed[conc])}")
    bot_runs = BotRuns(paced=bot_paced, c1=bot_closed[1], c50=bot_closed[50])
    memory = bot.memory()
    await env.stop(bot.process)

    return AckResult(
        counts=counts,
        warmup=warmup,
        floor_pbr_false=floors["floor_pbr_false"],
        floor_pbr_true=floors["floor_pbr_true"],
        bot=bot_runs,
        bot_memory_mb=memory,
        ratios_vs_floor_pbr_false=ratios(bot_runs, floors["floor_pbr_false"]),
        ratios_vs_floor_pbr_true=ratios(bot_runs, floors["floor_pbr_true"]),
    )


def ratios(bot: BotRuns, floor: FloorRuns) -> FloorRatios:
    def closed(b: LoadSummary, f: LoadSummary) -> Ratios:
        return Ratios(
            p50=round(b.p50_ms / f.p50_ms, 2),
            p99=round(b.p99_ms / f.p99_ms, 2),
            rps=round(b.rps / f.rps, 2),
        )

    return FloorRatios(
        c1=closed(bot.c1, floor.c1),
        c50=closed(bot.c50, floor.c50),
        paced=Percentiles(
            p50=round(bot.paced.p50_ms / floor.paced.p50_ms, 2),
            p99=round(bot.paced.p99_ms / floor.paced.p99_ms, 2),
        ),
    )


def rows(ack: AckResult) -> list[Row]:
    out: list[Row] = []
    for conc, b in ack.bot.closed().items():
        for label, floor, ratio in ack.floors():
            f, r = floor.closed()[conc], ratio.closed()[conc]
            vs = f"c={conc}, vs Bolt {label}"
            out += [
                Row(
                    "1",
                    f"unlink ack p50, {vs}",
                    fmt(b.p50_ms, " ms"),
                    fmt(f.p50_ms, " ms"),
                    f"{fmt(r.p50, 'x')} (≤ 2x)",
                    r.p50 <= 2,
                ),
                Row(
                    "1",
                    f"unlink ack p99, {vs}",
                    fmt(b.p99_ms, " ms"),
                    fmt(f.p99_ms, " ms"),
                    f"{fmt(r.p99, 'x')}",
                    None,
                ),
                Row(
                    "1",
                    f"unlink req/s, {vs}",
                    fmt(b.rps, "", 0),
                    fmt(f.rps, "", 0),
                    f"{fmt(r.rps, 'x')} (≥ 0.5x)",
                    r.rps >= 0.5,
                ),
            ]
    for label, floor, ratio in ack.floors():
        bp, fp, p = ack.bot.paced, floor.paced, ratio.paced
        out.append(
            Row(
                "1",
                f"unlink ack p50 / p99, paced 1 per {PACE * 1000:.0f} ms, vs Bolt {label}",
                f"{fmt(bp.p50_ms, ' ms')} / {fmt(bp.p99_ms, ' ms')}",
                f"{fmt(fp.p50_ms, ' ms')} / {fmt(fp.p99_ms, ' ms')}",
                f"{fmt(p.p50, 'x')} / {fmt(p.p99, 'x')}",
                None,
            )
        )
    return out
