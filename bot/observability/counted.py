"""Warnings a stranger can provoke at will, logged without letting them flood the log: the
first of a quiet spell at once, the rest counted by reason and logged as one line an interval."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

__all__ = ["CountedWarnings"]


class CountedWarnings:
    """`one` is logged for the first of a spell ("… (reason); more are counted for N s");
    `many` (with a %d for the count) for the summary line. Never more than the reason."""

    def __init__(self, log: logging.Logger, one: str, many: str, interval: float) -> None:
        self.log = log
        self.one = one
        self.many = many
        self.interval = interval
        self.counts: Counter[str] = Counter()
        self.total = 0
        self._timer: asyncio.TimerHandle | None = None

    def note(self, reason: str) -> None:
        self.total += 1
        if self._timer is None:
            self.log.warning("%s (%s); more are counted for %g s", self.one, reason, self.interval)
            self._arm()
        else:
            self.counts[reason] += 1

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.interval, self.flush)

    def flush(self) -> None:
        """Logs what was counted since the last line; keeps counting while the spell goes on."""
        self._timer = None
        if not self.counts:
            return
        reasons = ", ".join(f"{reason}: {n}" for reason, n in self.counts.most_common())
        self.log.warning(
            self.many + " in the last %g s (%s)",
            sum(self.counts.values()),
            self.interval,
            reasons,
        )
        self.counts.clear()
        self._arm()

    def close(self) -> None:
        """Logs what is still counted and stops the timer (on shutdown)."""
        if self.counts:
            self.flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
