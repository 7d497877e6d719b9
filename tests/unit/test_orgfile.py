"""The organization file: roles, policy, and one precise human line per problem in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config.orgfile import load_orgs, parse_orgs, summary
from bot.core.models import Action
from bot.core.org import Need, Org, OrgDirectory, Policy, Reminders, Role, StepPolicy
from bot.errors import OrgFileError
from tests.support.orgs import ORG_ENV, ORGS_YAML, write_orgs

KEYS = tuple(ORG_ENV.values())
LOCATION = re.compile(r"^<string>:\d+: ")


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    """The problems found in `text`, without their `<string>:LINE: ` prefix."""
    with pytest.raises(OrgFileError) as caught:
        parse_orgs(text, ORG_ENV if env is None else env)
    for problem in caught.value.problems:
        assert LOCATION.match(problem), problem
        assert not any(key in problem for key in KEYS)
    return [LOCATION.sub("", problem) for problem in caught.value.problems]


def edited(old: str, new: str) -> str:
    """The test file with the first `old` (acme's, where globex has the same) made `new`."""
    assert old in ORGS_YAML, old
    return ORGS_YAML.replace(old, new, 1)


# -- roles ------------------------------------------------------------------------------


def test_roles_are_ordered() -> None:
    assert Role.VIEWER < Role.REQUESTER < Role.APPROVER < Role.ADMIN
    assert [r.label for r in Role] == ["viewer", "requester", "approver", "admin"]
    assert str(Role.APPROVER) == "approver"


@pytest.mark.parametrize("text", ["approver", "Approver", " APPROVER "])
def test_role_parse(text: str) -> None:
    assert Role.parse(text) is Role.APPROVER


def test_role_parse_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown role 'boss' \(expected viewer, requester"):
        Role.parse("boss")


# -- the test directory -----------------------------------------------------------------


def test_fixture_directory(orgs: OrgDirectory) -> None:
    acme, globex = orgs.get("acme"), orgs.get("globex")
    assert acme is not None and globex is not None
    assert orgs.get("initech") is None
    assert list(orgs.orgs) == ["acme", "globex"]

    assert acme.api_key.get_secret_value() == "test-key-acme-not-real"
    assert acme.api_key_env == "SFVOPI_API_KEY_ACME"
    assert acme.approval_channel == "C0APPROVALS"
    assert acme.outcome_channel == "C0OPSLOG"
    assert acme.command_channels == ("C0OPS",)
    assert acme.role_of("U0ALICE") is Role.REQUESTER
    assert acme.role_of("U0DAVE") is Role.ADMIN
    assert acme.role_of("U0VIC") is Role.VIEWER
    assert acme.role_of("U0GINA") is None
    assert acme.approvers() == ("U0BOB", "U0CAROL", "U0DAVE")
    assert acme.policy == Policy(
        approvals={Action.UNLINK: 1, Action.DELETE: 2, Action.UNDO: 1},
        ttl_minutes=60,
        self_approval=False,
    )

    assert globex.outcome_channel is None
    assert globex.command_channels == ()
    assert globex.approvers() == ("U0GARY", "U0MULTI")


def test_memberships(orgs: OrgDirectory) -> None:
    assert [(o.name, r) for o, r in orgs.memberships("U0MULTI")] == [
        ("acme", Role.REQUESTER),
        ("globex", Role.APPROVER),
    ]
    assert [(o.name, r) for o, r in orgs.memberships("U0BOB")] == [("acme", Role.APPROVER)]
    assert orgs.memberships("U0NOBODY") == []


def test_command_channel_allow_list(orgs: OrgDirectory) -> None:
    acme, globex = orgs.orgs["acme"], orgs.orgs["globex"]
    assert acme.allows_channel("C0OPS")
    assert not acme.allows_channel("C0RANDOM")
    assert not acme.allows_channel("C0APPROVALS")
    assert globex.allows_channel("C0RANDOM")
    assert globex.allows_channel("D0DIRECT")


def test_policy_defaults() -> None:
    directory = parse_orgs(
        """
organizations:
  tiny:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0TINY
    members: {U0REQ: requester, U0APP: approver}
""",
        ORG_ENV,
    )
    policy = directory.orgs["tiny"].policy
    assert policy == Policy()
    assert policy.approvals_needed(Action.UNLINK) == 1
    assert policy.approvals_needed(Action.DELETE) == 1
    assert policy.ttl_minutes == 60
    assert policy.self_approval is False
    assert policy.deny_reason is Need.OPTIONAL
    assert policy.approve_note is Need.NONE


def test_partial_policy_keeps_other_defaults() -> None:
    text = edited(
        "      unlink: {approvals: 1}\n      delete: {approvals: 2}\n      ttl_minutes: 60\n",
        "      delete: {approvals: 3}\n",
    )
    policy = parse_orgs(text, ORG_ENV).orgs["acme"].policy
    assert policy.approvals_needed(Action.UNLINK) == 1
    assert policy.approvals_needed(Action.DELETE) == 3
    assert policy.ttl_minutes == 60


def test_self_approval_true() -> None:
    text = edited("self_approval: false", "self_approval: true")
    assert parse_orgs(text, ORG_ENV).orgs["acme"].policy.self_approval is True


@pytest.mark.parametrize(
    ("deny", "note"), [("required", "none"), ("optional", "optional"), ("required", "required")]
)
def test_decision_texts(deny: str, note: str) -> None:
    text = edited("self_approval: false", f"self_approval: false\n      deny_reason: {deny}")
    text = text.replace("ttl_minutes: 60", f"ttl_minutes: 60\n      approve_note: {note}", 1)
    policy = parse_orgs(text, ORG_ENV).orgs["acme"].policy
    assert policy.deny_reason is Need(deny)
    assert policy.approve_note is Need(note)
    assert f"deny/cancel reason {deny}; approve note {note}" in summary(parse_orgs(text, ORG_ENV))


def test_deny_reason_cannot_be_none() -> None:
    text = edited("self_approval: false", "self_approval: false\n      deny_reason: none")
    assert problems(text) == [
        "org acme: policy deny_reason must be optional or required, not 'none' (Deny and "
        "Cancel always ask why; the reason may be optional, not absent)"
    ]


@pytest.mark.parametrize("value", ["always", "true", "[required]"])
def test_decision_texts_must_name_a_choice(value: str) -> None:
    text = edited("self_approval: false", f"self_approval: false\n      approve_note: {value}")
    text = text.replace("ttl_minutes: 60", "ttl_minutes: 60\n      deny_reason: Required", 1)
    found = problems(text)
    assert found[0] == "org acme: policy deny_reason must be optional or required, not 'Required'"
    assert found[1].startswith("org acme: policy approve_note must be none or optional or required")
    assert len(found) == 2


def test_keys_never_shown(orgs: OrgDirectory) -> None:
    shown = summary(orgs) + repr(orgs) + str(orgs.orgs["acme"])
    assert not any(key in shown for key in KEYS)


def test_summary(orgs: OrgDirectory) -> None:
    shown = summary(orgs)
    assert "org acme" in shown
    assert "from SFVOPI_API_KEY_ACME" in shown
    assert "command channels: C0OPS" in shown
    assert "unlink 1 approval, delete 2 approvals" in shown
    assert "6 (1 admin, 2 approvers, 2 requesters, 1 viewer)" in shown
    assert "org globex" in shown
    assert "outcome channel:  none" in shown
    assert "command channels: anywhere" in shown


def test_key_whitespace_is_trimmed() -> None:
    env = {**ORG_ENV, "SFVOPI_API_KEY_ACME": " test-key-acme-not-real\n"}
    acme = parse_orgs(ORGS_YAML, env).orgs["acme"]
    assert acme.api_key.get_secret_value() == "test-key-acme-not-real"


def test_org_values_are_hashable_and_frozen(orgs: OrgDirectory) -> None:
    acme = orgs.orgs["acme"]
    assert isinstance(hash(acme), int)
    with pytest.raises(AttributeError):
        acme.name = "other"  # type: ignore[misc]
    assert isinstance(acme, Org)


# -- loading ----------------------------------------------------------------------------


def test_load_orgs_from_a_file(tmp_path: Path) -> None:
    directory = load_orgs(write_orgs(tmp_path, ORGS_YAML), ORG_ENV)
    assert set(directory.orgs) == {"acme", "globex"}


def test_load_orgs_reads_keys_from_os_environ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ORG_ENV.items():
        monkeypatch.setenv(name, value)
    directory = load_orgs(write_orgs(tmp_path, ORGS_YAML))
    assert directory.orgs["globex"].api_key.get_secret_value() == "test-key-globex-not-real"


def test_load_orgs_problems_name_the_file_and_line(tmp_path: Path) -> None:
    path = write_orgs(tmp_path, edited("U0ALICE: requester", "U0ALICE: aprover"))
    with pytest.raises(OrgFileError) as caught:
        load_orgs(path, ORG_ENV)
    assert caught.value.problems == [
        f"{path}:13: org acme, member U0ALICE: unknown role 'aprover' "
        "(expected viewer, requester, approver, admin)"
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OrgFileError, match="no such file"):
        load_orgs(tmp_path / "absent.yml", ORG_ENV)


# -- one human line per problem ---------------------------------------------------------


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(OrgFileError) as caught:
        parse_orgs("organizations:\n  acme:\n    members: [U0BOB\n", ORG_ENV, source="orgs.yml")
    [problem] = caught.value.problems
    assert problem.startswith("orgs.yml:4: YAML syntax error")


@pytest.mark.parametrize("text", ["", "# nothing\n", "orgs:\n  acme: {}\n", "- acme\n"])
def test_missing_organizations(text: str) -> None:
    assert "missing 'organizations': the file must start with `organizations:`" in problems(text)


def test_empty_organizations() -> None:
    assert problems("organizations: {}\n") == [
        "organizations is empty: define at least one organization"
    ]


def test_unknown_role() -> None:
    assert problems(edited("U0ALICE: requester", "U0ALICE: aprover")) == [
        "org acme, member U0ALICE: unknown role 'aprover' "
        "(expected viewer, requester, approver, admin)"
    ]


def test_api_key_env_not_set() -> None:
    env = {"SFVOPI_API_KEY_GLOBEX": "test-key-globex-not-real"}
    assert problems(ORGS_YAML, env) == ["org acme: api_key_env SFVOPI_API_KEY_ACME is not set"]


def test_api_key_env_empty() -> None:
    env = {**ORG_ENV, "SFVOPI_API_KEY_ACME": " "}
    assert problems(ORGS_YAML, env) == [
        "org acme: api_key_env SFVOPI_API_KEY_ACME is set but empty"
    ]


def test_api_key_env_that_looks_like_a_key_is_not_echoed() -> None:
    found = problems(edited("SFVOPI_API_KEY_ACME", "sk-live-0123456789abcdef"))
    assert found == [
        "org acme: api_key_env must name an environment variable, like SFVOPI_API_KEY_ACME "
        "(upper-case letters, digits and '_'), not hold the key"
    ]


def test_a_key_in_the_file_is_refused_without_echo() -> None:
    found = problems(edited("    approval_channel: C0APPROVALS\n", "    api_key: sk-live-xyz\n"))
    assert found == [
        "org acme: approval_channel is missing",
        "org acme: unknown key 'api_key': the key itself never goes in this file; put it in "
        "an environment variable and name that variable with api_key_env",
    ]
    assert not any("sk-live-xyz" in p for p in found)


@pytest.mark.parametrize("user", ["alice", "u0alice", "U0", "C0ALICE", "U0-ALICE"])
def test_malformed_user_id(user: str) -> None:
    assert problems(edited("U0ALICE: requester", f"{user}: requester")) == [
        f"org acme, member {user}: '{user}' is not a Slack user id (expected like U0123ABCD; "
        "copy it from the person's profile: ⋮ → Copy member ID) nor a user group id "
        "(like S0123ABCD)"
    ]


def test_workspace_user_ids_are_accepted() -> None:
    directory = parse_orgs(edited("U0ALICE: requester", "W0ALICE: requester"), ORG_ENV)
    assert directory.orgs["acme"].role_of("W0ALICE") is Role.REQUESTER


@pytest.mark.parametrize("channel", ["#sfvopi-approvals", "c0approvals", "U0BOB", "C0"])
def test_malformed_approval_channel(channel: str) -> None:
    assert problems(edited("C0APPROVALS", f"'{channel}'")) == [
        f"org acme: approval_channel '{channel}' is not a Slack channel id (expected like "
        "C0123ABCD; channel names do not work: copy the id from the channel's details)"
    ]


def test_malformed_outcome_and_command_channels() -> None:
    text = edited("outcome_channel: C0OPSLOG", "outcome_channel: opslog")
    text = text.replace("command_channels: [C0OPS]", "command_channels: [C0OPS, '#ops']")
    channel_help = (
        "is not a Slack channel id (expected like C0123ABCD; channel names do not work: "
        "copy the id from the channel's details)"
    )
    assert problems(text) == [
        f"org acme: outcome_channel 'opslog' {channel_help}",
        f"org acme: command_channels entry '#ops' {channel_help}",
    ]


def test_command_channels_must_be_a_list() -> None:
    assert problems(edited("command_channels: [C0OPS]", "command_channels: C0OPS")) == [
        "org acme: command_channels must be a list of channel ids, like [C0123ABCD], not text"
    ]


def test_group_and_direct_channels_are_accepted() -> None:
    text = edited("command_channels: [C0OPS]", "command_channels: [G0PRIVATE, D0DIRECT]")
    assert parse_orgs(text, ORG_ENV).orgs["acme"].command_channels == ("G0PRIVATE", "D0DIRECT")


def test_unknown_key_suggests_the_right_one() -> None:
    assert problems(edited("approval_channel:", "aproval_channel:")) == [
        "org acme: approval_channel is missing",
        "org acme: unknown key 'aproval_channel' (did you mean 'approval_channel'?)",
    ]


def test_unknown_keys_everywhere() -> None:
    text = edited("      ttl_minutes: 60", "      ttl_minute: 60")
    text = text.replace("delete: {approvals: 2}", "delete: {aprovals: 2}")
    text = "owner: ops-team\n" + text
    assert problems(text) == [
        "unknown top-level key 'owner' (expected organizations)",
        "org acme: policy delete: unknown key 'aprovals' (did you mean 'approvals'?)",
        "org acme: unknown policy key 'ttl_minute' (did you mean 'ttl_minutes'?)",
    ]


@pytest.mark.parametrize("approvals", ["0", "-1"])
def test_approvals_at_least_one(approvals: str) -> None:
    assert problems(edited("unlink: {approvals: 1}", f"unlink: {{approvals: {approvals}}}")) == [
        f"org acme: policy unlink approvals must be at least 1, not {approvals}"
    ]


@pytest.mark.parametrize("value", ["two", "1.5", "true"])
def test_approvals_whole_number(value: str) -> None:
    assert problems(edited("delete: {approvals: 2}", f"delete: {{approvals: {value}}}")) == [
        f"org acme: policy delete approvals must be a whole number, not "
        f"{repr(value) if value == 'two' else value.capitalize()}"
    ]


def test_ttl_at_least_one() -> None:
    assert problems(edited("ttl_minutes: 60", "ttl_minutes: 0")) == [
        "org acme: policy ttl_minutes must be at least 1, not 0"
    ]


def test_ttl_at_most_a_year() -> None:
    """A card shows when its request expires: 100,000,000,000 minutes is past the year 9999,
    which no card can show (reminders are bounded by the ttl already)."""
    assert problems(edited("ttl_minutes: 60", "ttl_minutes: 100000000000")) == [
        "org acme: policy ttl_minutes must be at most 527040, not 100000000000"
    ]
    orgs = parse_orgs(edited("ttl_minutes: 60", "ttl_minutes: 527040"), ORG_ENV)
    assert orgs.get("acme").policy.ttl_minutes == 527040


def test_self_approval_must_be_a_boolean() -> None:
    assert problems(edited("self_approval: false", "self_approval: never")) == [
        "org acme: policy self_approval must be true or false, not 'never'"
    ]


def test_unsatisfiable_policy() -> None:
    text = edited("      U0CAROL: approver\n      U0DAVE: admin\n", "")
    assert problems(text) == [
        "org acme: policy needs 2 approvers for delete but only 1 member (U0BOB) can approve"
    ]


def test_unsatisfiable_policy_lists_the_approvers() -> None:
    text = edited("delete: {approvals: 2}", "delete: {approvals: 4}")
    assert problems(text) == [
        "org acme: policy needs 4 approvers for delete but only 3 members "
        "(U0BOB, U0CAROL, U0DAVE) can approve"
    ]


def test_policy_with_no_approvers() -> None:
    text = """
organizations:
  tiny:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0TINY
    members: {U0REQ: requester, U0VIC: viewer}
"""
    assert problems(text) == [
        "org tiny: policy needs 1 approver for unlink but no member can approve",
        "org tiny: policy needs 1 approver for delete but no member can approve",
    ]


def test_policy_unsatisfiable_without_self_approval() -> None:
    """Two admins, two approvals, no self-approval: whoever asks, only one other can approve."""
    text = """
organizations:
  pair:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0PAIR
    policy: {delete: {approvals: 2}}
    members: {U0ANN: admin, U0BEN: admin}
"""
    assert problems(text) == [
        "org pair: policy needs 2 approvers for delete but a request can get at most "
        "1 approval: self_approval is false and everyone who can request is one of the "
        "approvers (U0ANN, U0BEN)"
    ]
    allowed = text.replace("policy: {", "policy: {self_approval: true, ")
    assert parse_orgs(allowed, ORG_ENV).orgs["pair"].policy.self_approval is True


@pytest.mark.parametrize("name", ["Acme", "acme corp", "-acme", "a" * 33, "acme!"])
def test_bad_org_name(name: str) -> None:
    text = edited("  acme:\n", f"  '{name}':\n")
    assert problems(text) == [
        f"org {name!r}: the name must be 1 to 32 lower-case letters, digits, '-' or '_', "
        "starting with a letter or digit"
    ]


@pytest.mark.parametrize("name", ["a", "acme-eu", "acme_2", "9lives", "a" * 32])
def test_good_org_names(name: str) -> None:
    assert name in parse_orgs(edited("  acme:\n", f"  {name}:\n"), ORG_ENV).orgs


def test_duplicate_member_is_not_silently_dropped() -> None:
    text = edited("      U0VIC: viewer\n", "      U0VIC: viewer\n      U0ALICE: admin\n")
    assert problems(text) == ["org acme, member U0ALICE listed more than once (first on line 13)"]


def test_duplicate_org() -> None:
    text = ORGS_YAML + "  acme:\n    api_key_env: SFVOPI_API_KEY_ACME\n"
    assert problems(text) == ["org acme defined more than once (first on line 2)"]


def test_missing_required_fields() -> None:
    text = "organizations:\n  bare: {}\n"
    assert problems(text) == [
        "org bare: api_key_env is missing: name the environment variable that holds the org's "
        "SFVoPI API key",
        "org bare: approval_channel is missing",
        "org bare: members is missing: map Slack user ids to roles, like U0123ABCD: approver",
    ]


def test_wrong_shapes() -> None:
    text = """
organizations:
  one: [U0BOB]
  two:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0TWO
    policy: strict
    members: [U0BOB]
"""
    assert problems(text) == [
        "org one: expected a mapping of settings, not a list",
        "org two: policy must be a mapping (unlink, delete, undo, ttl_minutes, self_approval, "
        "deny_reason, approve_note, remind_after_minutes, escalate_after_minutes, escalate_to, "
        "break_glass, rules, limits, schedule_within_hours), not text",
        "org two: members must map Slack user ids to roles, not a list",
    ]


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = edited("U0ALICE: requester", "U0ALICE: aprover")
    text = text.replace("approval_channel: C0GLXAPPR", "approval_channel: glx")
    text = text.replace("ttl_minutes: 60", "ttl_minutes: 0")
    with pytest.raises(OrgFileError) as caught:
        parse_orgs(text, {"SFVOPI_API_KEY_ACME": "test-key-acme-not-real"})
    lines = [int(p.split(":")[1]) for p in caught.value.problems]
    assert len(lines) == 4
    assert lines == sorted(lines)
    assert str(caught.value) == "\n".join(caught.value.problems)


# -- reminders and escalation -----------------------------------------------------------

REMINDING = edited(
    "      ttl_minutes: 60\n",
    "      ttl_minutes: 60\n"
    "      remind_after_minutes: 10\n"
    "      escalate_after_minutes: 30\n"
    "      escalate_to: [S0ONCALL, C0SECOPS, U0CTO, W0GRID]\n",
)


def test_no_reminders_by_default(orgs: OrgDirectory) -> None:
    policy = orgs.orgs["acme"].policy
    for action in Action:
        assert policy.reminders_for(action) == Reminders()
        assert policy.reminders_for(action).remind_at(1000.0) is None
        assert policy.reminders_for(action).escalate_at(1000.0) is None


def test_org_wide_reminders_apply_to_every_action() -> None:
    policy = parse_orgs(REMINDING, ORG_ENV).orgs["acme"].policy
    expected = Reminders(10, 30, ("S0ONCALL", "C0SECOPS", "U0CTO", "W0GRID"))
    assert policy.reminders_for(Action.UNLINK) == expected
    assert policy.reminders_for(Action.DELETE) == expected
    assert expected.remind_at(1000.0) == 1600.0
    assert expected.escalate_at(1000.0) == 2800.0


def test_an_action_overrides_what_it_names_and_inherits_the_rest() -> None:
    text = REMINDING.replace(
        "delete: {approvals: 2}",
        "delete: {approvals: 2, remind_after_minutes: 5, escalate_to: [C0DELETES]}",
    )
    policy = parse_orgs(text, ORG_ENV).orgs["acme"].policy
    assert policy.reminders_for(Action.DELETE) == Reminders(5, 30, ("C0DELETES",))
    assert policy.reminders_for(Action.UNLINK).remind_after_minutes == 10
    shown = summary(parse_orgs(text, ORG_ENV))
    assert "delete reminders: remind after 5 minutes; escalate after 30 minutes to C0DELETES" in (
        shown
    )


def test_reminders_alone_need_no_escalation() -> None:
    text = edited("ttl_minutes: 60", "ttl_minutes: 60\n      remind_after_minutes: 1")
    reminders = parse_orgs(text, ORG_ENV).orgs["acme"].policy.reminders_for(Action.UNLINK)
    assert reminders == Reminders(1, None, ())
    assert reminders.escalate_at(0.0) is None


def test_escalation_comes_after_the_reminder_and_before_expiry() -> None:
    text = REMINDING.replace("remind_after_minutes: 10", "remind_after_minutes: 30")
    text = text.replace(
        "delete: {approvals: 2}", "delete: {approvals: 2, escalate_after_minutes: 60}"
    )
    assert problems(text) == [
        "org acme: policy for unlink: remind_after_minutes (30) must come before "
        "escalate_after_minutes (30): approvers are reminded first, then the request is escalated",
        "org acme: policy for delete: escalate_after_minutes (60) must be less than ttl_minutes "
        "(60): the request would have expired by then",
    ]


def test_escalation_needs_both_when_and_whom() -> None:
    when = edited("ttl_minutes: 60", "ttl_minutes: 60\n      escalate_after_minutes: 20")
    assert problems(when) == [
        "org acme: policy escalate_after_minutes needs escalate_to: name the user groups (S…), "
        "channels (C…) or people (U…) to escalate to",
    ]
    whom = edited("delete: {approvals: 2}", "delete: {approvals: 2, escalate_to: [U0CTO]}")
    assert problems(whom) == [
        "org acme: policy delete escalate_to needs escalate_after_minutes: say when to escalate"
    ]
    inherited = when.replace(
        "delete: {approvals: 2}", "delete: {approvals: 2, escalate_to: [U0CTO]}"
    )
    assert problems(inherited) == [problems(when)[0]]  # unlink still has nobody to escalate to


def test_escalation_targets_must_be_slack_ids() -> None:
    text = REMINDING.replace(
        "escalate_to: [S0ONCALL, C0SECOPS, U0CTO, W0GRID]",
        "escalate_to: [S0ONCALL, '#secops', D0DIRECT, 42]",
    )
    assert problems(text) == [
        "org acme: policy escalate_to entry '#secops' is not a Slack user group (S…), channel "
        "(C…) or user (U…) id",
        "org acme: policy escalate_to entry D0DIRECT is a direct message: name the person (U…) "
        "instead",
        "org acme: policy escalate_to entry 42 is not a Slack user group (S…), channel (C…) or "
        "user (U…) id",
    ]
    assert problems(REMINDING.replace("[S0ONCALL, C0SECOPS, U0CTO, W0GRID]", "S0ONCALL")) == [
        "org acme: policy escalate_to must be a list like [S0ONCALL, C0SECOPS, U0CTO], not text"
    ]


@pytest.mark.parametrize("value", ["0", "ten", "2.5"])
def test_reminder_minutes_are_whole_and_positive(value: str) -> None:
    found = problems(
        REMINDING.replace("remind_after_minutes: 10", f"remind_after_minutes: {value}")
    )
    assert len(found) == 1
    assert found[0].startswith("org acme: policy remind_after_minutes must be ")


@pytest.mark.parametrize(
    "written", ["remind_after_minutes: 10", "escalate_after_minutes: 30", "ttl_minutes: 60"]
)
def test_a_rejected_minutes_value_is_the_only_problem_said(written: str) -> None:
    """No order check with a value the user never wrote (the default put in its place)."""
    key = written.split(":")[0]
    found = problems(REMINDING.replace(written, f"{key}: 0.5"))
    assert found == [f"org acme: policy {key} must be a whole number, not 0.5"]


# -- user groups as members ---------------------------------------------------------------

GROUPED = edited("      U0VIC: viewer\n", "      U0VIC: viewer\n      S0ONCALL: approver\n")


def test_a_user_group_can_hold_a_role() -> None:
    acme = parse_orgs(GROUPED, ORG_ENV).orgs["acme"]
    assert acme.group_roles() == {"S0ONCALL": Role.APPROVER}
    assert acme.groups() == ("S0ONCALL",)
    assert acme.approver_groups() == ("S0ONCALL",)
    shown = summary(parse_orgs(GROUPED, ORG_ENV))
    assert "user groups:      S0ONCALL (approver)" in shown
    assert "members:          6 (1 admin, 2 approvers, 2 requesters, 1 viewer)" in shown


def test_a_role_is_the_highest_of_ones_own_and_ones_groups() -> None:
    acme = parse_orgs(GROUPED, ORG_ENV).orgs["acme"]
    known = {"S0ONCALL": frozenset({"U0ALICE", "U0NEW"})}
    assert acme.role_of("U0ALICE") is Role.REQUESTER
    assert acme.role_of("U0ALICE", known) is Role.APPROVER
    assert acme.role_of("U0NEW", known) is Role.APPROVER
    assert acme.role_of("U0NEW", {}) is None
    assert acme.role_of("U0DAVE", known) is Role.ADMIN
    assert acme.approvers(known) == ("U0BOB", "U0CAROL", "U0DAVE", "U0ALICE", "U0NEW")
    assert acme.unknown_groups({}) == ["S0ONCALL"]
    assert acme.unknown_groups(known) == []
    assert acme.unknown_groups({}, Role.ADMIN) == []


def test_a_group_lets_a_policy_need_more_approvers_than_are_listed() -> None:
    text = GROUPED.replace("delete: {approvals: 2}", "delete: {approvals: 5}")
    assert parse_orgs(text, ORG_ENV).orgs["acme"].policy.approvals_needed(Action.DELETE) == 5


@pytest.mark.parametrize("group", ["S0", "s0oncall", "SUBTEAM!"])
def test_malformed_group_ids_are_refused(group: str) -> None:
    found = problems(edited("U0ALICE: requester", f"{group}: requester"))
    assert f"'{group}' is not a Slack user id" in found[0]


# -- break-glass ----------------------------------------------------------------------------


def glass(policy: str) -> str:
    return edited("      self_approval: false\n", f"      self_approval: false\n{policy}")


def test_break_glass_is_off_unless_the_policy_says() -> None:
    acme = parse_orgs(ORGS_YAML, ORG_ENV).orgs["acme"]
    assert acme.policy.break_glass is None
    assert "break-glass:      not allowed" in summary(parse_orgs(ORGS_YAML, ORG_ENV))


def test_a_break_glass_policy_names_roles_incident_and_review_time() -> None:
    text = glass(
        "      break_glass: {roles: [admin, approver], require_incident: false,"
        " review_within_minutes: 15}\n"
    )
    found = parse_orgs(text, ORG_ENV).orgs["acme"].policy.break_glass
    assert found is not None
    assert found.roles == {Role.ADMIN, Role.APPROVER}
    assert (found.require_incident, found.review_within_minutes) == (False, 15)
    assert found.allows(Role.ADMIN) and found.allows(Role.APPROVER)
    assert not found.allows(Role.REQUESTER) and not found.allows(None)
    shown = summary(parse_orgs(text, ORG_ENV))
    assert "break-glass:      approver, admin; incident id optional; reviewed within 15" in shown


def test_a_break_glass_policy_defaults_to_an_incident_and_an_hour() -> None:
    found = parse_orgs(glass("      break_glass: {roles: [admin]}\n"), ORG_ENV).orgs["acme"]
    assert found.policy.break_glass is not None
    assert found.policy.break_glass.require_incident is True
    assert found.policy.break_glass.review_within_minutes == 60
    # a role not named never may, even one above it
    assert not found.policy.break_glass.allows(Role.APPROVER)


def test_break_glass_mistakes_are_each_named_with_their_line() -> None:
    text = glass(
        "      break_glass:\n"
        "        roles: [admin, viewer, boss]\n"
        "        require_incident: sometimes\n"
        "        review_within_minutes: 0\n"
        "        reviewers: [U0BOB]\n"
    )
    with pytest.raises(OrgFileError) as caught:
        parse_orgs(text, ORG_ENV, source="orgs.yml")
    line = text.splitlines().index("        roles: [admin, viewer, boss]") + 1
    assert caught.value.problems == [
        f"orgs.yml:{line}: org acme: policy break_glass roles entry 'viewer' is not a role that "
        "may ask for changes (requester, approver or admin)",
        f"orgs.yml:{line}: org acme: policy break_glass roles entry 'boss' is not a role that "
        "may ask for changes (requester, approver or admin)",
        f"orgs.yml:{line + 1}: org acme: policy break_glass require_incident must be true or "
        "false, not 'sometimes'",
        f"orgs.yml:{line + 2}: org acme: policy break_glass review_within_minutes must be at "
        "least 1, not 0",
        f"orgs.yml:{line + 3}: org acme: policy break_glass: unknown key 'reviewers' (expected "
        "roles, require_incident, review_within_minutes)",
    ]


@pytest.mark.parametrize(
    ("policy", "said"),
    [
        ("      break_glass: yes\n", "policy break_glass must be a mapping like {roles: [admin]"),
        ("      break_glass: {require_incident: true}\n", "break_glass roles is missing"),
        ("      break_glass: {roles: []}\n", "break_glass roles must be a list of roles"),
        ("      break_glass: {roles: admin}\n", "break_glass roles must be a list of roles"),
    ],
)
def test_a_break_glass_policy_must_name_who(policy: str, said: str) -> None:
    (found,) = problems(glass(policy))
    assert said in found


# -- workflow steps -----------------------------------------------------------------------


def steps(setting: str) -> str:
    """The test file with acme's `workflow_steps` set to `setting` (lines under the org)."""
    return edited("    members:\n", f"{setting}    members:\n")


def test_workflow_steps_are_off_unless_the_org_file_turns_them_on() -> None:
    directory = parse_orgs(ORGS_YAML, ORG_ENV)
    assert directory.orgs["acme"].workflow_steps is None
    assert "workflow steps:   off" in summary(directory)
    off = parse_orgs(
        steps("    workflow_steps: {enabled: false, requesters: [U0ALICE]}\n"), ORG_ENV
    )
    assert off.orgs["acme"].workflow_steps is None


def test_workflow_steps_name_the_requesters_they_may_name() -> None:
    text = steps("    workflow_steps: {enabled: true, requesters: [U0ALICE, S0STEPS, U0ALICE]}\n")
    directory = parse_orgs(text, ORG_ENV)
    acme = directory.orgs["acme"]
    assert acme.workflow_steps == StepPolicy(("U0ALICE", "S0STEPS"))
    assert acme.groups() == ("S0STEPS",), "its groups are read like members' groups"
    assert "S0STEPS" in directory.groups()
    assert "workflow steps:   on; may name U0ALICE, S0STEPS" in summary(directory)
    anyone = parse_orgs(steps("    workflow_steps: {enabled: true}\n"), ORG_ENV)
    assert anyone.orgs["acme"].workflow_steps == StepPolicy(())
    assert "on; may name anyone with the requester role" in summary(anyone)


def test_workflow_steps_mistakes_are_each_named_with_their_line() -> None:
    text = steps(
        "    workflow_steps:\n"
        "      enabled: yes please\n"
        "      requesters: [U0VIC, U0NOBODY, C0OPS, 7]\n"
        "      approvers: [U0BOB]\n"
    )
    with pytest.raises(OrgFileError) as caught:
        parse_orgs(text, ORG_ENV, source="orgs.yml")
    line = text.splitlines().index("      enabled: yes please") + 1
    say = "org acme: workflow_steps"
    assert caught.value.problems == [
        f"orgs.yml:{line}: {say} enabled must be true or false, not 'yes please'",
        f"orgs.yml:{line + 1}: {say} requesters entry U0VIC cannot ask for changes in this org: "
        "list them under members as a requester (or above)",
        f"orgs.yml:{line + 1}: {say} requesters entry U0NOBODY cannot ask for changes in this "
        "org: list them under members as a requester (or above)",
        f"orgs.yml:{line + 1}: {say} requesters entry 'C0OPS' is not a Slack user id (like "
        "U0123ABCD) nor a user group id (like S0123ABCD)",
        f"orgs.yml:{line + 1}: {say} requesters entry 7 is not a Slack user id (like "
        "U0123ABCD) nor a user group id (like S0123ABCD)",
        f"orgs.yml:{line + 2}: {say}: unknown key 'approvers' (expected enabled, requesters)",
    ]


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("    workflow_steps: true\n", "workflow_steps must be a mapping like {enabled: true"),
        ("    workflow_steps: {requesters: [U0ALICE]}\n", "workflow_steps enabled is missing"),
        ("    workflow_steps: {enabled: true, requesters: []}\n", "requesters must be a list"),
        ("    workflow_steps: {enabled: true, requesters: U0ALICE}\n", "requesters must be a list"),
        ("    workflow_step: {enabled: true}\n", "did you mean 'workflow_steps'?"),
    ],
)
def test_workflow_steps_must_say_on_or_off_and_whom(setting: str, said: str) -> None:
    (found,) = problems(steps(setting))
    assert said in found


