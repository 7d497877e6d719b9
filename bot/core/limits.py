"""Limits per person and per org (pure): at most so many targets (or requests) filed per
requester, or per org, within a sliding window ("20 targets unlinked per requester per hour").

Limits are not rules: a rule is chosen per target, first match wins; a limit bounds what one
person (or the whole org) asks for across requests, so every limit whose action matches holds
at once, whichever rules the targets fall under. Everything filed counts, whatever became of
it (pending, run, denied, cancelled, expired, broken glass): a limit bounds what is asked of
the approvers, and a denied fat finger or a stolen account's denied flood is still asking.
The store counts inside the filing's transaction (`LimitCheck.countings`; each window's
totals, then its requests only when over, for when it frees up), so two replicas filing at
once never both take the last slot.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from bot.core.models import Action
from bot.errors import OverLimit

__all__ = [
    "Counting",
    "Filed",
    "Limit",
    "LimitCheck",
    "Per",
    "Used",
    "duration_text",
    "needs_admin",
    "parse_duration",
]

_UNITS = {"m": 60, "h": 3600, "d": 86400}
_UNIT_WORDS = {86400: "day", 3600: "hour", 60: "minute"}


class Per(enum.StrEnum):
    REQUESTER = "requester"
    ORG = "org"


@dataclass(frozen=True)
class Limit:
    """One entry of a policy's `limits:`: at most `most` targets (or requests, `requests`)
    of `actions` (empty: every action) per `per` within `within` seconds."""

    index: int  # 1-based, in file order
    per: Per
    most: int
    within: int  # seconds
    requests: bool = False  # counts requests, not targets
    actions: frozenset[Action] = frozenset()
    name: str | None = None
    line: int = 0
    needs_admin: bool = False  # `over: needs_admin`: over it, filed, but an admin must approve

    @property
    def label(self) -> str:
        return f"limit {self.index}" + (f" '{self.name}'" if self.name else "")

    @property
    def noun(self) -> str:
        return "request" if self.requests else "target"

    def applies(self, action: Action) -> bool:
        return not self.actions or action in self.actions

    def text(self) -> str:
        """ "at most 20 targets unlinked per requester per hour"."""
        per = "per requester" if self.per is Per.REQUESTER else "in the org"
        actions = sorted(self.actions)
        if self.requests:
            kind = " or ".join(a.value for a in actions) + " " if actions else ""
            what = f"{self.most} {kind}request" + ("" if self.most == 1 else "s")
        else:
            done = _done(actions)
            what = f"{_n(self.most, 'target')} {done}"
        return f"at most {what} {per} per {duration_text(self.within)}"

    def describe(self) -> str:
        over = "; over it, an admin must approve too" if self.needs_admin else ""
        return f"{self.label}: {self.text()}{over}"

    def used(self, used: Used) -> int:
        return used.requests if self.requests else used.targets

    def weight(self, targets: int) -> int:
        """What a request of `targets` targets counts against this limit."""
        return 1 if self.requests else targets


_DONE = {Action.UNLINK: "unlinked", Action.DELETE: "deleted"}


def _done(actions: Sequence[Action]) -> str:
    """ "unlinked", "unlinked or deleted"; an action without its word: "in undo requests"."""
    if not actions:
        return "filed"
    if all(a in _DONE for a in actions):
        return " or ".join(_DONE[a] for a in actions)
    return "in " + " or ".join(a.value for a in actions) + " requests"


@dataclass(frozen=True)
class Filed:
    """An earlier request a limit counts: when it was filed, and how many targets it had."""

    at: float
    targets: int


@dataclass(frozen=True)
class Used:
    """What a limit's window holds already: how many requests, with how many targets."""

    requests: int
    targets: int


@dataclass(frozen=True)
class Counting:
    """One question to the store: the requests of `org` filed after `since` (by `requester`;
    None: by anyone), of `actions` (empty: any), with their targets."""

    limit: Limit
    requester: str | None
    actions: tuple[Action, ...]
    since: float


