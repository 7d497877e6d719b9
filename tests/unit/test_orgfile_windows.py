"""Reading change windows and freezes from an org file mapping (bot/config/orgfile/windows.py):
into a Schedule, or every problem with its line; as keys of an action's policy and of a rule,
checked whole by the org file's loader (a schedule that never opens reported)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from bot.config.orgfile import parse_orgs
from bot.config.orgfile.windows import WindowChecks
from bot.config.orgfile.yaml_lines import Loader
from bot.core.models import Action, Target
from bot.core.windows import Freeze, Schedule, Window
from bot.errors import OrgFileError
from tests.support.orgs import ORG_ENV, ORGS_YAML


def read(text: str) -> tuple[Schedule, list[tuple[int, str]]]:
    checks = WindowChecks("<test>", {})
    body = yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a SafeLoader
    schedule = checks.schedule("org acme: policy unlink", body)
    return schedule, checks.problems


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_windows_and_freezes_are_read() -> None:
    schedule, problems = read(
        """\
windows:
  - {days: mon-fri, from: "02:00", to: "05:00", tz: Asia/Kolkata}
  - {days: [sat], from: "22:00", to: "02:00", tz: UTC}
freezes:
  - {name: year end, from: 2026-12-20, to: 2027-01-03, tz: Asia/Kolkata}
  - {from: "2026-12-08 18:00", to: "2026-12-08T20:00+00:00", tz: UTC}
"""
    )
    assert problems == []
    assert schedule.windows == (
        Window(frozenset(range(5)), 120, 300, "Asia/Kolkata"),
        Window(frozenset({5}), 22 * 60, 120, "UTC"),
    )
    assert schedule.freezes == (
        # whole days: from the start of the first to the end of the last, in its zone
        Freeze(utc("2026-12-19T18:30"), utc("2027-01-03T18:30"), "year end"),
        Freeze(utc("2026-12-08T18:00"), utc("2026-12-08T20:00")),
    )


def test_no_windows_no_freezes_is_any_time() -> None:
    schedule, problems = read("approvals: 1\n")
    assert schedule.always and problems == []


def test_every_problem_with_its_line() -> None:
    _, problems = read(
        """\
windows:
  - {days: mon-fry, from: "02:00", to: "05:00", tz: Asia/Kolkata}
  - {days: mon, from: 2:00, to: "05:00", tz: Mars/Olympus}
  - {days: mon, from: "03:00", to: "03:00", tz: UTC, every: week}
  - {days: mon, to: "03:00"}
  - just words
freezes:
  - {from: 2026-12-20, to: 2026-12-19, tz: UTC}
  - {from: soon, to: 2026-12-19, tz: UTC, name: ""}
"""
    )
    said = "\n".join(f"{line}: {text}" for line, text in problems)
    for expected in (
        "2: org acme: policy unlink window 1: days must be like mon-fri",
        '3: org acme: policy unlink window 2: from must be a time of day like "02:00", not 120 '
        '(quote it: "02:00"; YAML reads 2:00 as a number)',
        "3: org acme: policy unlink window 2: tz 'Mars/Olympus' is not a time zone name",
        "4: org acme: policy unlink window 3: unknown key 'every'",
        "4: org acme: policy unlink window 3 opens and closes at the same time",
        '5: org acme: policy unlink window 4: from must be a time of day like "02:00", not missing',
        "5: org acme: policy unlink window 4: tz is missing",
        "1: org acme: policy unlink window 5 must be a mapping",
        "8: org acme: policy unlink freeze 1 ends before it starts",
        "9: org acme: policy unlink freeze 2: from must be a date like 2026-12-20",
        "9: org acme: policy unlink freeze 2: name must be some text",
    ):
        assert expected in said, (expected, said)
    assert len(problems) == 11


WINDOWED = ORGS_YAML.replace(
    "      delete: {approvals: 2}\n",
    """\
      delete:
        approvals: 2
        windows: [{days: mon-fri, from: "02:00", to: "05:00", tz: Asia/Kolkata}]
        freezes: [{name: year end, from: 2026-12-20, to: 2027-01-03, tz: Asia/Kolkata}]
      schedule_within_hours: 48
      rules:
        - name: prod narrower
          apps: ['sfv_app_prod*']
          windows: [{days: tue-thu, from: "03:00", to: "04:00", tz: Asia/Kolkata}]
""",
)


def test_an_actions_policy_and_a_rule_say_windows_and_freezes() -> None:
    acme = parse_orgs(WINDOWED, ORG_ENV).orgs["acme"]
    policy = acme.policy
    assert policy.schedules[Action.DELETE].windows == (
        Window(frozenset(range(5)), 120, 300, "Asia/Kolkata"),
    )
    assert [f.name for f in policy.schedules[Action.DELETE].freezes] == ["year end"]
    assert policy.schedules[Action.UNLINK].always
    assert policy.schedule_within_hours == 48
    # a target the rule selects answers to the action's windows and the rule's (all apply)
    prod = policy.schedules_for(Action.DELETE, [Target("sfv_app_prod1")])
    assert len(prod) == 2 and prod[1].windows[0].days == frozenset({1, 2, 3})
    assert len(policy.schedules_for(Action.DELETE, [Target("sfv_app_dev1")])) == 1
    assert policy.schedules_for(Action.UNLINK, [Target("sfv_app_dev1", "+918000000001")]) == ()


def test_an_org_file_without_them_means_what_it_meant() -> None:
    acme = parse_orgs(ORGS_YAML, ORG_ENV).orgs["acme"]
    assert all(s.always for s in acme.policy.schedules.values())
    assert acme.policy.schedules_for(Action.DELETE, [Target("sfv_app_prod1")]) == ()


def _problems(text: str) -> list[str]:
    try:
        parse_orgs(text, ORG_ENV, source="orgs.yml")
    except OrgFileError as exc:
        return list(exc.problems)
    return []


def test_windows_that_never_open_are_reported_with_their_line() -> None:
    never = WINDOWED.replace("from: 2026-12-20, to: 2027-01-03", "from: 2026-01-01, to: 2099-01-03")
    said = "\n".join(_problems(never))
    assert "orgs.yml:11: org acme: policy delete: its windows never open again" in said, said
    # a rule's windows that never meet its action's: a request under it could never run
    apart = WINDOWED.replace('from: "03:00", to: "04:00"', 'from: "10:00", to: "11:00"')
    said = "\n".join(_problems(apart))
    assert "orgs.yml:15: org acme: policy rule 1 'prod narrower': its windows" in said, said


def test_a_misspelt_window_key_is_a_problem_with_its_line() -> None:
    said = "\n".join(_problems(WINDOWED.replace("windows: [{days: mon-fri", "window: [{days: mon")))
    assert "orgs.yml:" in said and "unknown" in said and "'window'" in said, said


@pytest.mark.parametrize("hours", ["100000000", "1" + "0" * 400])
def test_schedule_within_hours_is_at_most_a_year(hours: str) -> None:
    """Beyond a year no window or time can be computed for it (`--at 9999-12-31T23:59Z` was a
    500 under `schedule_within_hours: 100000000`)."""
    written = f"schedule_within_hours: {hours}"
    (found,) = _problems(WINDOWED.replace("schedule_within_hours: 48", written))
    assert found.endswith(
        f"org acme: policy schedule_within_hours must be at most 8784, not {hours}"
    )
    assert not _problems(
        WINDOWED.replace("schedule_within_hours: 48", "schedule_within_hours: 8784")
    )
