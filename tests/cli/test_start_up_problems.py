"""Start-up problems as an operator on a fresh machine meets them: every problem in one run,
one line each (prefixed `sfvopi-bot:` by serve and socket), exit 1, never a traceback, never
a secret, and nothing sent to Slack before the tokens have the right shape.

Each problem class (settings, Slack secrets, the organization file, the database, Slack's own
answer) is shown in a run that has several problems at once.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.sandbox.slack_standin import SlackStandin
from bot.startup_checks import check_configuration, mode_from_environment
from bot.store.problems import database_problem
from tests.support.orgs import ORG_ENV, ORGS_YAML, write_orgs
from tests.support.processes import free_port
from tests.support.slack import SLACK_APP_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET

REPO = Path(__file__).resolve().parents[2]
# A plausible signing secret of Slack's shape (32 hex characters); not a real one.
HEX_SECRET = "0123456789abcdef0123456789abcdef"
PASSWORD = "hunter2-not-real"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def lines(self) -> list[str]:
        """stderr without the log lines of a bot that got as far as starting."""
        return [line for line in self.stderr.strip().splitlines() if not LOG_LINE.match(line)]

    def shown(self) -> str:
        return self.stdout + self.stderr


def base_env() -> dict[str, str]:
    """The process environment without any setting of ours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "SFVOPI_")) and key.upper() != "PORT"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


