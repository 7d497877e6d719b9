"""Who receives each Slack delivery, when it is owed and when it is due: the core's rules
(bot/core/deliveries.py) as data, no store, no Slack."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.config.orgfile import parse_orgs
from bot.core.deliveries import (
    Kind,
    Owed,
    Recipient,
    addressed,
    owed,
    recipients,
    reminder_steps,
    review_escalation,
    step_due,
)
from bot.core.models import Action, Approval, Request, Review, Status, Target, TargetState
from bot.core.org import Org
from tests.support.orgs import ORG_ENV, ORGS_YAML

CREATED = 1_700_000_000.0
EXPIRES = CREATED + 3600
CARD = ("C0APPROVALS", "1700000000.000100")
THREAD = Recipient("thread", *CARD)
ESCALATING = ORGS_YAML.replace(
    "      ttl_minutes: 60\n",
    "      ttl_minutes: 60\n"
    "      remind_after_minutes: 10\n"
    "      escalate_after_minutes: 30\n"
    "      escalate_to: [S0ONCALL, C0SECOPS, U0CTO]\n",
    1,
)


def org(text: str = ESCALATING) -> Org:
    found = parse_orgs(text, ORG_ENV).get("acme")
    assert found is not None
    return found


def request(**changes: Any) -> Request:
    values: dict[str, Any] = {
        "id": 7,
        "org": "acme",
        "action": Action.UNLINK,
        "requester": "U0ALICE",
        "reason": "fraud",
        "status": Status.PENDING,
        "approvals_needed": 1,
        "created_at": CREATED,
        "expires_at": EXPIRES,
        "targets": (TargetState(Target("sfv_app_abc123xyz456", "+918000000001")),),
        "card_channel": CARD[0],
        "card_ts": CARD[1],
    }
    return Request(**{**values, **changes})


def dm(user: str) -> Recipient:
    return Recipient(f"dm:{user}", user)


@pytest.mark.parametrize(
    ("kind", "changes", "expected"),
    [
        # a reminder: the thread, then each approver who may approve and has not
        (Kind.REMINDED, {}, [THREAD, dm("U0BOB"), dm("U0CAROL"), dm("U0DAVE")]),
        (
            Kind.REMINDED,
            {"approvals": (Approval("U0BOB", CREATED + 5),)},
            [THREAD, dm("U0CAROL"), dm("U0DAVE")],
        ),
        # an escalation: the thread, then the policy's channels and people (a group is
        # only mentioned)
        (
            Kind.ESCALATED,
            {},
            [THREAD, Recipient("channel:C0SECOPS", "C0SECOPS"), dm("U0CTO")],
        ),
        (Kind.REVIEW_TOLD, {}, [THREAD, Recipient("requester", "U0ALICE")]),
        # an outcome: the thread, the requester (unless they cancelled it), the outcome line
        (
            Kind.ANNOUNCED,
            {"status": Status.DENIED},
            [THREAD, Recipient("requester", "U0ALICE"), Recipient("outcome", "C0OPSLOG")],
        ),
        (
            Kind.ANNOUNCED,
            {"status": Status.CANCELLED, "decided_by": "U0ALICE", "card_ts": None},
            [Recipient("outcome", "C0OPSLOG")],
        ),
        (Kind.REVIEW_TOLD, {"card_ts": None}, [Recipient("requester", "U0ALICE")]),
        (
            Kind.REVIEW_ESCALATED,
            {"break_glass": True},
            [THREAD, Recipient("channel:C0SECOPS", "C0SECOPS"), dm("U0CTO")],
        ),
    ],
)
def test_who_receives_each_delivery(
    kind: Kind, changes: dict[str, Any], expected: list[Recipient]
) -> None:
    assert recipients(kind, request(**changes), org(), {}) == expected


def test_an_overdue_review_with_nobody_named_goes_to_each_approver_but_the_requester() -> None:
    plain = org(ORGS_YAML)
    glass = request(break_glass=True, requester="U0BOB")
    assert recipients(Kind.REVIEW_ESCALATED, glass, plain, {}) == [
        THREAD,
        dm("U0CAROL"),
        dm("U0DAVE"),
    ]
    assert review_escalation(plain, glass, {}) == {
        "escalate_to": (),
        "approvers": ["U0CAROL", "U0DAVE"],
    }


@pytest.mark.parametrize(
    ("kind", "changes", "now", "expected"),
    [
        (Kind.REMINDED, {}, CREATED + 600, Owed.DUE),
        (Kind.REMINDED, {"card_ts": None}, CREATED + 600, Owed.WAIT),
        (Kind.REMINDED, {}, EXPIRES, Owed.MOOT),
        (Kind.ESCALATED, {"status": Status.DENIED}, CREATED + 600, Owed.MOOT),
        (Kind.REVIEW_ESCALATED, {"review": Review.PENDING}, CREATED, Owed.DUE),
        (Kind.REVIEW_ESCALATED, {"review": Review.FLAGGED}, CREATED, Owed.MOOT),
        (Kind.REVIEW_ESCALATED, {"review": Review.PENDING, "card_ts": None}, CREATED, Owed.WAIT),
        (Kind.REVIEW_TOLD, {"status": Status.SUCCEEDED, "card_ts": None}, CREATED, Owed.DUE),
    ],
)
def test_what_is_still_owed(
    kind: Kind, changes: dict[str, Any], now: float, expected: Owed
) -> None:
    assert owed(kind, request(**changes), now) is expected


def test_when_each_step_is_due_under_the_policy_in_force() -> None:
    assert reminder_steps(org(), request()) == [
        (Kind.REMINDED, CREATED + 600),
        (Kind.ESCALATED, CREATED + 1800),
    ]
    assert reminder_steps(org(ORGS_YAML), request()) == []
    # a reloaded org file moves (or drops) a step written under the old one
    assert step_due(Kind.REMINDED, org(), request(), CREATED) == CREATED + 600
    assert step_due(Kind.ESCALATED, org(ORGS_YAML), request(), CREATED) is None
    assert step_due(Kind.REVIEW_ESCALATED, org(), request(), CREATED + 5) == CREATED + 5
    assert [k.value for k in Kind] == [
        "announced",
        "reminded",
        "escalated",
        "review_told",
        "review_escalated",
        "preview_listed",
        "preview_gone",
        "drift_told",
        "scheduled_told",
    ]


def test_a_stored_recipient_key_addresses_the_same_post() -> None:
    for kind in Kind:
        for to in recipients(kind, request(break_glass=True), org(), {}):
            assert addressed(to.key, request(), org()) == to
    assert addressed("thread", replace(request(), card_ts=None), org()) is None
