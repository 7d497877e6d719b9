"""Approvals required from named teams ("1 from S0NETOPS and 1 from S0SECURITY"), as a policy
rule's `requires:` says; one person's approval fills one requirement only, so someone in both
teams cannot stand for both. Whether the approvals given fill them all is a matching of people
to requirements (pure; small: a request's approvers). A rule may put its requirements in order
(`requires_in_order`): then each is a stage, filled only once the stages before it are."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.roles import Groups, Role

__all__ = [
    "Admits",
    "Requirement",
    "admitted",
    "assign",
    "assign_in_order",
    "out_of_turn",
    "waiting",
    "who_text",
]

Admits = Callable[["Requirement", str], bool]


@dataclass(frozen=True)
class Requirement:
    """`approvals` distinct people, each holding `approver_role` or higher or in one of
    `approver_groups`."""

    approvals: int
    approver_role: Role | None = None
    approver_groups: tuple[str, ...] = ()

    @property
    def who(self) -> tuple[Role | None, tuple[str, ...]]:
        return self.approver_role, self.approver_groups

    def admits(self, user: str, role: Role | None, groups: Groups | None) -> bool:
        return admitted(self.approver_role, self.approver_groups, user, role, groups)

    def text(self) -> str:
        """ "1 from members of S0NETOPS"."""
        return f"{self.approvals} from {who_text(self.approver_role, self.approver_groups)}"


def admitted(
    least: Role | None, named: Sequence[str], user: str, role: Role | None, groups: Groups | None
) -> bool:
    """Whether `user` (holding `role`) holds `least` or higher, or is in one of `named`."""
    if least is not None and role is not None and role >= least:
        return True
    return any(user in (groups or {}).get(g, ()) for g in named)


def who_text(least: Role | None, named: Sequence[str]) -> str:
    """ "admins or members of S0NETOPS"."""
    who = [f"{least.label}s"] if least is not None else []
    who += [f"members of {g}" for g in named]
    return " or ".join(who)


def assign(
    requirements: Sequence[Requirement], people: Sequence[str], admits: Admits
) -> list[list[str]]:
    """Who fills each requirement, each person at most one slot, filling as many slots as
    can be (augmenting paths; people in the order they approved, so the result is stable)."""
    slots = [i for i, r in enumerate(requirements) for _ in range(r.approvals)]
    held: dict[int, str] = {}  # slot -> person

    def place(person: str, seen: set[int]) -> bool:
        for slot, index in enumerate(slots):
            if slot in seen or not admits(requirements[index], person):
                continue
            seen.add(slot)
            if slot not in held or place(held[slot], seen):
                held[slot] = person
                return True
        return False

    for person in dict.fromkeys(people):
        place(person, set())
    filled: list[list[str]] = [[] for _ in requirements]
    for slot in sorted(held):
        filled[slots[slot]].append(held[slot])
    return filled


def assign_in_order(
    stages: Sequence[Requirement], people: Sequence[str], admits: Admits
) -> list[list[str]]:
    """Who fills each stage: stage by stage, from those not placed yet in the order they
    approved; a stage counts nobody until every stage before it is filled."""
    filled: list[list[str]] = [[] for _ in stages]
    placed: set[str] = set()
    for index, need in enumerate(stages):
        for person in dict.fromkeys(people):
            if len(filled[index]) >= need.approvals:
                break
            if person not in placed and admits(need, person):
                filled[index].append(person)
                placed.add(person)
        if len(filled[index]) < need.approvals:
            break
    return filled


def waiting(filled: Sequence[tuple[Requirement, Sequence[str]]]) -> int | None:
    """The index of the first requirement not filled yet (None: all are)."""
    return next((i for i, (n, who) in enumerate(filled) if len(who) < n.approvals), None)


def out_of_turn(
    filled: Sequence[tuple[Requirement, Sequence[str]]],
    admits: Callable[[Requirement], bool],
    *,
    free: bool,
) -> str | None:
    """Why someone may not approve yet, stages in order (None: they may): the stage that
    waits does not admit them, and a later one does, or no approval beyond the stages is
    asked (`free`) for them to give instead."""
    index = waiting(filled)
    if index is None:
        return None
    need, who = filled[index]
    if admits(need) or (free and not any(admits(n) for n, _ in filled[index + 1 :])):
        return None
    return (
        f"{who_text(need.approver_role, need.approver_groups)} approve first (stage "
        f"{index + 1} of {len(filled)}): {len(who)} of {need.approvals} so far"
    )
