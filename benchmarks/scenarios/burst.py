"""7. A burst: COMMANDS people and tools type `/sfvopi unlink` at the same moment.

Slack shows its user an error when an answer takes over 3 s, so the figure that matters is how
many of the acks came within 3 s; and then that every request the bot filed got exactly one
card, none lost and none doubled, and how long the cards took to land.

The stand-in holds the bot to Slack's per-channel limit on chat.postMessage (429 with
Retry-After beyond it), so the cards reach the approval channel paced, and the 429s the bot
drew are counted. Slack's limit is about one post a second; the run uses POSTS_PER_SECOND (10,
with the bot's SFVOPI_SLACK_POST_INTERVAL_SECONDS to match) so 500 cards take a minute, not
eight. BENCH_BURST_POSTS_PER_SECOND=1 runs it at Slack's own pace.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
from collections import Counter

from benchmarks.harness import APPROVALS, Env, log
from benchmarks.results import BurstResult
from benchmarks.table import Row, fmt

COMMANDS = 500
SLACK_DEADLINE_MS = 3000
TEMPLATE = "unlink +9172{i:08d} sfv_app_benchload fraud on this DID, INC-4411"
CARD = re.compile(r"request #(\d+)")
POSTS_PER_SECOND = float(os.environ.get("BENCH_BURST_POSTS_PER_SECOND", "10"))


async def run(env: Env) -> BurstResult:
    env.slack.reset()
    env.slack.limit_posts(POSTS_PER_SECOND)
    bot = await env.start_bot(
        extra_env={"SFVOPI_SLACK_POST_INTERVAL_SECONDS": str(1 / POSTS_PER_SECOND)}
    )
    result = await env.load(
        bot.url,
        concurrency=COMMANDS,
        count=COMMANDS,
        template=TEMPLATE,
        pid=bot.pid,
        time_limit=60,
    )
    lat = sorted(result.latencies_ms)
    database = env.workdir / f"bot-{env.bots}.db"

    def count_filed() -> int:
        with sqlite3.connect(database) as db:
            return int(db.execute("SELECT count(*) FROM requests").fetchone()[0])

    # a command whose client gave up (10 s) may still be filed after the load ends: count
    # again once its card landed, until the count holds
    filed, waited = count_filed(), 0.0
    drain = 30 + 1.5 * COMMANDS / POSTS_PER_SECOND
    while True:
        waited += await env.settle_cards(filed, drain)
        again = count_filed()
        if again == filed:
            break
        filed = again
    per_request = Counter(
        int(m.group(1))
        for message in env.slack.messages(APPROVALS)
        if (m := CARD.search(message.text)) is not None
    )
    memory = bot.memory()
    rate_limited = env.slack.rate_limited()
    env.slack.unlimit_posts()
    await env.stop(bot.process)
    burst = BurstResult(
        commands=COMMANDS,
        answered=len(lat),
        statuses=result.statuses,
        within_3s=sum(1 for ms in lat if ms <= SLACK_DEADLINE_MS),
        p50_ms=round(lat[len(lat) // 2], 1) if lat else float("nan"),
        p99_ms=round(lat[min(len(lat) - 1, len(lat) * 99 // 100)], 1) if lat else float("nan"),
        max_ms=round(lat[-1], 1) if lat else float("nan"),
        filed=filed,
        cards=len(per_request),
        doubled_cards=sum(1 for n in per_request.values() if n > 1),
        lost=max(0, filed - len(per_request)),
        cards_settled_after_s=round(waited, 2),
        bot_memory_mb=memory,
        posts_per_second=POSTS_PER_SECOND,
        rate_limited=rate_limited,
    )
    log(f"  burst: {burst}")
    return burst


def rows(burst: BurstResult) -> list[Row]:
    ok = burst.statuses.get("200", 0)
    return [
        Row(
            "7",
            f"{burst.commands} simultaneous unlinks answered within 3 s (p50 / p99 / max: "
            f"{fmt(burst.p50_ms, ' ms', 0)} / {fmt(burst.p99_ms, ' ms', 0)} / "
            f"{fmt(burst.max_ms, ' ms', 0)}; 200s: {ok})",
            str(burst.within_3s),
            str(burst.commands),
            f"{burst.within_3s}/{burst.commands} (all)",
            burst.within_3s == burst.commands,
        ),
        Row(
            "7",
            f"burst: one card per filed request (filed {burst.filed}, doubled "
            f"{burst.doubled_cards}, lost {burst.lost}; paced at "
            f"{fmt(burst.posts_per_second or math.nan, '/s per channel', 0)}, all landed after "
            f"{fmt(burst.cards_settled_after_s, ' s')}, 429s drawn: {burst.rate_limited})",
            str(burst.cards),
            str(burst.filed),
            "all, none doubled",
            burst.cards == burst.filed and burst.doubled_cards == 0 and burst.lost == 0,
        ),
    ]
