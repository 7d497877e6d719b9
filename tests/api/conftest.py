"""The HTTP API's tests run the bot with an org file that has API clients (tests/support/api.py)."""

import pytest

from tests.support.api import *  # noqa: F403


@pytest.fixture
def orgs_yaml(api_orgs_yaml: str) -> str:
    return api_orgs_yaml


@pytest.fixture
def org_env(api_org_env: dict[str, str]) -> dict[str, str]:
    return api_org_env