def test_a_person_a_group_may_make_a_requester_is_not_checked_in_the_file() -> None:
    """With a user group among the members, who holds the requester role is Slack's to say."""
    text = edited("U0ALICE: requester", "S0REQS: requester")
    text = text.replace(
        "    members:\n",
        "    workflow_steps: {enabled: true, requesters: [U0ZED]}\n    members:\n",
        1,
    )
    assert parse_orgs(text, ORG_ENV).orgs["acme"].workflow_steps == StepPolicy(("U0ZED",))


def test_a_step_policy_names_its_people_and_its_groups_members() -> None:
    policy = StepPolicy(("U0ALICE", "S0STEPS"))
    assert policy.names("U0ALICE") and not policy.names("U0CAROL")
    assert policy.names("U0CAROL", {"S0STEPS": frozenset({"U0CAROL"})})
    assert policy.unknown_groups({}) == ["S0STEPS"]
    assert policy.unknown_groups({"S0STEPS": frozenset()}) == []
    assert StepPolicy().names("U0ANYONE") and StepPolicy().unknown_groups(None) == []


def test_rebind_on_change_is_per_action_and_a_boolean_with_its_line() -> None:
    text = edited("delete: {approvals: 2}", "delete: {approvals: 2, rebind_on_change: false}")
    policy = parse_orgs(text, ORG_ENV).orgs["acme"].policy
    assert policy.rebinds(Action.UNLINK) and not policy.rebinds(Action.DELETE)
    bad = edited("delete: {approvals: 2}", "delete: {approvals: 2, rebind_on_change: maybe}")
    with pytest.raises(OrgFileError) as caught:
        parse_orgs(bad, ORG_ENV)
    line = ORGS_YAML.splitlines().index("      delete: {approvals: 2}") + 1
    assert caught.value.problems == [
        f"<string>:{line}: org acme: policy delete rebind_on_change must be true or false, "
        "not 'maybe'"
    ]
