"""The three worked org files (docs/configuration.md) check clean, and the sandbox runs with
the small team's: what the docs show is what the sandbox does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.sandbox.server import SANDBOX_ORGS_YAML

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEYS = {
    "SFVOPI_API_KEY_ACME": "acme-key-not-real",
    "SFVOPI_API_KEY_TELCO": "telco-key-not-real",
    "SFVOPI_API_KEY_BANK": "bank-key-not-real",
}


@pytest.mark.parametrize("name", ["orgs-small-team.yml", "orgs-rules.yml", "orgs-regulated.yml"])
def test_each_worked_file_checks_clean(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable, value in KEYS.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.chdir(tmp_path)
    assert main(["check-config", "--orgs-only", "--orgs", str(EXAMPLES / name)]) == 0
    out, err = capsys.readouterr()
    assert "limits:" in out and err == ""
    assert "warning" not in out  # no policy stage nobody could fill


def test_the_sandbox_runs_the_small_team() -> None:
    example = (EXAMPLES / "orgs-small-team.yml").read_text(encoding="utf-8")
    assert yaml.safe_load(SANDBOX_ORGS_YAML) == yaml.safe_load(example)
