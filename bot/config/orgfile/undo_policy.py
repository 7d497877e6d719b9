"""`policy: undo: {approvals: N, window_hours: H}`: how long after a request ran it may be
undone (its approvals are read as every action's are, in policy.py)."""

from __future__ import annotations

from collections.abc import Iterator

from bot.config.orgfile.problems import Checks
from bot.config.orgfile.yaml_lines import Map
from bot.core.models import Action
from bot.core.org import DEFAULT_UNDO_WINDOW_HOURS, MOST_HOURS_AHEAD

__all__ = ["UNDO_KEYS", "undo_window", "written"]

UNDO_KEYS = ("window_hours",)
"""What `policy: undo:` takes beyond every action's keys."""


def undo_window(checks: Checks, where: str, policy: Map) -> int:
    """The hours an Undo is offered for after a request ran (default 24)."""
    raw = policy.get(Action.UNDO.value)
    if not isinstance(raw, Map):  # absent, or a mistake action_approvals reports
        return DEFAULT_UNDO_WINDOW_HOURS
    return checks.whole_number(
        where,
        raw,
        "window_hours",
        "policy undo window_hours",
        DEFAULT_UNDO_WINDOW_HOURS,
        MOST_HOURS_AHEAD,
    )


def written(policy: object) -> Iterator[Action]:
    """The actions whose policy is checked on its own: unlink and delete always; undo only
    where `policy: undo:` is written (else it takes the policy's values, checked already)."""
    for action in Action:
        if action is not Action.UNDO or (isinstance(policy, Map) and action.value in policy):
            yield action
