"""Limits per requester and per org as data: what counts, when it is over, when it frees up
(bot/core/limits.py, pure), and the org file's `limits:` read with every problem at its line."""

from __future__ import annotations

import pytest

from bot.config.orgfile import parse_orgs, summary
from bot.core.limits import (
    Filed,
    Limit,
    LimitCheck,
    Per,
    clock_text,
    frees_at,
    needs_admin,
    parse_duration,
)
from bot.core.models import Action
from bot.core.workflow.explaining import lines
from bot.errors import OrgFileError, OverLimit
from tests.support.orgs import ORG_ENV

NOW = 1_796_603_100.0  # 2026-12-07 00:25 UTC
HOUR = 3600
UNLINKS = Limit(1, Per.REQUESTER, 20, HOUR, actions=frozenset({Action.UNLINK}), name="bulk")
DELETES = Limit(2, Per.ORG, 3, 86400, requests=True, actions=frozenset({Action.DELETE}))


def check(limit: Limit, targets: int) -> LimitCheck:
    return LimitCheck((limit,), "U0ALICE", targets, NOW)


@pytest.mark.parametrize(
    ("filed", "asked", "over"),
    [
        ([], 20, False),  # the whole limit in one request
        ([], 21, True),
        ([Filed(NOW - 60, 15)], 5, False),  # exactly up to the limit
        ([Filed(NOW - 60, 15)], 6, True),
        ([Filed(NOW - 60, 20)], 1, True),
    ],
)
def test_targets_used_and_asked_against_the_most(
    filed: list[Filed], asked: int, over: bool
) -> None:
    if over:
        with pytest.raises(OverLimit):
            check(UNLINKS, asked).judge([filed])
    else:
        (recorded,) = check(UNLINKS, asked).judge([filed])
        assert recorded["used"] == sum(f.targets for f in filed) and recorded["asked"] == asked


def test_it_frees_when_enough_of_the_oldest_leave_the_window() -> None:
    filed = [Filed(NOW - 100, 5), Filed(NOW - 3000, 10), Filed(NOW - 10, 5)]
    assert frees_at(UNLINKS, filed, 1) == NOW - 3000 + HOUR  # the oldest 10 must go
    assert frees_at(UNLINKS, filed, 11) == NOW - 100 + HOUR  # and the next 5 too
    assert frees_at(UNLINKS, filed, 21) is None  # never: alone over the limit


def test_the_refusal_says_the_limit_the_use_and_when_it_frees() -> None:
    filed = [Filed(NOW - 20 * 60, 20)]  # 00:05 UTC, so it frees at 01:05
    with pytest.raises(OverLimit) as refused:
        check(UNLINKS, 1).judge([filed])
    assert refused.value.message == (
        "limit 1 'bulk': at most 20 targets unlinked per requester per hour; 20 used, this "
        "request is 1; frees at 01:05 UTC. Nothing was filed."
    )
    assert refused.value.frees_at == NOW - 20 * 60 + HOUR
    with pytest.raises(OverLimit, match="alone is 21 targets") as alone:
        check(UNLINKS, 21).judge([[]])
    assert alone.value.frees_at is None


def test_a_request_limit_counts_requests_not_targets() -> None:
    filed = [Filed(NOW - 60, 50), Filed(NOW - 60, 1)]
    (recorded,) = check(DELETES, 80).judge([filed])
    assert recorded["used"] == 2 and recorded["asked"] == 1
    with pytest.raises(OverLimit, match="at most 3 delete requests in the org per day"):
        check(DELETES, 1).judge([[*filed, Filed(NOW - 5, 1)]])


def test_each_limit_is_asked_its_own_question() -> None:
    both = LimitCheck((UNLINKS, DELETES), "U0ALICE", 2, NOW)
    first, second = both.countings()
    assert (first.requester, first.actions, first.since) == (
        "U0ALICE",
        (Action.UNLINK,),
        NOW - HOUR,
    )
    assert (second.requester, second.actions, second.since) == (None, (Action.DELETE,), NOW - 86400)


def test_times_and_windows_in_words() -> None:
    assert clock_text(NOW + 1, NOW) == "00:26 UTC"  # rounded up: asking then succeeds
    assert clock_text(NOW + 86400, NOW) == "2026-12-08 00:25 UTC"
    assert [parse_duration(t) for t in ("30m", "1h", "2d", "0h", "1w", "h", "\uff11h", 5)] == [
        1800,
        3600,
        172800,
        None,
        None,
        None,
        None,
        None,
    ]
    assert Limit(1, Per.ORG, 5, 2 * HOUR).text() == "at most 5 targets filed in the org per 2 hours"


HEAD = """\
organizations:
  acme:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0APPROVALS
    members:
      U0ALICE: requester
      U0BOB: approver
    policy:
      limits:
"""  # the limits start on line 10


def problems(text: str) -> list[str]:
    with pytest.raises(OrgFileError) as caught:
        parse_orgs(text, ORG_ENV)
    return [p.removeprefix("<string>:") for p in caught.value.problems]


def test_limits_are_read_with_their_lines() -> None:
    text = HEAD + (
        "        - {name: bulk, action: unlink, per: requester, targets: 20, within: 1h}\n"
        "        - action: delete\n"
        "          per: org\n"
        "          requests: 3\n"
        "          within: 1d\n"
    )
    policy = parse_orgs(text, ORG_ENV).orgs["acme"].policy
    assert policy.limits == (
        Limit(1, Per.REQUESTER, 20, HOUR, actions=frozenset({Action.UNLINK}), name="bulk", line=10),
        Limit(2, Per.ORG, 3, 86400, requests=True, actions=frozenset({Action.DELETE}), line=11),
    )
    assert policy.limits_for(Action.DELETE) == policy.limits[1:]
    assert "limits:           limit 1 'bulk': at most 20 targets unlinked" in summary(
        parse_orgs(text, ORG_ENV)
    )


