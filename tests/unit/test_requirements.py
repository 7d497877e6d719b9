"""Requirements in order, as data: each a stage filled only once those before it are, one
person one stage; who is refused at the click and told which stage waits; a request without
`requires_in_order` keeps matching people to requirements in any order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.models import Action, Target
from bot.core.policy import Rule, decide
from bot.core.requirements import Requirement, assign_in_order, out_of_turn
from bot.core.roles import Role

NET = Requirement(1, None, ("S0NETOPS",))
SEC = Requirement(1, None, ("S0SEC",))
MEMBERS = {
    "S0NETOPS": frozenset({"U0NORA", "U0NICK", "U0BOTH"}),
    "S0SEC": frozenset({"U0SAM", "U0BOTH"}),
}
STAGED = Rule(index=1, name="core", apps=("*",), requires=(NET, SEC), in_order=True)
ANY_ORDER = Rule(index=1, name="core", apps=("*",), requires=(NET, SEC))


def admits(need: Requirement, user: str) -> bool:
    return need.admits(user, Role.APPROVER, MEMBERS)


def approver(user: str) -> Role | None:
    return Role.APPROVER


@pytest.mark.parametrize(
    ("approvers", "filled"),
    [
        ([], [[], []]),
        (["U0NORA"], [["U0NORA"], []]),
        (["U0NORA", "U0SAM"], [["U0NORA"], ["U0SAM"]]),
        # security's approval waits for netops's (a reload put it there early)
        (["U0SAM"], [[], []]),
        (["U0SAM", "U0NORA"], [["U0NORA"], ["U0SAM"]]),
        # in both teams, approving while netops waits: fills netops, never both
        (["U0BOTH"], [["U0BOTH"], []]),
        (["U0BOTH", "U0NORA"], [["U0BOTH"], []]),
        (["U0BOTH", "U0SAM"], [["U0BOTH"], ["U0SAM"]]),
        (["U0NORA", "U0BOTH"], [["U0NORA"], ["U0BOTH"]]),
    ],
)
def test_a_stage_counts_once_the_stages_before_it_are_filled(
    approvers: list[str], filled: list[list[str]]
) -> None:
    assert assign_in_order((NET, SEC), approvers, admits) == filled
    ruled = decide((STAGED,), Action.DELETE, [Target("sfv_app_core1")], approvals=1)
    assert ruled.met(approvers, approver, MEMBERS) is all(filled)


def test_in_any_order_the_same_approvals_are_matched_instead() -> None:
    ruled = decide((ANY_ORDER,), Action.DELETE, [Target("sfv_app_core1")], approvals=1)
    assert not ruled.in_order
    assert ruled.met(["U0BOTH", "U0NORA"], approver, MEMBERS)
    assert ruled.met(["U0SAM", "U0NORA"], approver, MEMBERS)
    assert ruled.summary() == (
        "rule 1 'core' — 2 approvals: 1 from members of S0NETOPS and 1 from members of S0SEC"
    )


def test_the_summary_says_then() -> None:
    ruled = decide((STAGED,), Action.DELETE, [Target("sfv_app_core1")], approvals=1)
    assert ruled.in_order
    assert ruled.summary() == (
        "rule 1 'core' — 2 approvals: 1 from members of S0NETOPS then 1 from members of S0SEC"
    )
    assert (
        STAGED.effect(1) == "2 approvals: 1 from members of S0NETOPS then 1 from members of S0SEC"
    )


@pytest.mark.parametrize(
    ("given", "user", "free", "refused"),
    [
        ([], "U0NORA", False, None),
        ([], "U0BOTH", False, None),  # the waiting stage admits her
        ([], "U0SAM", False, "members of S0NETOPS approve first (stage 1 of 2): 0 of 1 so far"),
        ([], "U0SAM", True, "members of S0NETOPS approve first (stage 1 of 2): 0 of 1 so far"),
        (["U0NORA"], "U0SAM", False, None),
        # netops is filled: another netops approval could fill nothing
        (
            ["U0NORA"],
            "U0NICK",
            False,
            "members of S0SEC approve first (stage 2 of 2): 0 of 1 so far",
        ),
        (["U0NORA"], "U0NICK", True, None),  # ... unless approvals beyond the stages are asked
        (["U0NORA", "U0SAM"], "U0NICK", False, None),  # every stage filled: order says nothing
    ],
)
def test_who_is_out_of_turn(given: list[str], user: str, free: bool, refused: str | None) -> None:
    ruled = decide((STAGED,), Action.DELETE, [Target("sfv_app_core1")], approvals=1)
    filled = ruled.filled(given, approver, MEMBERS)
    assert out_of_turn(filled, lambda need: admits(need, user), free=free) == refused


def test_an_admin_asked_over_a_limit_is_the_last_stage() -> None:
    admin = Requirement(1, Role.ADMIN)
    ruled = decide((STAGED,), Action.DELETE, [Target("sfv_app_core1")], approvals=1)
    over = replace(ruled, extra=((admin, "over limit 1: an admin must approve too"),))
    assert over.requirements() == (NET, SEC, admin)

    def role_of(user: str) -> Role | None:
        return Role.ADMIN if user == "U0ADM" else Role.APPROVER

    assert [w for _, w in over.filled(["U0ADM", "U0NORA", "U0SAM"], role_of, MEMBERS)] == [
        ["U0NORA"],
        ["U0SAM"],
        ["U0ADM"],
    ]
