"""Policy rules by target and size, as data: which rule each target falls under (first match
wins), and what a request needs as a whole (the strictest of its targets' rules)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.models import Action, Target
from bot.core.policy import Rule, decide, glob_within
from bot.core.requirements import Requirement
from bot.core.roles import Role

PROD = Rule(
    index=1, name="prod apps", apps=("sfv_app_prod*",), approvals=2, approver_role=Role.ADMIN
)
HOTLINE = Rule(index=2, name="hotlines", numbers=("+9118*",), deny="hotlines stay: open a change")
BULK = Rule(index=3, actions=frozenset({Action.DELETE}), min_targets=3, approvals=3)
DEV = Rule(index=4, name="dev", apps=("sfv_app_dev*",), approvals=1)
RULES = (PROD, HOTLINE, BULK, DEV)


def app(name: str) -> Target:
    return Target(f"sfv_app_{name}")


def unlink(number: str, on: str = "sfv_app_dev1") -> Target:
    return Target(on, number)


def test_without_rules_the_action_policy_decides_as_before() -> None:
    ruled = decide((), Action.DELETE, [app("a"), app("b")], approvals=2)
    assert ruled.approvals == 2
    assert ruled.rules == ()
    assert ruled.refusal() is None
    assert ruled.forbids_break_glass is None
    assert ruled.admits("U0ANY", Role.APPROVER, {})
    assert not ruled.ruled
    assert ruled.summary() == "the delete policy (no rule selects it) — 2 approvals"


def test_first_match_wins_target_by_target() -> None:
    ruled = decide(RULES, Action.DELETE, [app("prod1"), app("dev1"), app("other")], approvals=2)
    assert [a.rule for a in ruled.applied] == [PROD, BULK, BULK]
    ruled = decide(RULES, Action.DELETE, [app("prod1"), app("dev1")], approvals=2)
    assert [a.rule for a in ruled.applied] == [PROD, DEV]


@pytest.mark.parametrize(
    ("targets", "approvals", "who"),
    [
        ([app("dev1")], 1, None),  # a rule may ask fewer than the action's policy
        ([app("dev1"), app("x")], 2, None),  # a target no rule selects keeps the policy's 2
        ([app("dev1"), app("prod1")], 2, Role.ADMIN),  # bundled: the protected app still rules
        ([app("dev1"), app("prod1"), app("x")], 3, Role.ADMIN),  # and the bulk rule adds 3
    ],
)
def test_a_request_needs_the_strictest_of_its_targets_rules(
    targets: list[Target], approvals: int, who: Role | None
) -> None:
    ruled = decide(RULES, Action.DELETE, targets, approvals=2)
    assert ruled.approvals == approvals
    assert ruled.admits("U0BOB", Role.APPROVER, {}) is (who is None)
    assert ruled.admits("U0DAVE", Role.ADMIN, {})


def test_a_deny_refuses_the_whole_request_in_its_own_words() -> None:
    ruled = decide(
        RULES, Action.UNLINK, [unlink("+918000000001"), unlink("+911800000002")], approvals=1
    )
    assert ruled.denied == HOTLINE
    assert ruled.refusal() == (
        "hotlines stay: open a change (rule 2 'hotlines', for +911800000002 on sfv_app_dev1)"
    )
    assert "refused: hotlines stay" in ruled.summary()


def test_numbers_select_only_unlink_targets() -> None:
    rule = Rule(index=1, numbers=("*",), deny="no")
    assert decide((rule,), Action.DELETE, [app("a")], approvals=1).denied is None
    assert decide((rule,), Action.UNLINK, [unlink("+918000000001")], approvals=1).denied == rule


@pytest.mark.parametrize(("count", "selected"), [(1, False), (2, True), (4, True), (5, False)])
def test_target_count_bounds(count: int, selected: bool) -> None:
    rule = Rule(index=1, min_targets=2, max_targets=4, approvals=5)
    ruled = decide((rule,), Action.DELETE, [app(f"a{i}") for i in range(count)], approvals=1)
    assert ruled.approvals == (5 if selected else 1)


def test_linked_numbers_bound_a_rule_only_when_known() -> None:
    big = Rule(
        index=1, name="big", actions=frozenset({Action.DELETE}), min_linked_numbers=50, approvals=3
    )
    rules = (big, Rule(index=2, apps=("*",), approvals=2))
    unknown = decide(rules, Action.DELETE, [app("a")], approvals=1)
    assert (unknown.approvals, unknown.skipped) == (2, (big,))
    assert "rule 1 'big' was passed over" in unknown.reasons()[-1]
    known = decide(rules, Action.DELETE, [app("a")], approvals=1, linked=60)
    assert (known.approvals, known.skipped, known.rules) == (3, (), (big,))
    few = decide(rules, Action.DELETE, [app("a")], approvals=1, linked=3)
    assert (few.approvals, few.skipped) == (2, ())


def test_approvers_by_role_and_group_and_every_rule_must_admit() -> None:
    net = Rule(index=1, apps=("sfv_app_net*",), approver_groups=("S0NETOPS",), approvals=1)
    sec = Rule(
        index=2, apps=("sfv_app_sec*",), approver_groups=("S0SEC",), approver_role=Role.ADMIN
    )
    groups = {"S0NETOPS": frozenset({"U0NET", "U0BOTH"}), "S0SEC": frozenset({"U0BOTH"})}
    one = decide((net, sec), Action.DELETE, [app("net1")], approvals=1)
    assert one.admits("U0NET", Role.APPROVER, groups)
    assert not one.admits("U0BOB", Role.ADMIN, groups)
    both = decide((net, sec), Action.DELETE, [app("net1"), app("sec1")], approvals=1)
    assert both.groups() == ("S0NETOPS", "S0SEC")
    assert both.admits("U0BOTH", Role.APPROVER, groups)
    assert not both.admits("U0NET", Role.APPROVER, groups)
    assert not both.admits("U0DAVE", Role.ADMIN, groups)  # an admin, but not in S0NETOPS
    assert both.summary() == (
        "rules 1, 2 — 1 approval from members of S0NETOPS and admins or members of S0SEC"
    )


def test_break_glass_forbidden_by_any_rule() -> None:
    closed = Rule(index=1, apps=("sfv_app_prod*",), break_glass=False)
    ruled = decide((closed,), Action.DELETE, [app("x"), app("prod1")], approvals=1)
    assert ruled.forbids_break_glass == closed
    assert ruled.approvals == 1
    assert decide((closed,), Action.DELETE, [app("x")], approvals=1).forbids_break_glass is None


def test_what_the_requested_event_records() -> None:
    ruled = decide(RULES, Action.DELETE, [app("prod1")], approvals=1)
    assert ruled.detail() == {
        "rules": [{"index": 1, "name": "prod apps"}],
        "approvals": 2,
        "why": "rule 1 'prod apps' — 2 approvals from admins",
    }


def test_reasons_name_each_target_and_its_rule() -> None:
    ruled = decide(RULES, Action.DELETE, [app("prod1"), app("x")], approvals=2)
    assert ruled.reasons() == [
        "sfv_app_prod1: rule 1 'prod apps' (app matches 'sfv_app_prod*'): 2 approvals from admins",
        "sfv_app_x: no rule selects it, so the delete policy applies (2 approvals)",
    ]


def test_rule_described_in_one_line() -> None:
    assert BULK.describe() == "rule 3: delete; at least 3 targets → 3 approvals"
    assert HOTLINE.describe() == (
        "rule 2 'hotlines': numbers '+9118*' → refused: \"hotlines stay: open a change\""
    )


@pytest.mark.parametrize(
    ("inner", "outer", "within"),
    [
        ("sfv_app_prod1", "sfv_app_prod*", True),
        ("sfv_app_prod_*", "sfv_app_prod*", True),
        ("sfv_app_prod*", "sfv_app_prod_*", False),
        ("anything*", "*", True),
        ("+9118*", "+91*", True),
        ("*1", "*1", True),
        ("a?1", "*1", True),
        ("[ab]1", "*1", False),  # unsure (a class): not claimed
        ("a[1]", "*]", False),  # unsure (a class): not claimed
        ("sfv_app_a", "sfv_app_b", False),
        ("sfv_app_?", "sfv_app_a*", False),
    ],
)
def test_glob_within(inner: str, outer: str, within: bool) -> None:
    assert glob_within(inner, outer) is within


# -- approvals from named teams, one person each -------------------------------------------

NET = Requirement(1, None, ("S0NETOPS",))
SEC = Requirement(1, None, ("S0SEC",))
TEAMS = Rule(index=1, name="core", apps=("sfv_app_core*",), requires=(NET, SEC))
MEMBERS = {
    "S0NETOPS": frozenset({"U0NORA", "U0BOTH"}),
    "S0SEC": frozenset({"U0SAM", "U0BOTH"}),
}


def approver(user: str) -> Role | None:
    return Role.APPROVER


@pytest.mark.parametrize(
    ("approvers", "met"),
    [
        (["U0NORA", "U0SAM"], True),
        (["U0BOTH"], False),  # in both teams, but one person fills one requirement
        (["U0BOTH", "U0NORA"], True),  # Both moves to security so Nora fills netops
        (["U0NORA", "U0NORA2"], False),
        (["U0BOTH", "U0SAM"], True),
    ],
)
def test_one_person_fills_one_requirement(approvers: list[str], met: bool) -> None:
    ruled = decide((TEAMS,), Action.DELETE, [app("core1")], approvals=5)
    assert ruled.approvals == 2  # the requirements' sum, not the action's 5
    assert ruled.met(approvers, approver, MEMBERS) is met


def test_who_filled_which_requirement() -> None:
    ruled = decide((TEAMS,), Action.DELETE, [app("core1")], approvals=1)
    assert ruled.filled(["U0BOTH", "U0NORA"], approver, MEMBERS) == [
        (NET, ["U0NORA"]),
        (SEC, ["U0BOTH"]),
    ]
    assert ruled.filled(["U0SAM"], approver, MEMBERS) == [(NET, []), (SEC, ["U0SAM"])]


def test_someone_in_no_required_team_cannot_approve_when_every_approval_is_a_team_s() -> None:
    ruled = decide((TEAMS,), Action.DELETE, [app("core1")], approvals=1)
    assert ruled.admits("U0NORA", Role.APPROVER, MEMBERS)
    assert not ruled.admits("U0BOB", Role.ADMIN, MEMBERS)
    roomy = Rule(index=1, apps=("*",), approvals=3, requires=(NET, SEC))
    assert decide((roomy,), Action.DELETE, [app("x")], approvals=1).admits(
        "U0BOB", Role.APPROVER, MEMBERS
    )  # a third approval may come from anyone


def test_requirements_of_several_rules_merge() -> None:
    """Two targets under two rules asking the same team: that team once, the larger count;
    another team's requirement is added."""
    other = Rule(index=2, apps=("sfv_app_edge*",), requires=(Requirement(2, None, ("S0NETOPS",)),))
    ruled = decide((TEAMS, other), Action.DELETE, [app("core1"), app("edge1")], approvals=1)
    assert ruled.requirements() == (Requirement(2, None, ("S0NETOPS",)), SEC)
    assert ruled.groups() == ("S0NETOPS", "S0SEC")
    assert ruled.summary() == (
        "rules 1 'core', 2 — 3 approvals: 2 from members of S0NETOPS and 1 from members of S0SEC"
    )
    assert not ruled.met(["U0NORA", "U0SAM"], approver, MEMBERS)
    assert ruled.met(["U0SAM", "U0BOTH", "U0NORA"], approver, MEMBERS)


