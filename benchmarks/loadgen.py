"""Load generator: signed `/sfvopi` slash commands at a fixed concurrency, in its own process.

It runs apart from the benchmark process (which hosts the Slack stand-in and so is busy
receiving the bot's Web API calls), so the client is measured on a loop doing nothing else.
Reads one JSON object from stdin, writes one JSON object to stdout:

    {"url": ..., "secret": ..., "concurrency": 50, "count": 1000, "warmup": 50,
     "template": "unlink +9170{i:08d} sfv_app_bench fraud", "start": 0,
     "user": "U0ALICE", "channel": "C0OPS", "response_url": ..., "time_limit": 60,
     "interval": 0}

`interval` > 0 makes each worker pause that long after each answer (a paced, open-ish loop).
An answer saying "Busy:" (the bot shed the command, filing nothing) is counted as `busy`.

Each request is signed just before it is sent, as Slack does (form body, v0 HMAC).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier


def body_for(config: dict[str, Any], i: int) -> bytes:
    fields = {
        "token": "bench-verification-token",
        "team_id": "T0BENCH",
        "team_domain": "bench",
        "channel_id": config.get("channel", "C0OPS"),
        "channel_name": "ops",
        "user_id": config.get("user", "U0ALICE"),
        "user_name": "alice",
        "command": "/sfvopi",
        "text": config["template"].format(i=i),
        "api_app_id": "A0BENCH",
        "is_enterprise_install": "false",
        "response_url": config.get("response_url", "http://127.0.0.1:9/response/bench"),
        "trigger_id": f"{i}.{time.time_ns()}.bench",
    }
    return urlencode(fields).encode()


async def run(config: dict[str, Any]) -> dict[str, Any]:
    verifier = SignatureVerifier(config["secret"])
    concurrency = int(config["concurrency"])
    count = int(config["count"])
    warmup = int(config.get("warmup", 0))
    start = int(config.get("start", 0))
    interval = float(config.get("interval", 0))
    deadline = time.monotonic() + float(config.get("time_limit", 60))
    latencies: list[float] = []
    starts: list[float] = []
    statuses: dict[str, int] = {}
    next_index = 0
    sent = 0

    async def send(session: aiohttp.ClientSession, i: int) -> tuple[float, float, str]:
        body = body_for(config, i)
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=body),
        }
        wall_start = time.time()
        began = time.perf_counter()
        try:
            async with session.post(config["url"], data=body, headers=headers) as response:
                answer = await response.read()
                # the bot's "busy, nothing was filed" is a 200 too: counted apart, as not served
                status = "busy" if b"Busy:" in answer else str(response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = type(exc).__name__
        return wall_start, (time.perf_counter() - began) * 1000, status

    async def worker(session: aiohttp.ClientSession, total: int, record: bool) -> None:
        nonlocal next_index, sent
        while next_index < total and time.monotonic() < deadline:
            i = next_index
            next_index += 1
            sent += 1
            at, elapsed, status = await send(session, start + i)
            if interval:
                await asyncio.sleep(interval)
            if record:
                starts.append(at)
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if warmup:
            await asyncio.gather(*(worker(session, warmup, False) for _ in range(concurrency)))
        start += next_index
        next_index = 0
        began = time.perf_counter()
        await asyncio.gather(*(worker(session, count, True) for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return {
        "latencies_ms": latencies,
        "starts": starts,
        "wall_s": wall,
        "statuses": statuses,
        "sent": sent,
        "timed_out": time.monotonic() >= deadline,
    }


def main() -> None:
    config = json.loads(sys.stdin.read())
    json.dump(asyncio.run(run(config)), sys.stdout)


if __name__ == "__main__":
    main()
