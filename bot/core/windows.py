"""Change windows and freezes (pure): when an approved request may run. A window is weekly
wall-clock hours in a time zone ("mon-fri 02:00 to 05:00 Asia/Kolkata"; `to` at or before
`from` runs past midnight into the next day); a freeze is a dated range in which nothing runs
but break-glass. The bot asks one question of them: the first stretch of time, at or after a
moment, that is inside a window and outside every freeze (`Schedule.next_open`).

Wall-clock times are read as `zoneinfo` reads them: a time the clock repeats (autumn) is its
first occurrence; a time the clock skips (spring) takes the offset from before the change, so
02:30 on the night New York skips 02:00-03:00 is 03:30 EDT. Read by bot/core/scheduling.py,
which decides when an approved request runs (docs/configuration.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DAYS",
    "Freeze",
    "Schedule",
    "Span",
    "Window",
    "common_open",
    "parse_at",
    "parse_clock",
    "parse_days",
    "parse_zone",
    "runs_at_text",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 400  # how far ahead a window is looked for (a freeze may be months long)
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")
_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(Z|[+-]\d\d:\d\d)")


@dataclass(frozen=True)
class Span:
    """[start, end) in epoch seconds."""

    start: float
    end: float


@dataclass(frozen=True)
class Window:
    """Weekly hours: on each of `days` (0 Monday … 6 Sunday) from `start` to `end` (minutes
    after local midnight; `end` <= `start`: into the next day), in `zone`."""

    days: frozenset[int]
    start: int
    end: int
    zone: str

    def spans(self, first: date, last: date) -> list[Span]:
        """Each opening that starts on a local day from `first` to `last`."""
        tz = ZoneInfo(self.zone)
        found: list[Span] = []
        day = first
        while day <= last:
            if day.weekday() in self.days:
                ends_on = day if self.end > self.start else day + timedelta(days=1)
                found.append(Span(_local(day, self.start, tz), _local(ends_on, self.end, tz)))
            day += timedelta(days=1)
        return found

    def text(self) -> str:
        """ "mon-fri 02:00-05:00 Asia/Kolkata"."""
        return f"{days_text(self.days)} {_hhmm(self.start)}-{_hhmm(self.end)} {self.zone}"


@dataclass(frozen=True)
class Freeze:
    """Nothing but break-glass runs in [start, end) (epoch seconds); `name` says why."""

    start: float
    end: float
    name: str | None = None


@dataclass(frozen=True)
class Schedule:
    """An action's windows (none: any time) and freezes."""

    windows: tuple[Window, ...] = ()
    freezes: tuple[Freeze, ...] = ()

    @property
    def always(self) -> bool:
        return not self.windows and not self.freezes

    def next_open(self, at: float) -> Span | None:
        """The first stretch at or after `at` inside a window and outside every freeze; its
        start is `at` itself when it is open now, its end infinite without windows (None:
        nothing opens within the horizon)."""
        return next(iter(self.open_spans(at)), None)

    def open_spans(self, at: float) -> list[Span]:
        """Every such stretch from `at` to the horizon, in order (the first cut at `at`)."""
        moment = datetime.fromtimestamp(at, UTC).date()
        first, last = moment - timedelta(days=2), moment + timedelta(days=HORIZON_DAYS)
        if self.windows:
            opened = _merged(s for w in self.windows for s in w.spans(first, last))
        else:
            opened = [Span(at, math.inf)]  # no windows: any time outside the freezes
        return [Span(max(s.start, at), s.end) for s in _without(opened, self.freezes) if s.end > at]

    def is_open(self, at: float) -> bool:
        span = self.next_open(at)
        return span is not None and span.start == at

    def frozen(self, at: float) -> Freeze | None:
        return next((f for f in self.freezes if f.start <= at < f.end), None)


