"""3. Bulk delete of 100 apps at 200 ms per call, SFVOPI_API_CONCURRENCY=8, one approval.

The ideal is (2 + ceil(100 / 8)) x 200 ms: since issue 24 each app's state is read right
before the run (the pre-image an undo recreates from: two reads, every app at once), then the
deletes go 8 at a time. "Last API answer" is the last call's arrival at the emulator (its own
clock, same host) plus the latency; "effective" counts the deletes that took.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict

from benchmarks.harness import (
    Env,
    all_final,
    approve,
    card_for,
    card_states,
    create_requests,
    log,
    poll,
)
from benchmarks.results import BulkResult, BulkRun
from benchmarks.table import Row, fmt


async def run(env: Env) -> BulkResult:
    apps, latency, concurrency = 100, 0.2, 8
    reps = 1 if env.quick else 3
    # each app's state read right before the run (the pre-image, for undo: its app, then its
    # numbers, every app at once), then the deletes `concurrency` at a time
    ideal = (2 + math.ceil(apps / concurrency)) * latency
    env.slack.reset()
    bot = await env.start_bot(api_concurrency=concurrency)
    runs: list[BulkRun] = []
    for rep in range(reps):
        await env.emulator.set_latency(env.http, 0)
        names = " ".join(f"sfv_app_bulk{rep}_{i:03d}" for i in range(apps))
        (request_id,) = await create_requests(env, [f"delete {names} decommission, CHG-{rep}"])
        await env.emulator.set_latency(env.http, latency)
        calls_before = len(await env.emulator.calls(env.http))
        card = card_for(env.slack, request_id)
        assert card is not None
        began = time.time()
        await approve(env, card.ts, request_id)
        finished = await poll(all_final(env, [request_id]), 60, 0.005)
        card_final = time.time()
        calls = [
            c
            for c in (await env.emulator.calls(env.http))[calls_before:]
            if f"bulk{rep}_" in c["raw_path"]
        ]
        last_answer = max(c["at"] for c in calls) + latency if calls else math.nan
        run = BulkRun(
            calls=len(calls),
            effective=sum(1 for c in calls if c["status"] == 200 and c["method"] == "DELETE"),
            card=card_states(env.slack).get(request_id),
            finished=finished,
            click_to_first_call_s=round(min(c["at"] for c in calls) - began, 3),
            click_to_last_answer_s=round(last_answer - began, 3),
            click_to_final_card_s=round(card_final - began, 3),
        )
        runs.append(run)
        log(f"  bulk run {rep}: {asdict(run)}")
    await env.emulator.set_latency(env.http, 0)
    memory = bot.memory()
    await env.stop(bot.process)
    answers = sorted(r.click_to_last_answer_s for r in runs)
    cards = sorted(r.click_to_final_card_s for r in runs)
    median_answer, median_card = answers[len(runs) // 2], cards[len(runs) // 2]
    return BulkResult(
        apps=apps,
        api_latency_s=latency,
        api_concurrency=concurrency,
        ideal_s=round(ideal, 3),
        runs=runs,
        median_click_to_last_answer_s=median_answer,
        median_click_to_final_card_s=median_card,
        best_click_to_last_answer_s=min(answers),
        best_click_to_final_card_s=min(cards),
        ratio_last_answer_vs_ideal=round(median_answer / ideal, 2),
        ratio_final_card_vs_ideal=round(median_card / ideal, 2),
        bot_memory_mb=memory,
    )


def rows(bulk: BulkResult) -> list[Row]:
    ideal = f"ideal {fmt(bulk.ideal_s, ' s')}"
    return [
        Row(
            "3",
            "bulk delete 100 apps, click → last API answer (median)",
            fmt(bulk.median_click_to_last_answer_s, " s"),
            ideal,
            f"{fmt(bulk.ratio_last_answer_vs_ideal, 'x')} (≤ 1.2x)",
            bulk.ratio_last_answer_vs_ideal <= 1.2,
        ),
        Row(
            "3",
            "bulk delete 100 apps, click → final card (median)",
            fmt(bulk.median_click_to_final_card_s, " s"),
            ideal,
            f"{fmt(bulk.ratio_final_card_vs_ideal, 'x')} (≤ 1.2x)",
            bulk.ratio_final_card_vs_ideal <= 1.2,
        ),
    ]
