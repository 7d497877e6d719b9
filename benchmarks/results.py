"""Typed figures of every scenario, serialised to the results.json shape.

`Results.to_json()` gives the same keys, nesting and order as before the split: every
dataclass below becomes a JSON object with its fields in declaration order, tuples become
arrays, NaN stays `NaN`, and a scenario that did not run (`--only`) is left out.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

# VmRSS, VmHWM, RssAnon and RssFile in MB, as /proc/<pid>/status lists them (empty if gone)
MemoryMB = dict[str, float]


# -- load runs (benchmarks/loadgen.py), summarised ------------------------------------------


@dataclass
class LoadSummary:
    """One load run: client-side latencies (nearest-rank), req/s, the server's CPU seconds."""

    requests: int
    ok: int
    statuses: dict[str, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    rps: float
    wall_s: float
    server_cpu_s: float


@dataclass
class BotLoadSummary(LoadSummary):
    """A closed-loop run against the bot, plus how its cards caught up afterwards."""

    cards_posted: int
    cards_settled_after_s: float


@dataclass
class Percentiles:
    p50: float
    p99: float


# -- 1. ack latency against bare Bolt --------------------------------------------------------


@dataclass
class FloorRuns:
    """The floor (bare Bolt) at c=1, c=50 and paced."""

    c1: LoadSummary
    c50: LoadSummary
    paced: LoadSummary

    def closed(self) -> dict[int, LoadSummary]:
        return {1: self.c1, 50: self.c50}


@dataclass
class BotRuns:
    """The bot, paced first (the ack alone), then c=1 and c=50."""

    paced: LoadSummary
    c1: BotLoadSummary
    c50: BotLoadSummary

    def closed(self) -> dict[int, BotLoadSummary]:
        return {1: self.c1, 50: self.c50}


@dataclass
class Ratios:
    """bot / floor: latencies (p50, p99) and throughput (rps)."""

    p50: float
    p99: float
    rps: float


@dataclass
class FloorRatios:
    c1: Ratios
    c50: Ratios
    paced: Percentiles

    def closed(self) -> dict[int, Ratios]:
        return {1: self.c1, 50: self.c50}


@dataclass
class AckResult:
    counts: dict[int, int]  # concurrency → commands measured (JSON keys "1", "50")
    warmup: int
    floor_pbr_false: FloorRuns
    floor_pbr_true: FloorRuns
    bot: BotRuns
    bot_memory_mb: MemoryMB
    ratios_vs_floor_pbr_false: FloorRatios
    ratios_vs_floor_pbr_true: FloorRatios

    def floors(self) -> tuple[tuple[str, FloorRuns, FloorRatios], ...]:
        """(label, floor runs, bot / floor ratios) for Bolt pbr=False, then pbr=True."""
        return (
            ("pbr=False", self.floor_pbr_false, self.ratios_vs_floor_pbr_false),
            ("pbr=True", self.floor_pbr_true, self.ratios_vs_floor_pbr_true),
        )


# -- 2. acks while 100 approved operations wait on a 5 s API ---------------------------------


@dataclass
class LatencyWindow:
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class SlowApiResult:
    operations: int
    timeline_s_ms: list[tuple[float, float]]  # (sent, s after the first click; ack ms)
    clicks_done_at_s: float
    first_api_call_at_s: float
    last_api_call_at_s: float
    api_latency_s: float
    new_commands: LoadSummary
    new_commands_in_flight_window: LatencyWindow
    approve_click_ack_ms: Percentiles
    clicks_s: float
    api_calls_sent_within_s: float
    emulator_effective: int
    cards_final: int
    cards_done: int
    all_completed: bool
    click_to_all_final_s: float
    bot_memory_mb: MemoryMB


# -- 3. bulk delete of 100 apps at 200 ms per call -------------------------------------------


@dataclass
class BulkRun:
    calls: int
    effective: int
    card: str | None
    finished: bool
    click_to_first_call_s: float
    click_to_last_answer_s: float
    click_to_final_card_s: float


@dataclass
class BulkResult:
    apps: int
    api_latency_s: float
    api_concurrency: int
    ideal_s: float
    runs: list[BulkRun]
    median_click_to_last_answer_s: float
    median_click_to_final_card_s: float
    best_click_to_last_answer_s: float
    best_click_to_final_card_s: float
    ratio_last_answer_vs_ideal: float
    ratio_final_card_vs_ideal: float
    bot_memory_mb: MemoryMB


# -- 4. approvals per second -----------------------------------------------------------------


@dataclass
class ApprovalsRun:
    approvals: int
    click_concurrency: int
    finished: bool
    cards_done: int
    wall_s: float
    approvals_per_s: float
    click_ack_ms: Percentiles
    startup_s: float
    bot_memory_mb: MemoryMB


@dataclass
class Skipped:
    skipped: str


@dataclass
class ApprovalsResult:
    sqlite: ApprovalsRun
    postgresql: ApprovalsRun | Skipped


# -- 5. memory and start-up ------------------------------------------------------------------


@dataclass
class StartupResult:
    runs: int
    startup_s: list[float]
    startup_median_s: float
    idle_memory_mb: list[MemoryMB]
    idle_rss_max_mb: float
    idle_hwm_max_mb: float


# -- 6. the work itself: bot, no-framework floor, bare Bolt ---------------------------------


@dataclass
class WorkRun:
    """One server at c=1 and c=50; CPU counted from the first command to the last card."""

    c1: LoadSummary
    c50: LoadSummary
    cpu_ms_per_command: dict[int, float]  # concurrency → CPU ms per command (JSON keys)
    cards: int  # cards in the approval channel after the runs (0 for bare Bolt)
    memory_mb: MemoryMB

    def closed(self) -> dict[int, LoadSummary]:
        return {1: self.c1, 50: self.c50}


@dataclass
class WorkRatios:
    """bot / no-framework floor, per concurrency: CPU per command, p50, p99, req/s."""

    cpu: dict[int, float]
    p50: dict[int, float]
    p99: dict[int, float]
    rps: dict[int, float]


@dataclass
class WorkResult:
    counts: dict[int, int]
    warmup: int
    bolt: WorkRun
    floor: WorkRun
    bot: WorkRun
    bot_vs_floor: WorkRatios
    bolt_vs_floor: WorkRatios


# -- 7. a burst of simultaneous commands -----------------------------------------------------


@dataclass
class BurstResult:
    commands: int
    answered: int
    statuses: dict[str, int]
    within_3s: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    filed: int  # requests in the bot's database
    cards: int  # distinct requests with a card in the approval channel
    doubled_cards: int  # requests with more than one card
    lost: int  # filed but never carded
    cards_settled_after_s: float
    bot_memory_mb: MemoryMB
    posts_per_second: float | None = None  # the stand-in's chat.postMessage limit per channel
    rate_limited: int = 0  # 429s the stand-in answered the bot's posts


# -- the whole run ---------------------------------------------------------------------------


@dataclass
class Machine:
    nproc: int | None
    cpu_model: str
    python: str
    platform: str


SCENARIO_FIELDS = ("startup", "ack", "slow_api", "bulk", "approvals", "work", "burst")


@dataclass
class Results:
    machine: Machine
    quick: bool
    started_at: str
    loadavg_at_start: tuple[float, float, float]
    startup: StartupResult | None = None
    ack: AckResult | None = None
    slow_api: SlowApiResult | None = None
    bulk: BulkResult | None = None
    approvals: ApprovalsResult | None = None
    work: WorkResult | None = None
    burst: BurstResult | None = None
    stop_times_s: list[tuple[str, float]] = field(default_factory=list)
    elapsed_s: float = math.nan
    loadavg_at_end: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    table: str = ""

    def to_json(self) -> dict[str, Any]:
        """The results.json object; scenarios that did not run are absent, not null."""
        out = dataclasses.asdict(self)
        for name in SCENARIO_FIELDS:
            if out[name] is None:
                del out[name]
        return out
