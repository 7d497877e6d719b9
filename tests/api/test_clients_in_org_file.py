"""API clients in the organization file: each names its token's variable (never the token),
acts as a member or as a service identity that may ask or look but never approve, and every
mistake is reported with its line; check-config's summary never shows a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.orgfile import parse_orgs, summary
from bot.core.org import Role
from bot.errors import OrgFileError
from tests.support.api import API_ORGS_YAML

BASE = """\
organizations:
  acme:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0APPROVALS
    members:
      U0ALICE: requester
      U0BOB: approver
    api_clients:
"""
TOKEN = "test-api-token-org-file-not-real-000001"
ENV = {"SFVOPI_API_KEY_ACME": "test-key-acme-not-real", "SFVOPI_API_TOKEN_A": TOKEN}


def problems(clients: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(OrgFileError) as raised:
        parse_orgs(BASE + clients, ENV if env is None else env, source="orgs.yml")
    return raised.value.problems


def test_clients_act_as_a_member_or_as_a_service_identity_with_its_role(
    api_org_env: dict[str, str],
) -> None:
    directory = parse_orgs(API_ORGS_YAML, api_org_env)
    acme = directory.orgs["acme"]
    by_name = {c.name: c for c in acme.api_clients}
    assert by_name["pagerduty"].acts_as == "U0ALICE" and by_name["pagerduty"].role is None
    assert by_name["incident-bot"].acts_as == "api:incident-bot"
    assert acme.role_of("api:incident-bot") is Role.REQUESTER
    assert acme.role_of("api:dashboard") is Role.VIEWER
    assert directory.orgs["globex"].role_of("api:incident-bot") is None  # bound to acme
    assert "api:incident-bot" not in acme.approvers()
    assert [c.name for c in directory.api_clients()][-1] == "globex-bot"


def test_the_summary_counts_clients_and_names_variables_never_tokens(
    api_org_env: dict[str, str],
) -> None:
    text = summary(parse_orgs(API_ORGS_YAML, api_org_env))
    assert "api clients:      4: incident-bot (token from SFVOPI_API_TOKEN_IB, as " in text
    assert "api clients:      1: globex-bot" in text
    for token in api_org_env.values():
        assert token not in text


@pytest.mark.parametrize(
    ("clients", "env", "says"),
    [
        ("      pd: {token_env: SFVOPI_API_TOKEN_B, acts_as: U0ALICE}\n", None, "orgs.yml:9: "
         "org acme: api client pd: token_env SFVOPI_API_TOKEN_B is not set"),
        ("      pd: {token_env: SFVOPI_API_TOKEN_A, acts_as: U0ALICE}\n",
         {**ENV, "SFVOPI_API_TOKEN_A": "  "}, "orgs.yml:9: org acme: api client pd: token_env "
         "SFVOPI_API_TOKEN_A is set but empty"),
        ("      pd: {token_env: SFVOPI_API_TOKEN_A, acts_as: U0ALICE}\n",
         {**ENV, "SFVOPI_API_TOKEN_A": "short"}, "must be at least 24 printable characters"),
        ("      pd: {token_env: " + TOKEN + ", acts_as: U0ALICE}\n", None,
         "token_env must name an environment variable"),
        ("      pd: {token: x, token_env: SFVOPI_API_TOKEN_A, acts_as: U0ALICE}\n", None,
         "unknown key 'token'"),
        ("      pd: {token_env: SFVOPI_API_TOKEN_A}\n", None, "give either acts_as"),
        ("      pd: {token_env: SFVOPI_API_TOKEN_A, acts_as: U0NOBODY}\n", None,
         "acts_as U0NOBODY is not a member of org acme"),
        ("      pd: {token_env: SFVOPI_API_TOKEN_A, acts_as: U0ALICE, role: admin}\n", None,
         "role goes with identity"),
        ("      ib: {token_env: SFVOPI_API_TOKEN_A, identity: ib, role: approver}\n", None,
         "a service identity's role must be viewer or requester"),
        ("      ib: {token_env: SFVOPI_API_TOKEN_A, identity: ib}\n", None,
         "a service identity needs a role"),
        ("      ib: {token_env: SFVOPI_API_TOKEN_A, identity: 'Incident Bot', role: requester}\n",
         None, "identity must be 1 to 32"),
        ("      a: {token_env: SFVOPI_API_TOKEN_A, acts_as: U0ALICE}\n"
         "      b: {token_env: SFVOPI_API_TOKEN_A, identity: b, role: viewer}\n", None,
         "api client b has the same token as api client a"),
        ("      PD: {token_env: SFVOPI_API_TOKEN_A, acts_as: U0ALICE}\n", None,
         "the name must be 1 to 32"),
        ("      [pd]\n", None, "api_clients must map client names"),
    ],
)  # fmt: skip
def test_each_mistake_is_reported_with_its_line(
    clients: str, env: dict[str, str] | None, says: str
) -> None:
    found = problems(clients, env)
    assert any(says in line for line in found), found
    assert all(TOKEN not in line for line in found)


def test_the_commented_clients_in_examples_orgs_yml_work_once_uncommented(
    api_org_env: dict[str, str],
) -> None:
    example = (Path(__file__).resolve().parents[2] / "examples" / "orgs.yml").read_text()
    uncommented = example.replace("    # api_clients:", "    api_clients:").replace(
        "    #   ", "      "
    )
    assert uncommented != example
    env = {
        **api_org_env,
        "SFVOPI_API_TOKEN_PD": TOKEN,
        "SFVOPI_API_TOKEN_IB": TOKEN.replace("0", "9"),
    }
    acme = parse_orgs(uncommented, env).orgs["acme"]
    assert [(c.name, c.acts_as) for c in acme.api_clients] == [
        ("pagerduty", "U0ERIN"),
        ("incident-bot", "api:incident-bot"),
    ]