async def run_bot(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> Run:
    """`python -m bot ARGS` in a fresh process (async, so the stand-ins keep answering)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env={**base_env(), **env},
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def assert_refused(run: Run, *expected: str, prefixed: bool = True) -> None:
    """Exit 1, each expected fragment on a line of its own, no traceback, one line each
    (log lines of a bot that got as far as starting aside)."""
    assert run.returncode == 1, run
    assert "Traceback" not in run.shown(), run.stderr
    lines = run.lines()
    for fragment in expected:
        assert any(fragment in line for line in lines), f"{fragment!r} not in:\n{run.stderr}"
    if prefixed:
        assert all(line.startswith("sfvopi-bot: ") for line in lines), run.stderr
    assert len(lines) == len(set(lines)), run.stderr


def good_env(tmp_path: Path) -> dict[str, str]:
    """A configuration `serve` starts with (Slack itself never asked)."""
    return {
        **ORG_ENV,
        "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": HEX_SECRET,
        "SFVOPI_ORGS_FILE": str(write_orgs(tmp_path, ORGS_YAML)),
        "SFVOPI_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
    }


# -- everything at once --------------------------------------------------------------------


async def test_with_nothing_configured_serve_lists_every_problem_in_one_run(
    tmp_path: Path,
) -> None:
    run = await run_bot("serve", env={}, cwd=tmp_path)
    assert_refused(
        run,
        "SLACK_BOT_TOKEN is not set",
        "SLACK_SIGNING_SECRET is not set",
        "orgs.yml: no such file",
    )
    assert run.stdout == ""
    assert not (tmp_path / "sfvopi-bot.db").exists(), "a refused start creates no database"


async def test_with_nothing_configured_socket_names_the_app_token(tmp_path: Path) -> None:
    run = await run_bot("socket", env={}, cwd=tmp_path)
    assert_refused(
        run, "SLACK_BOT_TOKEN is not set", "SLACK_APP_TOKEN is not set", "orgs.yml: no such file"
    )
    assert not any("SLACK_SIGNING_SECRET" in line for line in run.lines())


async def test_every_bad_setting_gets_its_own_line_and_the_rest_is_still_checked(
    tmp_path: Path,
) -> None:
    env = {
        **good_env(tmp_path),
        "PORT": "eighty",
        "SFVOPI_API_TRIES": "0",
        "SFVOPI_LOG_LEVEL": "LOUD",
        "SLACK_BOT_TOKEN": "bogus-token-9f8e7d6c",
    }
    del env["SLACK_SIGNING_SECRET"]
    run = await run_bot("serve", env=env, cwd=tmp_path)
    assert_refused(
        run,
        "bad setting PORT: input should be a valid integer",
        "bad setting SFVOPI_API_TRIES: input should be greater than or equal to 1",
        "bad setting SFVOPI_LOG_LEVEL: expected one of",
        "SLACK_BOT_TOKEN does not look like a bot token (xoxb-…)",
        "SLACK_SIGNING_SECRET is not set",
    )
    assert len(run.lines()) == 5, run.stderr
    for value in ("eighty", "LOUD", "bogus-token-9f8e7d6c", "9f8e7d6c"):
        assert value not in run.shown()


async def test_check_config_agrees_with_serve_and_lists_the_same_problems(tmp_path: Path) -> None:
    """The old check-config said OK while serve refused (no Slack token): not any more."""
    env = good_env(tmp_path)
    del env["SLACK_BOT_TOKEN"]
    env["SFVOPI_DATABASE_URL"] = f"sqlite:///{tmp_path / 'gone' / 'bot.db'}"
    check = await run_bot("check-config", env=env, cwd=tmp_path)
    serve = await run_bot("serve", env=env, cwd=tmp_path)
    assert check.returncode == serve.returncode == 1
    assert check.stdout == ""
    problems = check.lines()[:-1]
    assert check.lines()[-1].startswith("check-config: 2 problems (checked for `sfvopi-bot serve`)")
    assert [f"sfvopi-bot: {line}" for line in problems] == serve.lines()
    assert any("SLACK_BOT_TOKEN is not set" in line for line in problems)
    assert any(f"SQLite directory {tmp_path / 'gone'} does not exist" in p for p in problems)


# -- Slack secrets -------------------------------------------------------------------------


async def test_token_shapes_are_judged_before_anything_is_sent_to_slack(
    tmp_path: Path, slack: SlackStandin
) -> None:
    """`SLACK_BOT_TOKEN=foo` is refused here, not sent to Slack to be refused there."""
    env = {
        **good_env(tmp_path),
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": "foo",
        "SLACK_APP_TOKEN": SLACK_BOT_TOKEN,  # the bot token pasted into the wrong variable
        "SLACK_SIGNING_SECRET": "xapp-1-A0-pasted-into-the-wrong-place",
    }
    serve = await run_bot("serve", env=env, cwd=tmp_path)
    socket = await run_bot("socket", env=env, cwd=tmp_path)
    check = await run_bot("check-config", "--mode", "both", "--online", env=env, cwd=tmp_path)
    assert_refused(
        serve,
        "SLACK_BOT_TOKEN does not look like a bot token (xoxb-…)",
        "SLACK_SIGNING_SECRET looks like an app-level token (xapp-…), not a signing secret",
    )
    assert_refused(
        socket,
        "SLACK_BOT_TOKEN does not look like a bot token (xoxb-…)",
        "SLACK_APP_TOKEN does not look like an app-level token (xapp-…): it looks like a bot "
        "token (xoxb-…)",
    )
    assert_refused(check, "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", prefixed=False)
    assert len(check.lines()) == 4, check.stderr
    assert slack.calls == [], "nothing may reach Slack before the shapes are right"
    for run in (serve, socket, check):
        for value in ("pasted-into", SLACK_BOT_TOKEN, "xoxb-test", "xapp-1-A0"):
            assert value not in run.shown(), run.shown()


async def test_secrets_with_blanks_or_of_no_plausible_shape_are_refused(tmp_path: Path) -> None:
    env = {
        **good_env(tmp_path),
        "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN + " ",
        "SLACK_SIGNING_SECRET": "short",
        "SLACK_APP_TOKEN": '"' + SLACK_APP_TOKEN + '"x',
    }
    run = await run_bot("check-config", "--mode", "both", env=env, cwd=tmp_path)
    assert_refused(
        run,
        "SLACK_BOT_TOKEN has spaces, quotes or line breaks in it",
        "SLACK_APP_TOKEN has spaces, quotes or line breaks in it",
        "SLACK_SIGNING_SECRET is not a plausible signing secret",
        prefixed=False,
    )
    assert "short" not in run.shown().replace("is not a plausible", "")


async def test_a_signing_secret_not_shaped_like_slacks_is_a_note_not_a_refusal(
    tmp_path: Path,
) -> None:
    env = {**good_env(tmp_path), "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET}
    run = await run_bot("check-config", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert "note: SLACK_SIGNING_SECRET is not 32 hexadecimal characters" in run.stdout
    assert SLACK_SIGNING_SECRET not in run.shown()


async def test_check_config_mode_follows_the_secrets_unless_told(tmp_path: Path) -> None:
    socket_only = {**good_env(tmp_path), "SLACK_APP_TOKEN": SLACK_APP_TOKEN}
    del socket_only["SLACK_SIGNING_SECRET"]
    guessed = await run_bot("check-config", env=socket_only, cwd=tmp_path)
    assert guessed.returncode == 0, guessed.stderr
    assert "mode: socket (Socket Mode)" in guessed.stdout

    told = await run_bot("check-config", "--mode", "serve", env=socket_only, cwd=tmp_path)
    assert_refused(told, "SLACK_SIGNING_SECRET is not set", prefixed=False)

    both = await run_bot(
        "check-config", env={**socket_only, "SLACK_SIGNING_SECRET": HEX_SECRET}, cwd=tmp_path
    )
    assert both.returncode == 0, both.stderr
    assert "mode: serve (HTTP) and socket (Socket Mode)" in both.stdout


def test_the_mode_guess() -> None:
    from pydantic import SecretStr

    from bot.config.settings import Settings

    def settings(**secrets: str) -> Settings:
        return Settings(_env_file=None, **{k: SecretStr(v) for k, v in secrets.items()})

    assert mode_from_environment(None) == ("serve",)
    assert mode_from_environment(settings()) == ("serve",)
    assert mode_from_environment(settings(slack_app_token="x")) == ("socket",)
    assert mode_from_environment(settings(slack_signing_secret="x")) == ("serve",)
    both = settings(slack_app_token="x", slack_signing_secret="y")
    assert mode_from_environment(both) == ("serve", "socket")


# -- Slack's own answer --------------------------------------------------------------------


async def test_check_config_online_reports_slacks_error_codes(
    tmp_path: Path, slack: SlackStandin
) -> None:
    env = {
        **good_env(tmp_path),
        "SLACK_API_URL": slack.api_url,
        "SLACK_APP_TOKEN": SLACK_APP_TOKEN,
    }
    good = await run_bot("check-config", "--online", env=env, cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "slack: auth.test OK" in good.stdout
    assert [c.method for c in slack.calls] == ["auth.test", "apps.connections.open"]

    wrong = {**env, "SLACK_BOT_TOKEN": "xoxb-wrong-not-real", "SLACK_APP_TOKEN": "xapp-wrong"}
    wrong.pop("SFVOPI_API_KEY_GLOBEX")
    refused = await run_bot("check-config", "--online", env=wrong, cwd=tmp_path)
    assert_refused(
        refused,
        "SLACK_BOT_TOKEN: Slack refused it (invalid_auth from auth.test)",
        "SLACK_APP_TOKEN: Slack refused it (invalid_auth from apps.connections.open)",
        "api_key_env SFVOPI_API_KEY_GLOBEX is not set",
        prefixed=False,
    )
    assert "xoxb-wrong" not in refused.shown() and "xapp-wrong" not in refused.shown()

    gone = {**env, "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/"}
    unreachable = await run_bot("check-config", "--online", env=gone, cwd=tmp_path)
    assert_refused(
        unreachable, "SLACK_API_URL: cannot reach Slack at http://127.0.0.1:", prefixed=False
    )


async def test_serve_refused_by_slack_says_so_in_one_line(
    tmp_path: Path, slack: SlackStandin
) -> None:
    env = {
        **good_env(tmp_path),
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": "xoxb-wrong-not-real",
        "PORT": str(free_port()),
        "SFVOPI_HOST": "127.0.0.1",
    }
    run = await run_bot("serve", env=env, cwd=tmp_path)
    assert_refused(run, "SLACK_BOT_TOKEN: Slack refused it (invalid_auth from auth.test)")
    assert len(run.lines()) == 1, run.stderr


async def test_socket_with_a_refused_app_token_stops_instead_of_retrying_forever(
    tmp_path: Path, slack: SlackStandin
) -> None:
    env = {
        **good_env(tmp_path),
        "SLACK_API_URL": slack.api_url,
        "SLACK_APP_TOKEN": "xapp-wrong-not-real",
        "PORT": str(free_port()),
        "SFVOPI_HOST": "127.0.0.1",
    }
    del env["SLACK_SIGNING_SECRET"]
    run = await run_bot("socket", env=env, cwd=tmp_path, timeout=30)
    assert_refused(
        run, "SLACK_APP_TOKEN: Slack refused it (invalid_auth from apps.connections.open)"
    )
    assert len(run.lines()) == 1, run.stderr
    assert "xapp-wrong" not in run.shown()


async def test_a_busy_port_is_one_line(tmp_path: Path, slack: SlackStandin) -> None:
    busy = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = busy.sockets[0].getsockname()[1]
    try:
        env = {
            **good_env(tmp_path),
            "SLACK_API_URL": slack.api_url,
            "PORT": str(port),
            "SFVOPI_HOST": "127.0.0.1",
        }
        run = await run_bot("serve", env=env, cwd=tmp_path)
    finally:
        busy.close()
        await busy.wait_closed()
    assert_refused(run, f"cannot listen on 127.0.0.1:{port}")
    assert len(run.lines()) == 1, run.stderr


# -- the organization file ------------------------------------------------------------------


async def test_every_org_file_problem_is_listed_with_the_other_problems(tmp_path: Path) -> None:
    env = good_env(tmp_path)
    broken = ORGS_YAML.replace("U0ALICE: requester", "U0ALICE: aprover").replace(
        "approval_channel: C0GLXAPPR", "approval_channel: not-a-channel"
    )
    write_orgs(tmp_path, broken)
    del env["SFVOPI_API_KEY_ACME"]
    del env["SLACK_SIGNING_SECRET"]
    run = await run_bot("serve", env=env, cwd=tmp_path)
    assert_refused(
        run,
        "org acme, member U0ALICE: unknown role 'aprover'",
        "org acme: api_key_env SFVOPI_API_KEY_ACME is not set",
        "org globex: approval_channel",
        "SLACK_SIGNING_SECRET is not set",
    )
    assert not any(key in run.shown() for key in ORG_ENV.values())


# -- the database ---------------------------------------------------------------------------


async def test_database_problems_of_sqlite_are_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "a-directory.db").mkdir()
    missing = await database_problem(f"sqlite:///{tmp_path / 'nowhere' / 'bot.db'}")
    assert missing == (
        f"SFVOPI_DATABASE_URL: the SQLite directory {tmp_path / 'nowhere'} does not exist "
        "(create it, or point the URL elsewhere)"
    )
    directory = await database_problem(f"sqlite:///{tmp_path / 'a-directory.db'}")
    assert directory is not None and "is a directory, not a SQLite file" in directory
    assert await database_problem(f"sqlite:///{tmp_path / 'new.db'}") is None
    assert not (tmp_path / "new.db").exists(), "checking creates nothing"
    (tmp_path / "junk.db").write_bytes(b"this is not a database, not even close to one" * 40)
    junk = await database_problem(f"sqlite:///{tmp_path / 'junk.db'}")
    assert junk is not None and junk.startswith("SFVOPI_DATABASE_URL: cannot open the SQLite")
    assert "\n" not in junk


async def test_an_unwritable_sqlite_directory_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() == 0:  # root writes anywhere: have the check see what an ordinary user sees
        real_access = os.access

        def access(path: object, mode: int) -> bool:
            return False if Path(str(path)) == locked else real_access(path, mode)  # type: ignore[arg-type]

        monkeypatch.setattr("bot.store.problems.os.access", access)
    try:
        problem = await database_problem(f"sqlite:///{locked / 'bot.db'}")
    finally:
        locked.chmod(0o700)
    assert problem is not None and f"directory {locked} is not writable" in problem


def _with(url: str, **parts: object) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


async def test_database_problems_of_postgresql_are_one_line_each_without_the_password(
    postgres_url: str,
) -> None:
    url = _with(postgres_url, password=PASSWORD)
    refused = await database_problem(_with(url, host="127.0.0.1", port=free_port()))
    nameless = await database_problem(_with(url, database=f"no_such_{uuid.uuid4().hex[:8]}"))
    stranger = await database_problem(_with(url, username=f"nobody_{uuid.uuid4().hex[:8]}"))
    unknown_host = await database_problem(_with(url, host="no-such-host.invalid"))
    problems = [refused, nameless, stranger, unknown_host]
    assert all(p is not None and "\n" not in p and PASSWORD not in p for p in problems), problems
    assert refused is not None and "connection refused" in refused
    assert nameless is not None and "has no database 'no_such_" in nameless
    assert stranger is not None and "refused the login" in stranger
    assert unknown_host is not None and "cannot resolve the database host name" in unknown_host
    assert await database_problem(postgres_url) is None


async def test_an_unreachable_database_is_one_line_not_a_traceback(
    tmp_path: Path, postgres_url: str
) -> None:
    """The README promises one line; a refused connection used to print 150."""
    env = good_env(tmp_path)
    env["SFVOPI_DATABASE_URL"] = _with(
        postgres_url, password=PASSWORD, host="127.0.0.1", port=free_port()
    )
    del env["SLACK_BOT_TOKEN"]
    for command in ("serve", "check-config"):
        run = await run_bot(command, env=env, cwd=tmp_path)
        assert_refused(
            run,
            "SFVOPI_DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:",
            "SLACK_BOT_TOKEN is not set",
            prefixed=command == "serve",
        )
        assert PASSWORD not in run.shown()


async def test_check_configuration_returns_every_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The function itself, as a caller other than the CLI would use it."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "SFVOPI_")) or name.upper() == "PORT":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SFVOPI_LEASE_SECONDS", "0")
    monkeypatch.setenv("SFVOPI_DATABASE_URL", f"sqlite:///{tmp_path / 'no' / 'x.db'}")
    report = await check_configuration(("socket",))
    assert not report.ok
    assert report.settings is None and report.directory is None
    assert report.problems[0].startswith("bad setting SFVOPI_LEASE_SECONDS")
    assert [p.split(" ", 1)[0] for p in report.problems[1:]] == [
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "orgs.yml:",
        "SFVOPI_DATABASE_URL:",
    ]
