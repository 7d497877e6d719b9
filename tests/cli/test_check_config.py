"""Settings from the environment, and `sfvopi-bot check-config` as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

from bot.cli import main
from bot.config.settings import Settings, describe_error, environ_with_dotenv
from bot.store import async_url
from tests.support.orgs import ORG_ENV, ORGS_YAML, write_orgs

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "orgs.yml"
KEYS = tuple(ORG_ENV.values())
SLACK_SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-test-token-not-real",
    "SLACK_SIGNING_SECRET": "test-signing-secret-not-real",
    "SLACK_APP_TOKEN": "xapp-test-token-not-real",
}


def _ours(name: str) -> bool:
    return name.startswith(("SFVOPI_", "SLACK_")) or name.upper() == "PORT"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting of ours in the environment, and a working directory without a `.env`."""
    for name in list(os.environ):
        if _ours(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in a fresh process with only `env` as our settings."""
    base = {name: value for name, value in os.environ.items() if not _ours(name)}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- settings ---------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_defaults() -> None:
    settings = Settings(_env_file=None)
    assert settings.slack_bot_token is None
    assert settings.slack_signing_secret is None
    assert settings.slack_app_token is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.port == 3000
    assert settings.host == "0.0.0.0"  # noqa: S104
    assert settings.base_url == "https://prod-api.superfone.co.in/superfone"
    assert settings.database_url == "sqlite+aiosqlite:///sfvopi-bot.db"
    assert settings.orgs_file == Path("orgs.yml")
    assert settings.api_timeout_seconds == 10
    assert settings.api_tries == 3
    assert settings.api_concurrency == 8
    assert settings.max_targets == 100
    assert settings.lease_seconds == 120
    assert settings.sweep_interval_seconds == 15
    assert settings.log_level == "INFO"


@pytest.mark.parametrize(
    ("env", "value", "attribute", "expected"),
    [
        (
            "SLACK_API_URL",
            "http://127.0.0.1:9999/api/",
            "slack_api_url",
            "http://127.0.0.1:9999/api/",
        ),
        ("PORT", "8080", "port", 8080),
        ("SFVOPI_HOST", "127.0.0.1", "host", "127.0.0.1"),
        ("SFVOPI_BASE_URL", "http://localhost:8000/sf", "base_url", "http://localhost:8000/sf"),
        ("SFVOPI_DATABASE_URL", "postgresql://db/x", "database_url", "postgresql://db/x"),
        ("SFVOPI_ORGS_FILE", "/etc/sfvopi/orgs.yml", "orgs_file", Path("/etc/sfvopi/orgs.yml")),
        ("SFVOPI_API_TIMEOUT_SECONDS", "2.5", "api_timeout_seconds", 2.5),
        ("SFVOPI_API_TRIES", "5", "api_tries", 5),
        ("SFVOPI_API_CONCURRENCY", "2", "api_concurrency", 2),
        ("SFVOPI_MAX_TARGETS", "10", "max_targets", 10),
        ("SFVOPI_LEASE_SECONDS", "30", "lease_seconds", 30.0),
        ("SFVOPI_SWEEP_INTERVAL_SECONDS", "1", "sweep_interval_seconds", 1.0),
        ("SFVOPI_LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ],
)
@pytest.mark.usefixtures("clean_env")
def test_env_names(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, attribute: str, expected: object
) -> None:
    monkeypatch.setenv(env, value)
    assert getattr(Settings(_env_file=None), attribute) == expected


@pytest.mark.usefixtures("clean_env")
def test_slack_secrets_use_slacks_names_and_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SLACK_SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.slack_bot_token is not None
    assert settings.slack_signing_secret is not None
    assert settings.slack_app_token is not None
    assert settings.slack_bot_token.get_secret_value() == SLACK_SECRETS["SLACK_BOT_TOKEN"]
    assert settings.slack_signing_secret.get_secret_value() == SLACK_SECRETS["SLACK_SIGNING_SECRET"]
    assert settings.slack_app_token.get_secret_value() == SLACK_SECRETS["SLACK_APP_TOKEN"]
    assert not any(secret in repr(settings) for secret in SLACK_SECRETS.values())


@pytest.mark.usefixtures("clean_env")
def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", "")
    monkeypatch.setenv("PORT", "")
    settings = Settings(_env_file=None)
    assert settings.slack_app_token is None
    assert settings.port == 3000


@pytest.mark.usefixtures("clean_env")
def test_attribute_names_as_keyword_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFVOPI_DATABASE_URL", "postgresql://from-env/x")
    settings = Settings(
        database_url="sqlite:///test.db",
        slack_bot_token="xoxb-kwarg",
        port=4000,
        api_tries=1,
        _env_file=None,
    )
    assert settings.database_url == "sqlite:///test.db"
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-kwarg"
    assert settings.port == 4000
    assert settings.api_tries == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://slack.com/api", "https://slack.com/api/"),
        ("http://127.0.0.1:4000/api/", "http://127.0.0.1:4000/api/"),
    ],
)
@pytest.mark.usefixtures("clean_env")
def test_slack_api_url_ends_with_a_slash(given: str, expected: str) -> None:
    assert Settings(slack_api_url=given, _env_file=None).slack_api_url == expected


@pytest.mark.usefixtures("clean_env")
def test_base_url_has_no_trailing_slash() -> None:
    settings = Settings(base_url="http://localhost:8000/superfone/", _env_file=None)
    assert settings.base_url == "http://localhost:8000/superfone"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/bot", "postgresql+asyncpg://u:p@db:5432/bot"),
        ("postgres://u:p@db/bot", "postgresql+asyncpg://u:p@db/bot"),
        ("postgresql+asyncpg://db/bot", "postgresql+asyncpg://db/bot"),
        ("sqlite:///sfvopi-bot.db", "sqlite+aiosqlite:///sfvopi-bot.db"),
        ("sqlite:////var/lib/bot.db", "sqlite+aiosqlite:////var/lib/bot.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_the_store_picks_the_async_driver(url: str, expected: str) -> None:
    assert async_url(Settings(database_url=url, _env_file=None).database_url) == expected


@pytest.mark.parametrize(
    ("env", "value", "reason"),
    [
        ("PORT", "eighty-eighty", "input should be a valid integer"),
        ("PORT", "70000", "input should be less than or equal to 65535"),
        ("SFVOPI_API_TRIES", "0", "input should be greater than or equal to 1"),
        ("SFVOPI_API_TIMEOUT_SECONDS", "-1", "input should be greater than 0"),
        ("SFVOPI_API_CONCURRENCY", "0", "input should be greater than or equal to 1"),
        ("SFVOPI_MAX_TARGETS", "0", "input should be greater than or equal to 1"),
        ("SFVOPI_LEASE_SECONDS", "0", "input should be greater than 0"),
        ("SFVOPI_SWEEP_INTERVAL_SECONDS", "0", "input should be greater than 0"),
        ("SFVOPI_LOG_LEVEL", "LOUD", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("SFVOPI_DATABASE_URL", "mysql://root:hunter2@db/x", "expected a sqlite:/// or postgre"),
        ("SFVOPI_BASE_URL", "prod-api.superfone.co.in", "expected an http:// or https:// URL"),
        ("SLACK_API_URL", "slack.com/api", "expected an http:// or https:// URL"),
    ],
)
@pytest.mark.usefixtures("clean_env")
def test_describe_error_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(pydantic.ValidationError) as caught:
        Settings(_env_file=None)
    line = describe_error(caught.value)
    assert line.startswith(f"bad setting {env}: {reason}")
    assert "\n" not in line
    if len(value) > 5:
        assert value not in line
        assert value not in str(caught.value)


def test_describe_error_uses_env_names_for_keyword_arguments() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Settings(port=0, api_tries=0, _env_file=None)
    assert describe_error(caught.value) == (
        "bad setting PORT: input should be greater than 0; "
        "bad setting SFVOPI_API_TRIES: input should be greater than or equal to 1"
    )


def test_dotenv_file(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-from-dotenv\nSFVOPI_API_TRIES=4\nSFVOPI_API_KEY_ACME=from-dotenv\n"
    )
    settings = Settings()
    assert settings.api_tries == 4
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-dotenv"
    assert environ_with_dotenv()["SFVOPI_API_KEY_ACME"] == "from-dotenv"


def test_environment_wins_over_dotenv(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("SFVOPI_API_TRIES=4\nSFVOPI_API_KEY_ACME=from-dotenv\n")
    monkeypatch.setenv("SFVOPI_API_TRIES", "2")
    monkeypatch.setenv("SFVOPI_API_KEY_ACME", "from-env")
    assert Settings().api_tries == 2
    assert environ_with_dotenv()["SFVOPI_API_KEY_ACME"] == "from-env"
    assert environ_with_dotenv(None)["SFVOPI_API_KEY_ACME"] == "from-env"


# -- check-config -----------------------------------------------------------------------


def test_check_config_on_the_example(tmp_path: Path) -> None:
    result = run_cli(
        "check-config", "--orgs", str(EXAMPLE), env={**ORG_ENV, **SLACK_SECRETS}, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"{EXAMPLE}: OK, 2 organizations" in result.stdout
    assert "warning" not in result.stdout
    for expected in ("org acme", "org globex", "SFVOPI_API_KEY_ACME", "SFVOPI_API_KEY_GLOBEX"):
        assert expected in result.stdout
    assert "delete 2 approvals" in result.stdout
    assert "SLACK_BOT_TOKEN set" in result.stdout
    shown = result.stdout + result.stderr
    assert not any(secret in shown for secret in (*KEYS, *SLACK_SECRETS.values()))


def test_check_config_orgs_only_needs_no_slack_secrets(tmp_path: Path) -> None:
    """The README's example: the org file checked alone, before any Slack secret exists."""
    result = run_cli(
        "check-config", "--orgs-only", "--orgs", str(EXAMPLE), env=ORG_ENV, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"{EXAMPLE}: OK, 2 organizations" in result.stdout
    assert "org acme" in result.stdout
    assert (
        "note: only the organization file was checked (--orgs-only), not the settings, "
        "Slack secrets or database"
    ) in result.stdout.splitlines()
    assert not any(key in result.stdout for key in KEYS)
    assert list(tmp_path.iterdir()) == []  # no database created


def test_check_config_orgs_only_names_each_problem(tmp_path: Path) -> None:
    path = write_orgs(tmp_path, ORGS_YAML.replace("U0ALICE: requester", "U0ALICE: aprover"))
    env = {"SFVOPI_API_KEY_ACME": ORG_ENV["SFVOPI_API_KEY_ACME"]}
    result = run_cli("check-config", "--orgs-only", "--orgs", str(path), env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert f"{path}:13: org acme, member U0ALICE: unknown role 'aprover' " in result.stderr
    assert any("SFVOPI_API_KEY_GLOBEX is not set" in line for line in lines), result.stderr
    assert lines[-1] == f"check-config: 2 problems in {path}"
    assert "SLACK_" not in result.stderr


def test_check_config_on_a_broken_file(tmp_path: Path) -> None:
    path = write_orgs(tmp_path, ORGS_YAML.replace("U0ALICE: requester", "U0ALICE: aprover"))
    result = run_cli("check-config", "--orgs", str(path), env=ORG_ENV, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        f"{path}:13: org acme, member U0ALICE: unknown role 'aprover' "
        "(expected viewer, requester, approver, admin)"
    ) in result.stderr.splitlines()
    assert not any(key in result.stdout + result.stderr for key in KEYS)


ADMIN_STAGE = ORGS_YAML.replace(
    "      self_approval: false\n",
    """\
      self_approval: false
      rules:
        - {name: prod, apps: ['sfv_app_prod_*'], approvers: [S0NETOPS]}
      limits:
        - {name: bulk, action: delete, per: requester, targets: 5, within: 1h, over: needs_admin}
""",
    1,
)  # rule 'prod' on line 13


def test_check_config_warns_of_a_stage_nobody_could_fill_but_passes(tmp_path: Path) -> None:
    """An admin's approval over a limit, under a rule only S0NETOPS may approve: unless an
    admin is in the group, such a request expires; the bot would still start."""
    path = write_orgs(tmp_path, ADMIN_STAGE)
    warning = (
        f"warning: {path}:13: org acme: policy rule 1 'prod' lets only members of S0NETOPS "
        "approve, and limit 1 'bulk' asks one more approval from an admin for a delete over it "
        "(over: needs_admin); an admin outside S0NETOPS is refused, so unless one of the org's "
        "admins (U0DAVE) is in S0NETOPS, a request over the limit under this rule can never be "
        "approved and expires after 60 minutes. Add admin to the rule's approvers (approvers: "
        "[S0NETOPS, admin]), or make sure an admin is in S0NETOPS (check-config --online lists "
        "its members)"
    )
    closing = (
        "check-config: 1 warning: the bot would start, but the requests named above could "
        "never be approved"
    )
    orgs_only = run_cli(
        "check-config", "--orgs-only", "--orgs", str(path), env=ORG_ENV, cwd=tmp_path
    )
    assert orgs_only.returncode == 0, orgs_only.stderr
    assert orgs_only.stderr == ""
    assert orgs_only.stdout.splitlines()[-2:] == [warning, closing]

    everything = run_cli(
        "check-config", "--orgs", str(path), env={**ORG_ENV, **SLACK_SECRETS}, cwd=tmp_path
    )
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.splitlines()[-2:] == [warning, closing]
    assert f"{path}: OK, 2 organizations" in everything.stdout

    broken = ADMIN_STAGE.replace("U0ALICE: requester", "U0ALICE: aprover")
    refused = run_cli(
        "check-config", "--orgs", str(write_orgs(tmp_path, broken)), env=ORG_ENV, cwd=tmp_path
    )
    assert refused.returncode == 1
    assert "warning:" not in refused.stdout + refused.stderr  # the file did not load


def test_check_config_names_a_missing_key_variable(tmp_path: Path) -> None:
    env = {"SFVOPI_API_KEY_ACME": ORG_ENV["SFVOPI_API_KEY_ACME"]}
    result = run_cli("check-config", "--orgs", str(EXAMPLE), env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "org globex: api_key_env SFVOPI_API_KEY_GLOBEX is not set" in result.stderr
    assert ORG_ENV["SFVOPI_API_KEY_ACME"] not in result.stdout + result.stderr


def test_check_config_finds_keys_and_file_through_dotenv(tmp_path: Path) -> None:
    write_orgs(tmp_path, ORGS_YAML)
    # The Slack secrets too: without them `serve` would not start, so check-config says so.
    serve_secrets = {k: SLACK_SECRETS[k] for k in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")}
    (tmp_path / ".env").write_text(
        "SFVOPI_ORGS_FILE=orgs.yml\n"
        + "".join(f"{k}={v}\n" for k, v in {**ORG_ENV, **serve_secrets}.items())
    )
    result = run_cli("check-config", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "orgs.yml: OK, 2 organizations" in result.stdout
    assert "mode: serve (HTTP)" in result.stdout
    shown = result.stdout + result.stderr
    assert not any(key in shown for key in (*KEYS, *serve_secrets.values()))


def test_check_config_stops_on_a_bad_setting(tmp_path: Path) -> None:
    env = {**ORG_ENV, "SFVOPI_DATABASE_URL": "mysql://root:hunter2@db/bot"}
    result = run_cli("check-config", "--orgs", str(EXAMPLE), env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "bad setting SFVOPI_DATABASE_URL: expected a sqlite:/// or postgresql:// URL"
    )
    assert "hunter2" not in result.stdout + result.stderr


def test_check_config_in_process(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {**ORG_ENV, **SLACK_SECRETS}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SFVOPI_ORGS_FILE", str(write_orgs(clean_env, ORGS_YAML)))
    assert main(["check-config"]) == 0
    out, err = capsys.readouterr()
    assert "OK, 2 organizations" in out
    assert err == ""

    assert main(["check-config", "--orgs", str(clean_env / "missing.yml")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "missing.yml: no such file" in err


def test_help_lists_check_config(tmp_path: Path) -> None:
    result = run_cli("--help", env={}, cwd=tmp_path)
    assert result.returncode == 0
    assert "check-config" in result.stdout
