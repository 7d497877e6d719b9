"""Policy stages nobody could fill (bot/config/orgfile/fillable.py): warnings with the org
file's line, never problems (the file still loads), sure when the groups are read or cannot
matter, and "unless" where only a group's members could fill the stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.orgfile import load_orgs, parse_orgs
from bot.config.orgfile.fillable import unfillable
from bot.core.roles import Groups
from tests.support.orgs import ORG_ENV

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ENV = {
    **ORG_ENV,
    "SFVOPI_API_KEY_TELCO": "telco-key-not-real",
    "SFVOPI_API_KEY_BANK": "bank-key-not-real",
}
HEAD = """\
organizations:
  acme:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0APPROVALS
    members:
      U0ALICE: requester
      U0BOB: approver
      U0CAROL: approver
      U0DAVE: admin
"""  # members end on line 9
NETOPS_ONLY = """\
    policy:
      unlink: {approvals: 1}
      delete: {approvals: 1}
      rules:
        - name: prod
          apps: ['sfv_app_prod_*']
          approvers: [S0NETOPS]
      limits:
        - {name: bulk, action: delete, per: requester, targets: 5, within: 1h, over: needs_admin}
"""  # rule 'prod' on line 14


def warnings(text: str, groups: Groups | None = None) -> list[str]:
    """What check-config warns of `text` (it loads: a warning is never a problem)."""
    return unfillable(parse_orgs(text, ENV, source="orgs.yml"), "orgs.yml", groups)


def test_an_admin_outside_the_only_group_a_rule_admits_cannot_give_the_admins_approval() -> None:
    (said,) = warnings(HEAD + NETOPS_ONLY)
    assert said == (
        "orgs.yml:14: org acme: policy rule 1 'prod' lets only members of S0NETOPS approve, and "
        "limit 1 'bulk' asks one more approval from an admin for a delete over it (over: "
        "needs_admin); an admin outside S0NETOPS is refused, so unless one of the org's admins "
        "(U0DAVE) is in S0NETOPS, a request over the limit under this rule can never be approved "
        "and expires after 60 minutes. Add admin to the rule's approvers (approvers: [S0NETOPS, "
        "admin]), or make sure an admin is in S0NETOPS (check-config --online lists its members)"
    )


def test_once_the_group_is_read_the_admin_stage_is_warned_of_only_when_no_admin_is_in_it() -> None:
    (said,) = warnings(HEAD + NETOPS_ONLY, {"S0NETOPS": frozenset({"U0BOB"})})
    assert said.startswith("orgs.yml:14: org acme: policy rule 1 'prod' lets only members of")
    assert (
        "and none of the org's admins (U0DAVE) is in S0NETOPS as Slack lists it now: a request "
        "over the limit under this rule can never be approved" in said
    )
    assert "unless" not in said
    assert warnings(HEAD + NETOPS_ONLY, {"S0NETOPS": frozenset({"U0DAVE"})}) == []


@pytest.mark.parametrize(
    "change",
    [
        ("approvers: [S0NETOPS]", "approvers: [S0NETOPS, admin]"),  # admits every admin
        ("over: needs_admin", "over: refuse"),  # no admin asked
        ("action: delete, per", "action: unlink, per"),  # the rule's deletes are not limited
        ("      U0DAVE: admin\n", "      U0DAVE: admin\n      S0NETOPS: admin\n"),
    ],
)
def test_no_warning_where_an_admin_can_fill_the_stage(change: tuple[str, str]) -> None:
    text = (HEAD + NETOPS_ONLY).replace(*change)
    if "apps:" in text and "action: unlink, per" in text:
        text = text.replace("          apps:", "          action: delete\n          apps:")
    assert warnings(text) == []


STEPS = "    workflow_steps: {enabled: true, requesters: [U0BOB, U0CAROL]}\n"  # line 10
TWO_TO_DELETE = """\
    policy:
      delete: {approvals: 2}
"""


def test_a_step_whose_request_needs_more_approvers_than_there_are_is_warned_of() -> None:
    """Three approvers, a delete needs two, a step's one more: three; but whoever the step
    names (Bob or Carol) never approves it, so at most two could."""
    (said,) = warnings(HEAD + STEPS + TWO_TO_DELETE)
    assert said == (
        "orgs.yml:10: org acme: workflow_steps is enabled, but a delete request a step files "
        "needs 3 approvals (2 by the delete policy, and 1 more because a step's requester is only "
        "the workflow's word, who never approves it), and at most 2 people could give one "
        "(U0BOB, U0CAROL, U0DAVE; the requester a step names is always one of them): it can "
        "never be approved and expires after 60 minutes. Give the approver role to more people, "
        "lower policy delete approvals, or turn workflow_steps off"
    )
    # Alice (not an approver) may be named: then all three approvers can approve
    anyone = STEPS.replace(", requesters: [U0BOB, U0CAROL]", "")
    assert warnings(HEAD + anyone + TWO_TO_DELETE) == []
    # an approver group not read yet could bring more approvers
    grouped = HEAD + "      S0ONCALL: approver\n" + STEPS + TWO_TO_DELETE
    assert warnings(grouped) == []
    assert len(warnings(grouped, {"S0ONCALL": frozenset({"U0BOB"})})) == 1
    assert warnings(grouped, {"S0ONCALL": frozenset({"U0ZED"})}) == []


def test_a_step_under_a_rule_is_warned_of_at_the_rule() -> None:
    text = (
        HEAD
        + "    workflow_steps: {enabled: true}\n"
        + """\
    policy:
      rules:
        - name: admins only
          action: unlink
          approvers: [admin]
