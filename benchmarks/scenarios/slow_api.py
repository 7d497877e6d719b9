"""2. Acks of new commands while 100 approved operations wait on a 5 s API.

100 unlinks are filed and carded at 0 ms, the emulator is set to 5 s per call, then one
client sends new commands back to back (from 0.5 s before the clicks on) while the 100
approvals are clicked 25 at a time. "In flight": commands sent after the first click and
answered before the first API answer could come back.
"""

from __future__ import annotations

import asyncio
import math
import time

from benchmarks.harness import (
    FINAL,
    Env,
    all_final,
    approve_all,
    card_states,
    create_requests,
    pct,
    poll,
    summarize,
)
from benchmarks.results import LatencyWindow, Percentiles, SlowApiResult
from benchmarks.table import Row, fmt


async def run(env: Env) -> SlowApiResult:
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
    await env.stop(bot.process)

    # the unlinks themselves, not the reads before them (the pre-image, since issue 24)
    unlinks = [c for c in calls if "benchslow" in c["raw_path"] and c["method"] == "DELETE"]
    effective = sum(1 for c in unlinks if c["status"] == 200)
    first_sent = min((c["at"] for c in unlinks), default=math.nan)
    last_sent = max((c["at"] for c in unlinks), default=math.nan)
    first_answer = first_sent + latency
    in_flight = [
        ms
        for at, ms in zip(result.starts, result.latencies_ms, strict=True)
        if clicks_began <= at and at + ms / 1000 < first_answer
    ]
    states = card_states(env.slack)
    timeline = [
        (round(at - clicks_began, 3), round(ms, 2))
        for at, ms in zip(result.starts, result.latencies_ms, strict=True)
    ]
    return SlowApiResult(
        operations=operations,
        timeline_s_ms=timeline,
        clicks_done_at_s=round(clicks_done - clicks_began, 3),
        first_api_call_at_s=round(first_sent - clicks_began, 3),
        last_api_call_at_s=round(last_sent - clicks_began, 3),
        api_latency_s=latency,
        new_commands=summarize(result),
        new_commands_in_flight_window=LatencyWindow(
            requests=len(in_flight),
            p50_ms=round(pct(in_flight, 50), 3),
            p99_ms=round(pct(in_flight, 99), 3),
            max_ms=round(max(in_flight), 3) if in_flight else math.nan,
        ),
        approve_click_ack_ms=Percentiles(
            p50=round(pct(click_ms, 50), 3),
            p99=round(pct(click_ms, 99), 3),
        ),
        clicks_s=round(clicks_done - clicks_began, 3),
        api_calls_sent_within_s=round(last_sent - first_sent, 3),
        emulator_effective=effective,
        cards_final=sum(1 for i in ids if states.get(i, "").startswith(FINAL)),
        cards_done=sum(1 for i in ids if states.get(i) == "done"),
        all_completed=finished and effective == operations,
        click_to_all_final_s=round(all_final_at - clicks_began, 3),
        bot_memory_mb=memory,
    )


def rows(slow: SlowApiResult) -> list[Row]:
    w, n = slow.new_commands_in_flight_window, slow.new_commands
    return [
        Row(
            "2",
            f"new-command ack p99 while 100 ops wait on a 5 s API ({w.requests} commands)",
            fmt(w.p99_ms, " ms"),
            f"p50 {fmt(w.p50_ms, ' ms')}, max {fmt(w.max_ms, ' ms')}",
            "< 100 ms",
            w.p99_ms < 100,
        ),
        Row(
            "2",
            "… whole run incl. the completion burst",
            fmt(n.p99_ms, " ms"),
            f"p50 {fmt(n.p50_ms, ' ms')}, max {fmt(n.max_ms, ' ms')}",
            "< 100 ms",
            n.p99_ms < 100,
        ),
        Row(
            "2",
            "operations completed (emulator effective / cards final)",
            f"{slow.emulator_effective} / {slow.cards_final}",
            "100 / 100",
            f"all in {fmt(slow.click_to_all_final_s, ' s')}",
            slow.all_completed and slow.cards_final == 100,
        ),
    ]