ADMIN = Requirement(1, Role.ADMIN)
OVER = "over limit 1 (…): an admin must approve too"


def role_of(user: str) -> Role | None:
    return Role.ADMIN if user.startswith("U0ADM") else Role.APPROVER


@pytest.mark.parametrize(
    ("approvers", "met"),
    [
        (["U0BOB", "U0CAROL"], False),  # two approvals, but no admin
        (["U0BOB", "U0ADMIN"], True),
        (["U0ADMIN"], False),  # the admin's approval is one more, not instead
    ],
)
def test_an_admin_asked_over_a_limit_is_one_approval_more(approvers: list[str], met: bool) -> None:
    """A request over a `needs_admin` limit: the action's approvals plus one, an admin's."""
    plain = decide((), Action.UNLINK, [unlink("+918000000001")], approvals=1)
    ruled = replace(plain, extra=((ADMIN, OVER),))
    assert ruled.approvals == 2 and ruled.requirements() == (ADMIN,)
    assert ruled.admits("U0BOB", Role.APPROVER, {})  # the other approval: anyone's
    enough = len(approvers) >= ruled.approvals and ruled.met(approvers, role_of, {})
    assert enough is met
    assert ruled.summary() == (
        f"the unlink policy (no rule selects it) — 2 approvals: 1 from admins; {OVER}"
    )
    assert ruled.reasons()[-1] == OVER


def test_an_admin_asked_is_never_merged_with_a_rule_s_admins() -> None:
    """A rule asking an admin already: the one over the limit is a second admin."""
    rule = Rule(index=1, apps=("*",), requires=(ADMIN,))
    ruled = replace(decide((rule,), Action.DELETE, [app("x")], approvals=1), extra=((ADMIN, OVER),))
    assert ruled.requirements() == (ADMIN, ADMIN) and ruled.approvals == 2
    assert not ruled.met(["U0ADMIN"], role_of, {}) and ruled.met(["U0ADMIN", "U0ADM2"], role_of, {})