"""
    )  # rule on line 13
    (said,) = warnings(text)
    assert said.startswith(
        "orgs.yml:13: org acme: workflow_steps is enabled (line 10), but an unlink request a "
        "step files under rule 1 'admins only' needs 2 approvals (1 by rule 1 'admins only', and 1 "
    )
    assert "at most 1 person could give one (U0DAVE)" in said


def test_a_rule_asking_more_than_the_people_who_could_approve_is_warned_of_when_sure() -> None:
    """A group granting a role below approver brings no approver; one granting approver
    could bring any number, until it is read."""
    rule = """\
    policy:
      rules:
        - {name: netops, approvers: [S0NETOPS], approvals: 4}
"""  # line 13
    (said,) = warnings(HEAD + "      S0OPS: requester\n" + rule)
    assert said.startswith(
        "orgs.yml:13: org acme: policy rule 1 'netops' needs 4 approvals from members of "
        "S0NETOPS, but at most 3 people could give one (U0BOB, U0CAROL, U0DAVE; only people "
        "with the approver role or above approve): a request under it can never be approved"
    )
    grouped = HEAD + "      S0OPS: approver\n" + rule
    assert warnings(grouped) == []
    read = {"S0OPS": frozenset({"U0X"}), "S0NETOPS": frozenset({"U0X", "U0BOB", "U0Y"})}
    (online,) = warnings(grouped, read)
    assert "at most 2 people could give one (U0BOB, U0X, as Slack lists S0NETOPS, S0OPS now" in (
        online
    )


def test_teams_a_rule_requires_that_the_groups_read_cannot_fill_are_warned_of() -> None:
    text = (
        HEAD
        + "      S0NET: approver\n      S0SEC: approver\n"
        + """\
    policy:
      rules:
        - name: two teams
          requires: [{approvers: [S0NET]}, {approvers: [S0SEC]}]
"""
    )  # rule on line 14
    assert warnings(text) == []
    same = frozenset({"U0ZED"})
    (said,) = warnings(text, {"S0NET": same, "S0SEC": same})
    assert said.startswith("orgs.yml:14: org acme: policy rule 1 'two teams' requires 1 from ")
    assert "cannot fill 1 from members of S0SEC, one person each" in said
    assert warnings(text, {"S0NET": same, "S0SEC": frozenset({"U0BOB"})}) == []


def test_an_action_no_approver_group_could_fill_is_warned_of() -> None:
    """Only a requester group besides the people: sure, though groups are unread (the
    file's problems stop at "some group is listed")."""
    text = HEAD + "      S0OPS: requester\n    policy:\n      undo: {approvals: 4}\n"
    assert warnings(text) == [
        "orgs.yml:12: org acme: policy undo needs 4 approvals, but at most 3 people could give "
        "one (U0BOB, U0CAROL, U0DAVE): an undo request can never be approved and expires after "
        "60 minutes. Give the approver role to more people under members, or lower policy undo "
        "approvals"
    ]


def test_an_action_count_every_request_gets_from_a_catch_all_rule_is_not_warned_of() -> None:
    """Rules decide in file order, and a last rule selecting every delete sets its own count:
    the policy's delete count never applies, so it warns of nothing however large."""
    policy = "      S0OPS: requester\n    policy:\n      delete: {approvals: 4}\n"
    assert len(warnings(HEAD + policy)) == 1
    catch_all = (
        "      rules:\n        - {name: any app, action: delete, apps: ['*'], approvals: 2}\n"
    )
    assert warnings(HEAD + policy + catch_all) == []
    bounded = catch_all.replace("approvals: 2}", "approvals: 2, max_targets: 3}")
    assert len(warnings(HEAD + policy + bounded)) == 1  # not every delete: 4 may still apply


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yml")))
def test_the_shipped_examples_warn_of_nothing(name: str) -> None:
    path = EXAMPLES / name
    assert unfillable(load_orgs(path, ENV), str(path)) == []
