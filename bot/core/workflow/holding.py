"""Whether a request waits for its change window: at filing (`--at` checked, windows that
never open refused) and when an approval completes its quorum (run now, or held until when).
The sweep that runs held requests is scheduling.py's."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.models import Action, Request, Target
from bot.core.org import Org
from bot.core.scheduling import Wait, at_refusal, waits
from bot.core.text import visible
from bot.core.windows import common_open, parse_at
from bot.errors import InvalidRequest, NeverOpens


def wait_for(org: Org, request: Request, now: float) -> Wait | None:
    """What an approval completing the quorum at `now` does: None, run now; else a Wait.
    NeverOpens when none of its windows opens again. Break-glass never waits."""
    if request.break_glass:
        return None
    policy = org.policy
    schedules = policy.schedules_for(request.action, (t.target for t in request.targets))
    if not schedules and (request.run_after is None or request.run_after <= now):
        return None  # an org file without windows: exactly as before
    return waits(schedules, now, after=request.run_after, grace=policy.ttl_minutes * 60)


def asked_for(
    org: Org, action: Action, targets: Sequence[Target], at: str | None, now: float
) -> float | None:
    """At filing: the moment `--at` asks for (None: none asked), refused (InvalidRequest) in
    the past, past the policy's `schedule_within_hours`, or where no window of the request
    opens after it; a request whose windows never open again is refused too (NeverOpens)."""
    schedules = org.policy.schedules_for(action, targets)
    if schedules and common_open(schedules, now) is None:
        raise NeverOpens(
            f"none of the change windows {action.value} has in {org.name} opens again within "
            "a year, so this request could never run"
        )
    if at is None:
        return None
    moment = parse_at(at)
    if moment is None:
        raise InvalidRequest(
            f"--at {visible(at)} is not a time like 2026-12-08T02:00+05:30 (a date, a time and "
            "its offset from UTC, or Z)"
        )
    refused = at_refusal(moment, now, org.policy.schedule_within_hours, schedules, visible(at))
    if refused is not None:
        raise InvalidRequest(refused)
    return moment
