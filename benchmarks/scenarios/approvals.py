"""4. Approvals per second end to end, on SQLite and on PostgreSQL (a fresh database).

N requests are filed and carded first; then N approvals are clicked 10 at a time, timed from
the first click until every card shows its final state. Emulator at 0 ms.
"""

from __future__ import annotations

import time

from benchmarks.harness import (
    Env,
    all_final,
    approve_all,
    card_states,
    create_requests,
    log,
    pct,
    poll,
)
from benchmarks.results import ApprovalsResult, ApprovalsRun, Percentiles, Skipped
from benchmarks.table import Row, fmt

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_BENCH_DB = "sfvopi_bench"


async def run(env: Env, *, postgres: bool = True) -> ApprovalsResult:
    """SQLite, then PostgreSQL unless `postgres` is False or it is unreachable (skipped)."""
    sqlite = await approvals(env, None, "9172")
    pg = await postgres_database() if postgres else None
    if pg is None:
        return ApprovalsResult(sqlite=sqlite, postgresql=Skipped("unreachable or disabled"))
    try:
        return ApprovalsResult(sqlite=sqlite, postgresql=await approvals(env, pg, "9173"))
    finally:
        await drop_postgres_database()


async def approvals(env: Env, database_url: str | None, prefix: str) -> ApprovalsRun:
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
    await env.stop(bot.process)
    return ApprovalsRun(
        approvals=count,
        click_concurrency=10,
        finished=finished,
        cards_done=sum(1 for i in ids if states.get(i) == "done"),
        wall_s=round(wall, 3),
        approvals_per_s=round(count / wall, 1),
        click_ack_ms=Percentiles(p50=round(pct(click_ms, 50), 3), p99=round(pct(click_ms, 99), 3)),
        startup_s=round(startup, 3),
        bot_memory_mb=memory,
    )


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


def rows(appr: ApprovalsResult) -> list[Row]:
    out: list[Row] = []
    for db, a in (("sqlite", appr.sqlite), ("postgresql", appr.postgresql)):
        if isinstance(a, Skipped):
            out.append(Row("4", f"approvals/s end to end, {db}", "skipped", "", a.skipped, None))
            continue
        out.append(
            Row(
                "4",
                f"approvals/s end to end, {db} ({a.approvals} clicks, 10 at a time)",
                fmt(a.approvals_per_s, "/s", 1),
                f"click ack p99 {fmt(a.click_ack_ms.p99, ' ms')}",
                f"{a.cards_done}/{a.approvals} done",
                None,
            )
        )
    return out
