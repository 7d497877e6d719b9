"""When an approved request runs (pure): now, or later because of its change windows, a
freeze, or the time its requester asked for (`--at`). The windows of the action's policy and
of every rule that selected a target all apply (a request runs only where all allow);
break-glass ignores them all. What the card and the requester are told comes from here too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.models import Action
from bot.core.policy import RuleDecision
from bot.core.windows import Schedule, Span, common_open, runs_at_text
from bot.errors import NeverOpens

__all__ = ["NeverOpens", "Wait", "at_refusal", "schedules_of", "waits"]


@dataclass(frozen=True)
class Wait:
    """An approved request that may not run yet: it runs at `run_at` and expires if it has
    not run by `run_until`; `why` names what it waits for, `zone` how its time is shown."""

    run_at: float
    run_until: float
    why: str
    zone: str = "UTC"

    def text(self, now: float) -> str:
        """ "runs at 02:00 IST (window mon-fri 02:00-05:00 Asia/Kolkata)"."""
        return f"runs at {runs_at_text(self.run_at, self.zone, now)} ({self.why})"


def schedules_of(
    own: Schedule, decision: RuleDecision | None, action: Action
) -> tuple[Schedule, ...]:
    """The schedules a request answers to: its action's, and each selecting rule's (an undo
    takes back what ran, so it is never held)."""
    if action is Action.UNDO:
        return ()
    rules = decision.rules if decision is not None else ()
    return tuple(s for s in (own, *(r.schedule for r in rules)) if not s.always)


def waits(
    schedules: Sequence[Schedule], now: float, *, after: float | None, grace: float
) -> Wait | None:
    """What an approval given at `now` does: None, it runs now; else a Wait (NeverOpens when
    no stretch opens within the horizon). `after`: the --at asked for; `grace`: how long a
    request whose open stretch has no end (no windows: a freeze or --at) may wait once due."""
    start = max(now, after or now)
    span = common_open(schedules, start) if schedules else Span(start, math.inf)
    if span is None:
        raise NeverOpens("none of its change windows opens again within a year")
    if span.start <= now:
        return None
    until = span.end if math.isfinite(span.end) else span.start + grace
    why, zone = _why(schedules, span.start, after)
    return Wait(span.start, until, why, zone)


def at_refusal(
    at: float, now: float, within_hours: int, schedules: Sequence[Schedule], text: str
) -> str | None:
    """Why `--at` (as the requester wrote it, `text`) is refused, or None."""
    if at <= now:
        return f"--at {text} is in the past; give a time to come, like 2026-12-08T02:00+05:30"
    if at > now + within_hours * 3600:
        return (
            f"--at {text} is more than {within_hours} hours ahead, as far as this org's policy "
            "lets a request wait (schedule_within_hours); file it nearer the time"
        )
    if schedules and common_open(schedules, at) is None:
        return f"no change window of this request opens at or after {text}, so it could never run"
    return None


def _why(schedules: Sequence[Schedule], at: float, after: float | None) -> tuple[str, str]:
    """What a request waiting until `at` waits for, and the zone its time is best shown in."""
    windows = [w for s in schedules for w in s.windows]
    zone = windows[0].zone if windows else "UTC"
    for schedule in schedules:
        for freeze in schedule.freezes:
            if freeze.end == at:
                return "after the freeze" + (f" '{freeze.name}'" if freeze.name else ""), zone
    if after is not None and at == after:
        return "the time asked for", zone
    day = datetime.fromtimestamp(at, UTC).date()
    for window in windows:
        if any(s.start <= at < s.end for s in window.spans(day - timedelta(days=2), day)):
            return f"window {window.text()}", window.zone
    return "its change window", zone
