"""Admission of slash commands under overload: answer in time, and honestly.

Slack shows its user an error when a command is not answered within 3 s, and the user then
cannot tell whether the request was filed. So a command the bot cannot answer within its
budget (`SFVOPI_COMMAND_BUDGET_SECONDS`) is refused with `Busy` ("nothing was filed, try
again"), at one of two points, both before anything is written:

- the gate, when the handler starts: the time already spent since the command reached the
  door plus (commands in hand + 1) times the moving estimate of what one costs would overrun;
- the late guard (`check`, the workflow's `Admission` port), right before a new request
  is written: the time since arrival has overrun already. The write itself, once begun,
  is never abandoned;
- the store, when the write would wait for another process's lock on the database past the
  budget (bot/core/deadline.py): it gives up the wait, having written nothing.

A command answered "filed" is filed; one answered "busy" left nothing in the store.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from bot.core import deadline
from bot.errors import Busy

BUDGET = 2.0  # seconds: Slack's 3 s less a margin for the ack to be written and travel
# seconds one command is assumed to cost before any has been measured: what one costs in a
# burst on the reference machine (benchmarks/README.md, scenario 7). Too high, a cold bot
# refuses a burst it could have served; too low, the late guard still refuses in time.
PRIOR = 0.003
WEIGHT = 0.2  # of each new measurement in the moving estimate
WINDOW = 32  # overlapping commands' ends the estimate averages over
MESSAGE = (
    "the bot has too many commands in hand to answer this one in time, so it did nothing: "
    "nothing was filed or changed. Try again in a moment."
)


@dataclass(frozen=True)
class Arrival:
    door: str  # http or socket_mode
    at: float  # time.perf_counter() when the request reached the door


_arrival: ContextVar[Arrival | None] = ContextVar("sfvopi_arrival", default=None)
_guarded: ContextVar[Arrival | None] = ContextVar("sfvopi_guarded", default=None)


@contextlib.contextmanager
def arrived(door: str, at: float) -> Iterator[None]:
    """Marks the Slack request being dispatched: which door, and when it got there."""
    token = _arrival.set(Arrival(door, at))
    try:
        yield
    finally:
        _arrival.reset(token)


def door() -> str:
    """The door of the request being answered ("none" outside one, e.g. a direct call)."""
    arrival = _arrival.get()
    return arrival.door if arrival is not None else "none"


class Admission:
    """Commands in hand and a moving estimate of one's cost; refuses what cannot be on time."""

    def __init__(
        self, budget: float = BUDGET, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.budget = budget
        self.clock = clock
        self.in_hand = 0
        self.estimate = PRIOR
        self._ends: collections.deque[float] = collections.deque(maxlen=WINDOW)

    @contextlib.contextmanager
    def admitted(self) -> Iterator[None]:
        """Runs one command's handler, or raises Busy at once when it cannot be answered in
        time; within it, `check` refuses a filing that would come too late."""
        arrival = _arrival.get() or Arrival("none", self.clock())
        now = self.clock()
        waited = now - arrival.at
        # with nothing in hand, always try: a stale estimate must not lock everyone out
        if self.in_hand and waited + (self.in_hand + 1) * self.estimate > self.budget:
            raise Busy(MESSAGE, "gate")
        self.in_hand += 1
        token = _guarded.set(arrival)
        try:
            with deadline.until(time.perf_counter() + self.budget - waited):
                yield
        finally:
            self.in_hand -= 1
            self._measured(now)
            # a command dropped unfinished (its task destroyed at shutdown) is closed by the
            # garbage collector in another context, where its token cannot be reset
            with contextlib.suppress(ValueError):
                _guarded.reset(token)

    def _measured(self, started: float) -> None:
        """One command done. Alone, its cost is its own duration. Overlapping others, it is
        what the loop spent per command: the mean time between the last WINDOW ends (a mean,
        not the last gap: in a burst, ends come in clumps, and one long gap between clumps made
        a cold bot refuse a third of a burst it could serve)."""
        done = self.clock()
        if self._ends and self._ends[-1] < started:
            self._ends.clear()  # nothing ended while this one ran: a new stretch begins
        overlapped = self.in_hand > 0 or bool(self._ends)
        self._ends.append(done)
        if not overlapped:
            self.estimate += WEIGHT * (max(done - started, 0.0) - self.estimate)
        elif len(self._ends) > 1:
            self.estimate = (self._ends[-1] - self._ends[0]) / (len(self._ends) - 1)

    def check(self) -> None:
        """The late guard (core.ports.Admission, asked by the workflow): refuses a filing that
        starts after the budget is spent. Outside a command handler (the HTTP API, sweeps,
        follow-up work) it does nothing."""
        arrival = _guarded.get()
        if arrival is not None and self.clock() - arrival.at > self.budget:
            raise Busy(MESSAGE, "late")