def test_every_limit_problem_at_once_with_its_line() -> None:
    text = HEAD + (
        "        - {per: team, targets: 20, within: 1h}\n"  # 10
        "        - {per: org, targets: 2, requests: 1, within: 1h}\n"  # 11
        "        - {per: org, within: 1h}\n"  # 12
        "        - {per: org, targets: 0, within: 1h}\n"  # 13
        "        - {per: org, targets: 5, within: 90s}\n"  # 14
        "        - {per: org, targets: 5, within: 1h, action: move, over: admin}\n"  # 15
        "        - {per: org, targets: 5}\n"  # 16
        "        - {per: requester, targets: 9, within: 60m}\n"  # 17
        "        - {per: requester, targets: 5, within: 1h}\n"  # 18: counts what 17 does
        "        - just words\n"  # 19
    )
    found = problems(text)
    expected = [
        "10: org acme: policy limit 1: per must be requester or org, not 'team'",
        "11: org acme: policy limit 2 must count either targets or requests",
        "12: org acme: policy limit 3 must count either targets or requests (like "
        "targets: 20), and says neither",
        "13: org acme: policy limit 4: targets must be a whole number of at least 1",
        "14: org acme: policy limit 5: within must be a window like 30m, 1h or 1d",
        "15: org acme: policy limit 6: over must be refuse (the default) or needs_admin, "
        "not 'admin'",
        "15: org acme: policy limit 6: action 'move' is not unlink or delete",
        "16: org acme: policy limit 7: within must be a window like 30m, 1h or 1d "
        "(at most 31d), not missing",
        "18: org acme: policy limit 9 counts what limit 8 counts already",
        "9: org acme: policy limit 10 must be a mapping",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in found), (line, found)
    assert len(found) == len(expected)


def test_a_file_without_limits_has_none_and_lists_none() -> None:
    org = parse_orgs(HEAD.removesuffix("      limits:\n") + "      ttl_minutes: 30\n", ORG_ENV)
    acme = org.orgs["acme"]
    assert (
        acme.policy.limits == () and acme.policy.limit_check(Action.UNLINK, "U0A", 1, NOW) is None
    )
    assert not any("Limit" in line for line in lines(acme, None))


def test_policy_answers_name_the_limits_that_apply() -> None:
    text = HEAD + "        - {action: unlink, per: requester, targets: 20, within: 1h}\n"
    acme = parse_orgs(text, ORG_ENV).orgs["acme"]
    listed = lines(acme, None)
    assert "Limit: limit 1: at most 20 targets unlinked per requester per hour." in listed
    from bot.core.models import Target

    unlink = acme.policy.decide(Action.UNLINK, [Target("sfv_app_abc1", "+918000000001")])
    assert any("It counts against limit 1: at most 20" in x for x in lines(acme, unlink))
    delete = acme.policy.decide(Action.DELETE, [Target("sfv_app_abc1")])
    assert not any("counts against" in x for x in lines(acme, delete))


ADMIN_LIMIT = Limit(
    1, Per.REQUESTER, 20, HOUR, actions=frozenset({Action.UNLINK}), name="bulk", needs_admin=True
)


def test_over_a_needs_admin_limit_is_recorded_over_with_why_not_refused() -> None:
    (recorded,) = check(ADMIN_LIMIT, 5).judge([[Filed(NOW - 60, 18)]])
    assert recorded["over"] is True and recorded["used"] == 18 and recorded["asked"] == 5
    assert recorded["why"] == (
        "over limit 1 'bulk' (at most 20 targets unlinked per requester per hour: 18 used, "
        "this request 5): an admin must approve too"
    )
    assert needs_admin([recorded]) == recorded["why"]
    within = check(ADMIN_LIMIT, 2).judge([[Filed(NOW - 60, 18)]])
    assert "over" not in within[0] and needs_admin(within) is None
    # alone over it too: an admin may still let it through
    assert check(ADMIN_LIMIT, 25).judge([[]])[0]["over"] is True


def test_break_glass_over_a_needs_admin_limit_is_refused_nobody_approves_it() -> None:
    glass = LimitCheck((ADMIN_LIMIT,), "U0ALICE", 5, NOW, break_glass=True)
    assert "over" not in glass.judge([[Filed(NOW - 60, 10)]])[0]  # within: counted as ever
    with pytest.raises(OverLimit) as refused:
        glass.judge([[Filed(NOW - 60, 18)]])
    assert "an admin must approve: file it without `--break-glass`" in refused.value.message


def test_over_reads_refuse_or_needs_admin_and_wants_an_admin_in_the_org() -> None:
    line = "        - {action: unlink, per: org, targets: 20, within: 1h, over: needs_admin}\n"
    found = problems(HEAD + line)
    assert found == [
        "10: org acme: policy limit 1 says over: needs_admin, but no member is an admin: "
        "nobody could approve a request over it"
    ]
    with_admin = (HEAD + line).replace("      U0BOB: approver\n", "      U0BOB: admin\n")
    (limit,) = parse_orgs(with_admin, ORG_ENV).orgs["acme"].policy.limits
    assert limit.needs_admin and limit.describe().endswith("over it, an admin must approve too")
    refusing = parse_orgs(HEAD + line.replace("needs_admin", "refuse"), ORG_ENV)
    assert not refusing.orgs["acme"].policy.limits[0].needs_admin
