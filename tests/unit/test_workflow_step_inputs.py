"""A workflow step's inputs read as strictly as a typed command, and what it says back."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.core.models import Action, Outcome, Request, Status, Target, TargetState
from bot.core.org import Org, Policy, Role, eligible_approvers, may_approve_own
from bot.errors import InvalidRequest
from bot.slack import blocks
from bot.slack.sealing import Sealer
from bot.slack.workflow_steps import failure, read_inputs, results_text

BASE = {"targets": "+918000000001 sfv_app_abc123xyz456", "reason": "INC-1", "requester": "U0A1"}


def test_the_targets_take_the_forms_the_slash_command_takes() -> None:
    asked = read_inputs(
        "unlink_numbers", BASE | {"targets": "+91 8000-000 001 sfv_app_abc123xyz456"}
    )
    assert asked.action is Action.UNLINK
    assert asked.targets == (Target("sfv_app_abc123xyz456", "+918000000001"),)
    assert asked.org is None and asked.break_glass is None
    deleted = read_inputs("delete_apps", BASE | {"targets": "sfv_app_abc123xyz456 sfv_app_x1"})
    assert [t.app_id for t in deleted.targets] == ["sfv_app_abc123xyz456", "sfv_app_x1"]


@pytest.mark.parametrize(
    ("callback_id", "inputs", "why"),
    [
        ("unlink_numbers", BASE | {"targets": ""}, "needs targets"),
        ("unlink_numbers", BASE | {"targets": "+918000000001"}, "needs the app id"),
        ("unlink_numbers", BASE | {"targets": "+918000000001 sfv_app_a1 rm -rf"}, "`rm`"),
        ("delete_apps", BASE | {"targets": "sfv_app_a1 --org globex"}, "`--org`"),
        ("delete_apps", BASE | {"targets": "+918000000001 sfv_app_a1"}, "is not an app id"),
        ("delete_apps", BASE | {"targets": ["sfv_app_a1"]}, "must be text"),
        ("delete_apps", BASE | {"requester": "<@U0A1>"}, "a person picked"),
        ("delete_apps", BASE | {"reason": "x" * 5000}, "too long"),
        ("drop_tables", BASE, "unknown step"),
        ("delete_apps", None, "no inputs"),
    ],
)
def test_inputs_that_are_off_are_refused_saying_why(
    callback_id: str, inputs: object, why: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        read_inputs(callback_id, inputs)
    assert why in refused.value.message


def finished(status: Status, *outcomes: Outcome, **kw: object) -> Request:
    targets = tuple(
        TargetState(Target(f"sfv_app_a{i}"), o, 500 if o is Outcome.FAILED else 200, "<!here>\nx")
        for i, o in enumerate(outcomes)
    )
    return Request(
        id=9,
        org="acme",
        action=Action.DELETE,
        requester="U0A1",
        reason="r",
        status=status,
        approvals_needed=1,
        created_at=0.0,
        expires_at=1.0,
        targets=targets,
        **kw,  # type: ignore[arg-type]
    )


def test_results_say_what_happened_to_each_target_on_one_line_each() -> None:
    request = finished(Status.FAILED, Outcome.DONE, Outcome.FAILED, Outcome.ALREADY_ABSENT)
    assert results_text(request).splitlines() == [
        "sfv_app_a0: done",
        "sfv_app_a1: failed (&lt;!here&gt; x)",
        "sfv_app_a2: already absent",
    ]
    assert failure(request).startswith("request #9 ran and failed\nsfv_app_a0: done")


def test_a_denial_names_who_and_why() -> None:
    denied = finished(Status.DENIED, decided_by="U0B2", decision_note="not\u202e\nnow")
    assert failure(denied) == "request #9 was denied by U0B2: not now"
    assert failure(finished(Status.EXPIRED)) == "request #9 expired before enough approvals"


def test_a_sealed_token_is_only_ciphertext_and_opens_only_with_the_same_secret() -> None:
    token = SecretStr("xwfp-1-2-3-secret-not-real")
    sealer = Sealer(SecretStr("signing-secret-one"))
    sealed = sealer.seal(token)
    assert "xwfp" not in sealed and "secret" not in sealed
    opened = sealer.open(sealed)
    assert opened is not None and opened.get_secret_value() == token.get_secret_value()
    assert Sealer(SecretStr("signing-secret-two")).open(sealed) is None
    assert sealer.open(sealed[:-4] + "AAAA") is None  # tampered


# -- the trust model: a step's requester is only the workflow's word -----------------------


def test_a_break_glass_input_is_kept_to_be_refused_not_dropped() -> None:
    """manifest.yml no longer offers it; a workflow built before still sends it, and its
    incident must reach the workflow's refusal rather than silently file for approval."""
    assert read_inputs("unlink_numbers", BASE | {"break_glass": " INC-4411 "}).break_glass == (
        "INC-4411"
    )
    assert read_inputs("unlink_numbers", BASE | {"break_glass": "  "}).break_glass is None


def test_self_approval_never_extends_to_a_step_s_named_requester() -> None:
    org = Org(
        name="acme",
        api_key=SecretStr("k"),
        api_key_env="K",
        approval_channel="C0APPROVALS",
        policy=Policy(self_approval=True),
        members={"U0A1": Role.APPROVER, "U0B2": Role.APPROVER},
    )
    typed = finished(Status.PENDING)
    by_step = finished(Status.PENDING, filed_by_step=True)
    assert may_approve_own(org, typed) and not may_approve_own(org, by_step)
    assert eligible_approvers(org, typed) == {"U0A1", "U0B2"}
    assert eligible_approvers(org, by_step) == {"U0B2"}


def test_a_step_s_card_says_a_workflow_named_the_requester() -> None:
    said = "Filed by a workflow step; requester as named by the workflow"
    assert said in str(blocks.card(finished(Status.PENDING, filed_by_step=True)))
    assert "one approval more than the policy's" in str(
        blocks.card(finished(Status.PENDING, filed_by_step=True))
    )
    assert said in str(blocks.card(finished(Status.DENIED, filed_by_step=True)))
    assert "workflow step" not in str(blocks.card(finished(Status.PENDING)))
