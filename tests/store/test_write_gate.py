"""SQLite's single-writer gate: acks (urgent writes) go first, background writes never starve."""

from __future__ import annotations

import asyncio

from bot.store.engine import WriteGate


async def test_urgent_and_background_writes_alternate_while_both_wait() -> None:
    gate = WriteGate()
    order: list[str] = []
    holder = gate.hold(urgent=False)
    await holder.__aenter__()

    async def write(name: str, urgent: bool) -> None:
        async with gate.hold(urgent=urgent):
            order.append(name)
            await asyncio.sleep(0)

    waiting = [
        asyncio.create_task(write(name, urgent))
        for name, urgent in [("b1", False), ("b2", False), ("u1", True), ("u2", True)]
    ]
    await asyncio.sleep(0.01)
    assert order == []
    await holder.__aexit__(None, None, None)
    await asyncio.gather(*waiting)
    assert order == ["u1", "b1", "u2", "b2"]


async def test_a_cancelled_waiter_passes_the_gate_on() -> None:
    gate = WriteGate()
    holder = gate.hold(urgent=False)
    await holder.__aenter__()
    entered: list[str] = []

    async def write(name: str) -> None:
        async with gate.hold(urgent=True):
            entered.append(name)

    doomed = asyncio.create_task(write("doomed"))
    survivor = asyncio.create_task(write("survivor"))
    await asyncio.sleep(0.01)
    doomed.cancel()
    await holder.__aexit__(None, None, None)
    await asyncio.wait_for(survivor, timeout=1)
    assert entered == ["survivor"]
    async with gate.hold(urgent=False):
        entered.append("after")
    assert entered == ["survivor", "after"]
