"""The org file's policy `rules:`: read into rules with their lines, every problem reported
at once with its line (rules that can never select anything, contradictions), and a file
without rules meaning exactly what it meant before."""

from __future__ import annotations

import pytest

from bot.config.orgfile import parse_orgs, summary
from bot.core.models import Action, Target
from bot.core.policy import Rule
from bot.core.requirements import Requirement
from bot.core.roles import Role
from bot.errors import OrgFileError
from tests.support.orgs import ORG_ENV, ORGS_YAML

HEAD = """\
organizations:
  acme:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0APPROVALS
    members:
      U0ALICE: requester
      U0BOB: approver
      U0DAVE: admin
      U0ERIN: admin
    policy:
      delete: {approvals: 2}
      break_glass: {roles: [admin]}
      rules:
"""  # the rules start on line 14


def with_rules(rules: str) -> str:
    return HEAD + rules


def problems(text: str) -> list[str]:
    with pytest.raises(OrgFileError) as caught:
        parse_orgs(text, ORG_ENV)
    return [p.removeprefix("<string>:") for p in caught.value.problems]


def test_rules_are_read_in_order_with_their_lines() -> None:
    text = with_rules(
        """\
        - name: hotlines
          action: unlink
          numbers: ['+9118*']
          deny: "hotlines stay: open a change instead"
        - name: prod apps
          apps: [sfv_app_prod*, sfv_app_core1]
          approvals: 2
          approvers: [admin, S0NETOPS]
          break_glass: forbidden
        - action: [delete]
          min_targets: 11
          max_linked_numbers: 0
          approvals: 1
"""
    )
    rules = parse_orgs(text, ORG_ENV).orgs["acme"].policy.rules
    assert rules == (
        Rule(
            index=1,
            name="hotlines",
            line=14,
            actions=frozenset({Action.UNLINK}),
            numbers=("+9118*",),
            deny="hotlines stay: open a change instead",
        ),
        Rule(
            index=2,
            name="prod apps",
            line=18,
            apps=("sfv_app_prod*", "sfv_app_core1"),
            approvals=2,
            approver_role=Role.ADMIN,
            approver_groups=("S0NETOPS",),
            break_glass=False,
        ),
        Rule(
            index=3,
            line=23,
            actions=frozenset({Action.DELETE}),
            min_targets=11,
            max_linked_numbers=0,
            approvals=1,
        ),
    )


def test_a_rules_approver_group_is_read_like_a_role_group() -> None:
    text = with_rules("        - {apps: ['*'], approvers: [S0NETOPS]}\n")
    assert "S0NETOPS" in parse_orgs(text, ORG_ENV).orgs["acme"].groups()


def test_every_problem_at_once_with_its_line() -> None:
    text = with_rules(
        """\
        - name: x
          aps: [sfv_app_a]
          approvals: 2
        - apps: []
          approvals: 1
        - numbers: ['918000000001', '+91800']
          approvers: [viewer]
        - apps: [prod]
          deny: ""
        - name: nothing
          action: delete
        - action: remove
          break_glass: maybe
          approvals: 0
"""
    )
    assert problems(text) == [
        "15: org acme: policy rule 1: unknown key 'aps' (did you mean 'apps'?)",
        "17: org acme: policy rule 2: apps must be a list of patterns like [sfv_app_prod_*], "
        "not an empty list, which selects nothing",
        "19: org acme: policy rule 3: numbers entry '918000000001' never matches: numbers are "
        "in E.164 form, + and the country code, 8 to 16 characters in all; a pattern like "
        "'+9180000000*' takes a range",
        "19: org acme: policy rule 3: numbers entry '+91800' never matches: numbers are in "
        "E.164 form, + and the country code, 8 to 16 characters in all; a pattern like "
        "'+9180000000*' takes a range",
        "20: org acme: policy rule 3: approvers entry 'viewer' is neither a role that may "
        "approve (approver, admin) nor a Slack user group id (S…)",
        "21: org acme: policy rule 4: apps entry 'prod' is not an app id (like sfv_app_abc123) "
        "nor a pattern with * or ?, so it never matches",
        "22: org acme: policy rule 4: deny must be some text, not ''",
        "23: org acme: policy rule 5 sets nothing: give it approvals, approvers, requires, "
        "break_glass, windows, freezes or deny",
        "25: org acme: policy rule 6: action 'remove' is not unlink or delete",
        "26: org acme: policy rule 6: break_glass must be allowed or forbidden, not 'maybe'",
        "27: org acme: policy rule 6: approvals must be a whole number of at least 1, not 0",
    ]