@dataclass(frozen=True)
class LimitCheck:
    """What filing asks the store to decide inside its transaction: whether a request of
    `targets` targets by `requester`, filed `now`, stays within every limit given."""

    limits: tuple[Limit, ...]
    requester: str
    targets: int
    now: float
    break_glass: bool = False  # nobody approves it: over any limit, refused

    def countings(self) -> list[Counting]:
        return [
            Counting(
                limit,
                self.requester if limit.per is Per.REQUESTER else None,
                tuple(sorted(limit.actions)),
                self.now - limit.within,
            )
            for limit in self.limits
        ]

    def judge(self, found: Sequence[Sequence[Filed]]) -> list[dict[str, object]]:
        """What the `requested` event records of each limit, given every request each limit
        counts (`record`); OverLimit for the first one this request would pass (`refuse`)."""
        recorded: list[dict[str, object]] = []
        for limit, filed in zip(self.limits, found, strict=True):
            entry = self.entry(limit, Used(len(filed), sum(f.targets for f in filed)))
            if entry is None:
                self.refuse(limit, filed)
            recorded.append(entry)
        return recorded

    def entry(self, limit: Limit, used: Used) -> dict[str, object] | None:
        """What the `requested` event records of `limit` with `used` in its window: within
        it, or over a limit an admin's approval lets through (marked `over`, with why);
        None: refused (the caller reads what the window holds, for when it frees up)."""
        if self.fits(limit, used):
            return self.record(limit, used)
        if not limit.needs_admin or self.break_glass:
            return None
        return self.record(limit, used) | {"over": True, "why": self.over_text(limit, used)}

    def over_text(self, limit: Limit, used: Used) -> str:
        """ "over limit 1 'bulk unlink' (at most 20 targets unlinked per requester per hour:
        18 used, this request 5): an admin must approve too"."""
        counted = f"{limit.used(used)} used, this request {limit.weight(self.targets)}"
        return f"over {limit.label} ({limit.text()}: {counted}): an admin must approve too"

    def fits(self, limit: Limit, used: Used) -> bool:
        """Whether this request still fits `limit`, with `used` filed in its window."""
        return limit.used(used) + limit.weight(self.targets) <= limit.most

    def record(self, limit: Limit, used: Used) -> dict[str, object]:
        """What the `requested` event records of a limit it fits: used before it, its own
        count, the most."""
        entry: dict[str, object] = {"index": limit.index, "name": limit.name}
        entry |= {"used": limit.used(used), "asked": limit.weight(self.targets)}
        return entry | {"most": limit.most, "per": limit.per.value, "within": limit.within}

    def refuse(self, limit: Limit, filed: Sequence[Filed]) -> NoReturn:
        """OverLimit for `limit`, given every request it counts: when it frees up."""
        used = sum(limit.weight(f.targets) for f in filed)
        asked = limit.weight(self.targets)
        free = frees_at(limit, filed, asked)
        raise OverLimit(self.refusal(limit, used, asked, free), free, self.now)

    def refusal(self, limit: Limit, used: int, asked: int, free: float | None) -> str:
        head = f"{limit.label}: {limit.text()}; {used} used"
        if limit.needs_admin:  # refused only because nobody approves a break-glass request
            return (
                f"{head}, this request is {asked}; over it, an admin must approve: file it "
                "without `--break-glass`. Nothing was filed."
            )
        if free is None:
            return (
                f"{head}. This request alone is {_n(asked, limit.noun)}, more than the limit "
                "allows: split it, or ask an admin to raise the limit. Nothing was filed."
            )
        return (
            f"{head}, this request is {asked}; frees at {clock_text(free, self.now)}. "
            "Nothing was filed."
        )


def needs_admin(recorded: Sequence[Mapping[str, object]]) -> str | None:
    """Why an admin must approve a request, from what its `requested` event records of the
    limits (None: it is within every one)."""
    whys = [str(e["why"]) for e in recorded if e.get("over")]
    return "; ".join(whys) or None


def frees_at(limit: Limit, filed: Sequence[Filed], asked: int) -> float | None:
    """When enough of `filed` has left the window for `asked` more to fit (None: never,
    the request alone is over the limit)."""
    if asked > limit.most:
        return None
    over = sum(limit.weight(f.targets) for f in filed) + asked - limit.most
    for entry in sorted(filed, key=lambda f: f.at):
        over -= limit.weight(entry.targets)
        if over <= 0:
            return entry.at + limit.within
    return None


def clock_text(at: float, now: float) -> str:
    """ "14:05 UTC" (rounded up to the minute, so asking then succeeds), with the date when
    it is not today's."""
    shown = math.ceil(at / 60) * 60
    same_day = time.gmtime(shown)[:3] == time.gmtime(now)[:3]
    return time.strftime("%H:%M UTC" if same_day else "%Y-%m-%d %H:%M UTC", time.gmtime(shown))


def parse_duration(text: object) -> int | None:
    """ "30m", "1h", "1d" in seconds; None when it is not one."""
    if not isinstance(text, str) or len(text) < 2 or text[-1] not in _UNITS:
        return None
    count = text[:-1]
    if not count.isdigit() or not count.isascii() or int(count) < 1:
        return None
    return int(count) * _UNITS[text[-1]]


def duration_text(seconds: int) -> str:
    """ "hour", "24 hours", "30 minutes": the window in words, after "per"."""
    for size, word in _UNIT_WORDS.items():
        if seconds % size == 0:
            count = seconds // size
            return word if count == 1 else _n(count, word)
    return _n(seconds, "second")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
