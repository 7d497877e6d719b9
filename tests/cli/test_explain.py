"""`sfvopi-bot check-config --explain`: which policy rule a request would fall under and why,
from the organization file alone, as `/sfvopi policy` answers it; and the worked example
file with rules (examples/orgs-rules.yml) checks clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.support.orgs import ORG_ENV, write_orgs
from tests.support.policy_orgs import RULES_YAML

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orgs-rules.yml"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name, value in {**ORG_ENV, "SFVOPI_API_KEY_TELCO": "telco-key-not-real"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_explain_a_request(keys: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(write_orgs(keys, RULES_YAML))
    argv = ["check-config", "--orgs", path, "--org", "acme", "--explain"]
    assert main([*argv, "unlink", "+911800000001", "sfv_app_abc123xyz456"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "unlink +911800000001 on sfv_app_abc123xyz456 in acme: rule 1 'hotlines' — refused: "
        "hotlines stay: open a change instead",
        "+911800000001 on sfv_app_abc123xyz456: rule 1 'hotlines' (action unlink, number "
        "matches '+911800*'): refused: \"hotlines stay: open a change instead\"",
        "It would be refused: nothing would be filed.",
    ]
    assert err == ""
    assert main(argv) == 0
    assert "rule 3 'dev apps': delete; apps 'sfv_app_dev*' → 1 approval" in capsys.readouterr()[0]


def test_explain_refuses_what_it_cannot_answer(
    keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(write_orgs(keys, RULES_YAML))
    assert main(["check-config", "--orgs", path, "--explain", "delete", "sfv_app_a1"]) == 1
    assert "several organizations in" in capsys.readouterr()[1]
    argv = ["check-config", "--orgs", path, "--org", "acme", "--explain", "delete", "nope"]
    assert main(argv) == 1
    assert "`nope` is not an app id" in capsys.readouterr()[1]
    broken = str(write_orgs(keys, RULES_YAML.replace("approvals: 2\n", "approvals: two\n", 1)))
    assert main(["check-config", "--orgs", broken, "--org", "acme", "--explain"]) == 1
    assert "fix" in capsys.readouterr()[1]


def test_the_worked_example_checks_clean_and_explains(
    keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--orgs-only", "--orgs", str(EXAMPLE)]) == 0
    assert "rule 7 'sandbox apps'" in capsys.readouterr()[0]
    argv = ["check-config", "--orgs", str(EXAMPLE), "--explain", "delete"]
    assert main([*argv, "sfv_app_prod_billing", "sfv_app_sbx_1"]) == 0
    out = capsys.readouterr()[0]
    assert out.splitlines()[0] == (
        "delete sfv_app_prod_billing, sfv_app_sbx_1 in telco: rules 2 'prod apps', 7 'sandbox "
        "apps' — 2 approvals from admins or members of S0NETOPS; no break-glass"
    )
    assert "rule 6 'empty sandbox apps' was passed over" in out


def test_explain_as_if_the_linked_numbers_were_known(
    keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check-config", "--orgs", str(EXAMPLE), "--explain", "delete", "sfv_app_sbx_1"]
    assert main([*argv, "--linked-numbers", "0"]) == 0
    assert capsys.readouterr()[0].splitlines()[0] == (
        "delete sfv_app_sbx_1 in telco: rule 6 'empty sandbox apps' — 1 approval"
    )