def test_rules_that_can_never_select_anything() -> None:
    text = with_rules(
        """\
        - name: prod apps
          apps: [sfv_app_prod*]
          approvals: 2
        - name: one prod app
          apps: [sfv_app_prod1]
          approvals: 1
        - action: delete
          numbers: ['+91*']
          approvals: 2
        - min_targets: 5
          max_targets: 2
          approvals: 2
        - action: unlink
          min_linked_numbers: 10
          approvals: 2
        - approvals: 2
        - apps: [sfv_app_x*]
          approvals: 1
"""
    )
    assert problems(text) == [
        "17: org acme: policy rule 2 'one prod app' can never select anything: rule 1 'prod "
        "apps' (line 14) comes first and selects everything it does; move it above, or narrow "
        "the earlier one",
        "20: org acme: policy rule 3 can never select anything: it names numbers, but only "
        "unlink targets have one",
        "23: org acme: policy rule 4 can never select anything: min_targets (5) is more than "
        "max_targets (2)",
        "26: org acme: policy rule 5 can never select anything: it bounds linked numbers, which "
        "only a delete has",
        "30: org acme: policy rule 7 can never select anything: rule 6 (line 29) comes first "
        "and selects everything it does; move it above, or narrow the earlier one",
    ]


def test_a_rule_bounding_linked_numbers_does_not_cover_one_that_does_not() -> None:
    text = with_rules(
        """\
        - {action: delete, min_linked_numbers: 50, approvals: 2}
        - {action: delete, approvals: 2}
        - {action: delete, apps: [sfv_app_a*], approvals: 1}
"""
    )
    assert problems(text) == [
        "16: org acme: policy rule 3 can never select anything: rule 2 (line 15) comes first "
        "and selects everything it does; move it above, or narrow the earlier one"
    ]


def test_contradictions() -> None:
    text = HEAD.replace("      break_glass: {roles: [admin]}\n", "") + (
        """\
        - name: same
          apps: [sfv_app_a*]
          deny: protected
          approvals: 2
        - name: same
          apps: [sfv_app_b*]
          break_glass: allowed
"""
    )
    assert problems(text) == [
        "15: org acme: policy rule 1 both refuses (deny) and sets approvals: a refused request "
        "is never approved; keep one",
        "17: org acme: policy rule 2: the name 'same' is rule 1's already; give each rule its own",
        "19: org acme: policy rule 2 allows break-glass, but the org has no break_glass policy, "
        "so nobody may break glass; add one, or drop break_glass from the rule",
    ]


def test_a_rule_asking_more_approvers_than_it_admits() -> None:
    text = with_rules("        - {apps: [sfv_app_c*], approvals: 3, approvers: [admin]}\n")
    assert problems(text) == [
        "14: org acme: policy rule 1 needs 3 approvals from admins, but only 2 members can give one"
    ]


def test_an_action_count_no_request_takes_is_not_held_against_the_members() -> None:
    """Three approvers, deletes asking four: refused, unless a rule selecting every delete
    sets its own count (first match wins, so no delete takes the four), and no rule before
    it leaves its deletes the action's count."""
    four = HEAD.replace("delete: {approvals: 2}", "delete: {approvals: 4}")
    catch_all = "        - {name: any app, action: delete, apps: ['*'], approvals: 2}\n"
    parse_orgs(four + catch_all, ORG_ENV)  # loads
    (refused,) = problems(four.replace("      rules:\n", ""))
    assert "policy needs 4 approvers for delete but only 3 members" in refused
    uncounted = "        - {name: prod, apps: [sfv_app_prod*], break_glass: forbidden}\n"
    (refused,) = problems(four + uncounted + catch_all)
    assert "policy needs 4 approvers for delete but only 3 members" in refused


def test_rules_must_be_a_list() -> None:
    text = HEAD + "        name: x\n"
    assert problems(text) == [
        "13: org acme: policy rules must be a list of rules (- name: …), not a mapping"
    ]


@pytest.mark.parametrize("targets", [[Target("sfv_app_abc123xyz456", "+918000000001")], []])
def test_a_file_without_rules_means_what_it_meant_before(targets: list[Target]) -> None:
    """The test orgs (no rules): every action needs the approvals its policy says, from any
    approver, nothing refused, break-glass as before."""
    for org in parse_orgs(ORGS_YAML, ORG_ENV).orgs.values():
        assert org.policy.rules == ()
        assert org.groups() == tuple(org.group_roles())
        for action in Action:
            ruled = org.policy.decide(action, targets)
            assert ruled.approvals == org.policy.approvals_needed(action)
            assert ruled.refusal() is None
            assert ruled.forbids_break_glass is None
            assert ruled.restricting == ()


