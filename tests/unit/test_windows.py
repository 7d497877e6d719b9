"""Change windows and freezes as data (bot/core/windows.py, pure): the next stretch a request
may run in, across time zones, the week's wrap, past midnight, freezes cut out, and the two
nights a year the clock jumps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.windows import (
    Freeze,
    Schedule,
    Span,
    Window,
    common_open,
    days_text,
    parse_at,
    parse_clock,
    parse_days,
    parse_zone,
    runs_at_text,
)

WEEKDAYS = frozenset(range(5))
NIGHTS_IST = Window(WEEKDAYS, 2 * 60, 5 * 60, "Asia/Kolkata")  # mon-fri 02:00-05:00 IST


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def span(start: str, end: str) -> Span:
    return Span(utc(start), utc(end))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Monday 2026-12-07 05:55 IST: Monday's window (20:30-23:30 UTC Sunday) is over
        ("2026-12-07T00:25", span("2026-12-07T20:30", "2026-12-07T23:30")),
        # inside Tuesday's: open now, until 05:00 IST
        ("2026-12-07T21:30", span("2026-12-07T21:30", "2026-12-07T23:30")),
        # the window's end is not in it
        ("2026-12-07T23:30", span("2026-12-08T20:30", "2026-12-08T23:30")),
        # Friday after its window: the week wraps to Monday 02:00 IST (Sunday 20:30 UTC)
        ("2026-12-11T00:00", span("2026-12-13T20:30", "2026-12-13T23:30")),
    ],
)
def test_weekly_hours_in_a_zone(at: str, expected: Span) -> None:
    assert Schedule((NIGHTS_IST,)).next_open(utc(at)) == expected


def test_a_window_past_midnight_and_two_windows_merged() -> None:
    late = Window(frozenset({5}), 22 * 60, 2 * 60, "UTC")  # sat 22:00 to sun 02:00
    early = Window(frozenset({6}), 1 * 60, 3 * 60, "UTC")  # sun 01:00-03:00, overlapping
    schedule = Schedule((late, early))
    assert schedule.next_open(utc("2026-12-12T12:00")) == span(
        "2026-12-12T22:00", "2026-12-13T03:00"
    )
    assert schedule.is_open(utc("2026-12-13T00:30"))
    assert not schedule.is_open(utc("2026-12-13T03:00"))


def test_to_2400_ends_at_midnight() -> None:
    evening = Window(frozenset({0}), 20 * 60, 24 * 60, "UTC")
    assert Schedule((evening,)).next_open(utc("2026-12-07T21:00")) == span(
        "2026-12-07T21:00", "2026-12-08T00:00"
    )


NEW_YORK = "America/New_York"


def test_the_night_the_clock_skips_an_hour() -> None:
    """2027-03-14: 02:00 EST jumps to 03:00 EDT (07:00 UTC). A window from 02:30 (a time that
    never shows) opens with the offset from before the jump: 07:30 UTC, 03:30 EDT."""
    window = Window(frozenset({6}), 2 * 60 + 30, 4 * 60, NEW_YORK)
    assert Schedule((window,)).next_open(utc("2027-03-14T00:00")) == span(
        "2027-03-14T07:30", "2027-03-14T08:00"
    )
    # a week later, the same hours in EDT: four hours behind UTC, not five
    assert Schedule((window,)).next_open(utc("2027-03-15T00:00")) == span(
        "2027-03-21T06:30", "2027-03-21T08:00"
    )


def test_the_night_the_clock_repeats_an_hour() -> None:
    """2026-11-01: 02:00 EDT falls back to 01:00 EST. 01:30 happens twice: the window opens at
    the first (05:30 UTC) and closes at 03:00 EST (08:00 UTC), two and a half hours later."""
    window = Window(frozenset({6}), 90, 3 * 60, NEW_YORK)
    assert Schedule((window,)).next_open(utc("2026-11-01T00:00")) == span(
        "2026-11-01T05:30", "2026-11-01T08:00"
    )


def test_freezes_cut_windows_and_stop_everything_else() -> None:
    freeze = Freeze(utc("2026-12-07T22:00"), utc("2026-12-09T00:00"), "release week")
    schedule = Schedule((NIGHTS_IST,), (freeze,))
    # Tuesday's window is cut at the freeze's start; inside the freeze, the next window after
    assert schedule.next_open(utc("2026-12-07T20:00")) == span(
        "2026-12-07T20:30", "2026-12-07T22:00"
    )
    assert schedule.next_open(utc("2026-12-07T22:00")) == span(
        "2026-12-09T20:30", "2026-12-09T23:30"
    )
    # no windows: any time but the freeze
    frozen = Schedule((), (freeze,))
    assert frozen.is_open(utc("2026-12-07T21:59"))
    assert frozen.next_open(utc("2026-12-08T12:00")) == Span(freeze.end, float("inf"))
    assert frozen.frozen(utc("2026-12-08T12:00")) == freeze
    assert Schedule().always and Schedule().is_open(utc("2026-12-08T12:00"))


def test_a_freeze_over_every_window_within_the_horizon_opens_nothing() -> None:
    freeze = Freeze(utc("2026-01-01T00:00"), utc("2030-01-01T00:00"))
    assert Schedule((NIGHTS_IST,), (freeze,)).next_open(utc("2026-12-07T00:00")) is None


@pytest.mark.parametrize(
    ("value", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("fri-mon", {4, 5, 6, 0}),  # wrapping the week
        (["mon", "wed-thu"], {0, 2, 3}),
        ("Sat", {5}),
        ("mon-", None),
        ("monday", None),
        ([], None),
        (3, None),
    ],
)
def test_days(value: object, days: set[int] | None) -> None:
    assert parse_days(value) == (None if days is None else frozenset(days))


def test_days_in_words() -> None:
    assert days_text(frozenset({4, 5, 6, 0})) == "fri-mon"
    assert days_text(frozenset({0, 2, 3})) == "mon,wed-thu"
    assert days_text(frozenset(range(7))) == "every day"
    assert NIGHTS_IST.text() == "mon-fri 02:00-05:00 Asia/Kolkata"


def test_times_zones_and_at() -> None:
    assert [parse_clock(v) for v in ("02:00", "23:59", "24:00", "24:01", "2:00", 200)] == [
        120,
        1439,
        1440,
        None,
        None,
        None,
    ]
    assert parse_zone("Asia/Kolkata") == "Asia/Kolkata"
    assert [parse_zone(v) for v in ("Mars/Olympus", "../etc/passwd", "", 5)] == [None] * 4
    assert parse_at("2026-12-08T02:00+05:30") == utc("2026-12-07T20:30")
    assert parse_at("2026-12-08T02:00:00Z") == utc("2026-12-08T02:00")
    assert [parse_at(v) for v in ("2026-12-08T02:00", "2026-13-08T02:00Z", "tomorrow")] == [
        None
    ] * 3


def test_several_rules_run_only_where_all_allow() -> None:
    weekdays_utc = Schedule((Window(WEEKDAYS, 0, 22 * 60, "UTC"),))  # mon-fri 00:00-22:00
    # IST nights open 20:30-23:30 UTC: together, 20:30-22:00 UTC
    assert common_open([Schedule((NIGHTS_IST,)), weekdays_utc], utc("2026-12-07T12:00")) == span(
        "2026-12-07T20:30", "2026-12-07T22:00"
    )
    # Friday night IST is Friday 20:30 UTC (fine) but a Saturday-only rule never meets it
    saturday = Schedule((Window(frozenset({5}), 0, 24 * 60, "UTC"),))
    assert common_open([Schedule((NIGHTS_IST,)), saturday], utc("2026-12-07T12:00")) is None
    assert common_open([Schedule()], utc("2026-12-07T12:00")) == Span(
        utc("2026-12-07T12:00"), float("inf")
    )


def test_when_it_runs_in_words() -> None:
    at = utc("2026-12-07T20:30")  # 02:00 IST on Tuesday
    assert runs_at_text(at, "Asia/Kolkata", utc("2026-12-07T21:00")) == "02:00 IST"
    assert runs_at_text(at, "Asia/Kolkata", utc("2026-12-07T12:00")) == "Tue 8 Dec 02:00 IST"
