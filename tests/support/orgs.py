"""Fixtures: the test organizations acme and globex, their fake keys, and a file writer.

acme: U0ALICE requester, U0BOB and U0CAROL approvers, U0DAVE admin, U0VIC viewer, U0MULTI
requester; unlink needs 1 approval, delete 2; commands only in C0OPS; outcomes to C0OPSLOG.
globex: U0GINA requester, U0GARY and U0MULTI approvers; 1 approval each; commands anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.orgfile import parse_orgs
from bot.core.org import OrgDirectory

__all__ = ["ORGS_YAML", "ORG_ENV", "org_env", "orgs", "orgs_yaml", "write_orgs"]

ORG_ENV = {
    "SFVOPI_API_KEY_ACME": "test-key-acme-not-real",
    "SFVOPI_API_KEY_GLOBEX": "test-key-globex-not-real",
}

ORGS_YAML = """\
organizations:
  acme:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0APPROVALS
    outcome_channel: C0OPSLOG
    command_channels: [C0OPS]
    policy:
      unlink: {approvals: 1}
      delete: {approvals: 2}
      ttl_minutes: 60
      self_approval: false
    members:
      U0ALICE: requester
      U0BOB: approver
      U0CAROL: approver
      U0DAVE: admin
      U0VIC: viewer
      U0MULTI: requester
  globex:
    api_key_env: SFVOPI_API_KEY_GLOBEX
    approval_channel: C0GLXAPPR
    policy:
      unlink: {approvals: 1}
      delete: {approvals: 1}
    members:
      U0GINA: requester
      U0GARY: approver
      U0MULTI: approver
"""


def write_orgs(tmp_path: Path, text: str) -> Path:
    """Write `text` as an organization file under `tmp_path`, for code that takes a path."""
    path = tmp_path / "orgs.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def org_env() -> dict[str, str]:
    """The environment variables holding the test orgs' (fake) API keys; a fresh copy each time."""
    return dict(ORG_ENV)


@pytest.fixture
def orgs_yaml() -> str:
    return ORGS_YAML


@pytest.fixture
def orgs(orgs_yaml: str, org_env: dict[str, str]) -> OrgDirectory:
    return parse_orgs(orgs_yaml, org_env, source="tests/fixtures/orgs.py")