def test_an_empty_rules_list_is_no_rules() -> None:
    text = HEAD.replace("      rules:\n", "      rules: []\n")
    assert parse_orgs(text, ORG_ENV).orgs["acme"].policy.rules == ()


def test_the_summary_lists_the_rules() -> None:
    text = with_rules("        - {name: prod, apps: [sfv_app_prod*], approvals: 2}\n")
    shown = summary(parse_orgs(text, ORG_ENV))
    assert "  rules:            rule 1 'prod': apps 'sfv_app_prod*' → 2 approvals" in shown


def test_requirements_are_read_and_checked() -> None:
    text = with_rules(
        """\
        - name: core
          apps: ['sfv_app_core*']
          requires:
            - {approvers: [S0NETOPS], approvals: 1}
            - {approvers: [S0SECURITY, admin]}
"""
    )
    (rule,) = parse_orgs(text, ORG_ENV).orgs["acme"].policy.rules
    assert rule.requires == (
        Requirement(1, None, ("S0NETOPS",)),
        Requirement(1, Role.ADMIN, ("S0SECURITY",)),
    )
    assert rule.approvals_or(5) == 2
    assert parse_orgs(text, ORG_ENV).orgs["acme"].groups() == ("S0NETOPS", "S0SECURITY")

    bad = with_rules(
        """\
        - apps: ['sfv_app_a*']
          approvals: 1
          requires:
            - {approvers: [admin]}
            - {approvers: [approver], approvals: 0, who: me}
            - {approvals: 1}
            - admin
        - apps: ['sfv_app_b*']
          requires: []
"""
    )
    assert problems(bad) == [
        "16: org acme: policy rule 1 requirement 4 must be a mapping like {approvers: "
        "[S0NETOPS], approvals: 1}",
        "18: org acme: policy rule 1 requirement 2: unknown key 'who' (expected approvers, "
        "approvals)",
        "18: org acme: policy rule 1 requirement 2: approvals must be a whole number of at least "
        "1, not 0",
        "19: org acme: policy rule 1 requirement 3 names no approvers: say whose approvals count",
        "22: org acme: policy rule 2: requires must be a list like [{approvers: [S0NETOPS], "
        "approvals: 1}, {approvers: [S0SECURITY], approvals: 1}], not an empty list",
    ]
    short = with_rules(
        "        - {apps: ['*'], approvals: 1, requires: [{approvers: [admin]}, "
        "{approvers: [approver]}]}\n"
    )
    assert problems(short) == [
        "14: org acme: policy rule 1 asks 1 approval but requires 2 people (one person fills one "
        "requirement): raise approvals, or drop it"
    ]


def test_requirements_the_members_listed_cannot_fill() -> None:
    """Two admins are listed: two admins and one approver more can be found, three admins
    cannot; and one person never fills two requirements."""
    rule = "        - {apps: ['*'], requires: [{approvers: [admin], approvals: 2}, %s]}\n"
    assert parse_orgs(with_rules(rule % "{approvers: [approver]}"), ORG_ENV)
    assert problems(with_rules(rule % "{approvers: [admin]}")) == [
        "14: org acme: policy rule 1 requires 2 from admins and 1 from admins, but the members "
        "listed cannot fill 1 from admins (one person fills one requirement)"
    ]


def test_requirements_in_order_are_read_and_checked() -> None:
    staged = with_rules(
        """\
        - name: core
          apps: ['sfv_app_core*']
          requires_in_order: true
          requires:
            - {approvers: [S0NETOPS]}
            - {approvers: [S0SECURITY]}
        - {apps: ['sfv_app_edge*'], requires: [{approvers: [admin]}]}
"""
    )
    core, edge = parse_orgs(staged, ORG_ENV).orgs["acme"].policy.rules
    assert core.in_order and not edge.in_order  # without it: in any order, as before
    bad = with_rules(
        """\
        - name: core
          apps: ['sfv_app_core*']
          requires_in_order: yes please
          requires: [{approvers: [admin]}]
        - name: edge
          apps: ['sfv_app_edge*']
          approvals: 1
          requires_in_order: true
"""
    )
    assert problems(bad) == [
        "16: org acme: policy rule 1: requires_in_order must be true or false, not 'yes please'",
        "21: org acme: policy rule 2: requires_in_order orders the requirements, but the rule "
        "has no requires: list them, or drop it",
    ]