def common_open(schedules: Sequence[Schedule], at: float) -> Span | None:
    """The first stretch at or after `at` that every schedule has open (a request under
    several rules runs only where all of them allow), None within the horizon."""
    common = [Span(at, math.inf)]
    for schedule in schedules:
        common = _intersected(common, schedule.open_spans(at))
    return next(iter(common), None)


def _intersected(left: Sequence[Span], right: Sequence[Span]) -> list[Span]:
    """Where two ordered lists of disjoint spans overlap (a two-pointer walk)."""
    found: list[Span] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start, end = max(left[i].start, right[j].start), min(left[i].end, right[j].end)
        if start < end:
            found.append(Span(start, end))
        if left[i].end < right[j].end:
            i += 1
        else:
            j += 1
    return found


def runs_at_text(at: float, zone: str, now: float) -> str:
    """ "02:00 IST", with the weekday and date when not today there ("Tue 8 Dec 02:00 IST")."""
    tz = ZoneInfo(zone)
    moment = datetime.fromtimestamp(at, tz)
    shown = moment.strftime("%H:%M ") + (moment.tzname() or zone)
    if moment.date() == datetime.fromtimestamp(now, tz).date():
        return shown
    return f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b')} {shown}"


def _local(day: date, minutes: int, tz: ZoneInfo) -> float:
    """`minutes` after local midnight of `day` (1440: the next midnight), as epoch seconds."""
    day += timedelta(days=minutes // 1440)
    return datetime.combine(day, time(minutes % 1440 // 60, minutes % 60), tzinfo=tz).timestamp()


def _merged(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching spans as one, in order."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if span.end <= span.start:
            continue  # no time at all between its ends
        if merged and span.start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return merged


def _without(spans: Sequence[Span], freezes: Sequence[Freeze]) -> list[Span]:
    """The spans with every freeze cut out of them."""
    left = list(spans)
    for freeze in freezes:
        cut: list[Span] = []
        for span in left:
            if span.end <= freeze.start or span.start >= freeze.end:
                cut.append(span)
                continue
            if span.start < freeze.start:
                cut.append(Span(span.start, freeze.start))
            if span.end > freeze.end:
                cut.append(Span(freeze.end, span.end))
        left = cut
    return sorted(left, key=lambda s: s.start)


def parse_days(value: object) -> frozenset[int] | None:
    """ "mon-fri", "sat", ["mon", "wed-thu"], "fri-mon" (wrapping the week); None: not days."""
    items = value if isinstance(value, list) else [value]
    found: set[int] = set()
    for item in items:
        if not isinstance(item, str):
            return None
        ends = item.strip().lower().split("-")
        if len(ends) > 2 or any(e not in DAYS for e in ends):
            return None
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        found.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    return frozenset(found) if found else None


def days_text(days: frozenset[int]) -> str:
    """The days as runs: {0..4} "mon-fri"; {4, 5, 6, 0} "fri-mon"; {0, 2} "mon,wed"."""
    if len(days) == 7:
        return "every day"
    start = next(d for d in range(7) if d in days and (d - 1) % 7 not in days)
    runs: list[str] = []
    day = start
    for _ in range(7):
        if day in days and (day - 1) % 7 not in days:
            end = day
            while (end + 1) % 7 in days:
                end = (end + 1) % 7
            runs.append(DAYS[day] if end == day else f"{DAYS[day]}-{DAYS[end]}")
        day = (day + 1) % 7
    return ",".join(runs)


def parse_clock(value: object) -> int | None:
    """ "02:00" as minutes after midnight ("24:00": 1440); None: not a time of day."""
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        return None
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def parse_zone(value: object) -> str | None:
    """An IANA time zone name zoneinfo knows ("Asia/Kolkata", "UTC"); None: not one."""
    if not isinstance(value, str) or not value or value.startswith(("/", ".")) or ".." in value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value


def parse_at(value: str) -> float | None:
    """ "2026-12-08T02:00+05:30" (an offset or Z required: a bare time is ambiguous) in
    epoch seconds; None: not such a time."""
    if not _AT.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
