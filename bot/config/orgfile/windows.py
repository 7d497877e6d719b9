"""Reading `windows:` and `freezes:` (bot/core/windows.py) from a mapping of the org file (an
action's policy or a rule), every problem with its line, and a schedule that never opens."""

from __future__ import annotations

import time as clock
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config.orgfile.problems import Checks, kind_of, show
from bot.config.orgfile.yaml_lines import Map
from bot.core.windows import Freeze, Schedule, Window, parse_clock, parse_days, parse_zone

__all__ = ["WindowChecks"]

_WINDOW_KEYS = ("days", "from", "to", "tz")
_FREEZE_KEYS = ("name", "from", "to", "tz")
_WINDOW_EXAMPLE = '{days: mon-fri, from: "02:00", to: "05:00", tz: Asia/Kolkata}'
_FREEZE_EXAMPLE = "{name: year end, from: 2026-12-20, to: 2027-01-03, tz: Asia/Kolkata}"


class WindowChecks(Checks):
    """An action's or a rule's change windows and freezes."""

    def schedule(self, say: str, body: Map) -> Schedule:
        """`body`'s `windows:` and `freezes:` (absent: none, so any time)."""
        windows = [self.window(say, i, w, body) for i, w in self._items(say, body, "windows")]
        freezes = [self.freeze(say, i, f, body) for i, f in self._items(say, body, "freezes")]
        schedule = Schedule(
            tuple(w for w in windows if w is not None), tuple(f for f in freezes if f is not None)
        )
        if windows and None not in windows and None not in freezes:
            self.opens(say, schedule, body.line_of("windows"))
        return schedule

    def opens(self, say: str, schedule: Schedule, line: int) -> None:
        """A schedule whose windows its freezes cover for as far as the bot looks ahead (a
        year) would hold every request it applies to until it expires: reported."""
        if not schedule.always and schedule.next_open(clock.time()) is None:
            self.problem(
                line,
                f"{say}: its windows never open again (its freezes cover them for the next "
                "year), so no request under it could ever run",
            )

    def _items(self, say: str, body: Map, key: str) -> list[tuple[int, Any]]:
        if key not in body:
            return []
        value = body.get(key)
        if not isinstance(value, list) or not value:
            example = _WINDOW_EXAMPLE if key == "windows" else _FREEZE_EXAMPLE
            what = "an empty list" if value == [] else kind_of(value)
            self.problem(
                body.line_of(key), f"{say}: {key} must be a list like [{example}], not {what}"
            )
            return []
        return list(enumerate(value, start=1))

    def window(self, say: str, index: int, item: Any, body: Map) -> Window | None:
        where, before = f"{say} window {index}", len(self.problems)
        if not self._entry(where, item, body.line_of("windows"), _WINDOW_KEYS, _WINDOW_EXAMPLE):
            return None
        days = parse_days(item.get("days", "mon-sun"))
        if days is None:
            self.problem(
                item.line_of("days"),
                f"{where}: days must be like mon-fri, sat or [mon, wed-thu], not "
                f"{show(item.get('days'))}",
            )
        start, end = self._clock(where, item, "from"), self._clock(where, item, "to")
        zone = self._zone(where, item)
        if start is not None and start == end:
            self.problem(item.line, f"{where} opens and closes at the same time: it is never open")
        if len(self.problems) > before or days is None or start is None or end is None:
            return None
        return Window(days, start, end, zone or "UTC")

    def freeze(self, say: str, index: int, item: Any, body: Map) -> Freeze | None:
        where, before = f"{say} freeze {index}", len(self.problems)
        if not self._entry(where, item, body.line_of("freezes"), _FREEZE_KEYS, _FREEZE_EXAMPLE):
            return None
        zone = ZoneInfo(self._zone(where, item) or "UTC")
        start = self._moment(where, item, "from", zone)
        end = self._moment(where, item, "to", zone)
        if start is not None and end is not None and end <= start:
            self.problem(item.line_of("to"), f"{where} ends before it starts")
        name = item.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            self.problem(item.line_of("name"), f"{where}: name must be some text, not {show(name)}")
        if len(self.problems) > before or start is None or end is None:
            return None
        return Freeze(start, end, name if isinstance(name, str) else None)

    def _entry(self, where: str, item: Any, line: int, keys: tuple[str, ...], example: str) -> bool:
        """Whether `item` is a mapping (its unknown keys reported); else the problem, said."""
        if not isinstance(item, Map):
            self.problem(line, f"{where} must be a mapping like {example}")
            return False
        self.unknown_keys(item, keys, f"{where}: ", "key")
        return True

    def _clock(self, where: str, item: Map, key: str) -> int | None:
        value = item.get(key)
        found = parse_clock(value)
        if found is None:
            hint = (
                ' (quote it: "02:00"; YAML reads 2:00 as a number)'
                if isinstance(value, int)
                else ""
            )
            self.problem(
                item.line_of(key),
                f'{where}: {key} must be a time of day like "02:00", not '
                + (show(value) if key in item else "missing")
                + hint,
            )
        return found

    def _zone(self, where: str, item: Map) -> str | None:
        if "tz" not in item:
            self.problem(
                item.line, f"{where}: tz is missing: name the time zone, like Asia/Kolkata"
            )
            return None
        zone = parse_zone(item.get("tz"))
        if zone is None:
            self.problem(
                item.line_of("tz"),
                f"{where}: tz {show(item.get('tz'))} is not a time zone name like Asia/Kolkata "
                "or UTC",
            )
        return zone

    def _moment(self, where: str, item: Map, key: str, zone: ZoneInfo) -> float | None:
        """A date (its whole day: `from` its start, `to` its end) or a date and time."""
        value = item.get(key)
        if isinstance(value, str):
            value = _iso(value)
        if isinstance(value, datetime):
            moment = value if value.tzinfo is not None else value.replace(tzinfo=zone)
            return moment.timestamp()
        if isinstance(value, date):
            day = value + timedelta(days=1) if key == "to" else value
            return datetime.combine(day, time(0), tzinfo=zone).timestamp()
        self.problem(
            item.line_of(key),
            f"{where}: {key} must be a date like 2026-12-20 or a date and time like "
            "2026-12-20 18:00, not " + (show(value) if key in item else "missing"),
        )
        return None


def _iso(text: str) -> date | datetime | str:
    """ "2026-12-20" as a date, "2026-12-20 18:00[+05:30]" as a date and time (YAML reads
    neither without seconds); anything else as it was."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment.date() if len(text) == len("2026-12-20") else moment
