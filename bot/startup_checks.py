"""A configuration checked the way start-up needs it, with every problem found in one pass.

`check_configuration` is what `sfvopi-bot check-config` prints and what `serve` and `socket`
run before they open anything: the settings, the Slack secrets each mode needs (their shapes,
before anything is sent to Slack), the organization file, the database, and, when asked,
Slack's own opinion of the tokens. It returns every problem, one line each, never the first
alone, and no line ever holds a secret: not a token, not a key, not the database password.

It lives beside `bot.config` rather than in it: checking the database and Slack means
importing the store and slack-sdk, which the configuration room may not (see
docs/architecture.md). Both are imported lazily, so `bot.cli` stays light to import.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from pydantic import SecretStr

from bot.config.orgfile import load_orgs
from bot.config.settings import Settings, describe_error, environ_with_dotenv
from bot.core.org import OrgDirectory
from bot.errors import OrgFileError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "MODES",
    "Mode",
    "Report",
    "check_configuration",
    "database_problem",
    "describe_database_error",
    "mode_from_environment",
    "slack_secret_problems",
]

Mode = Literal["serve", "socket"]
MODES: tuple[Mode, ...] = ("serve", "socket")

DATABASE_TIMEOUT = 10.0
SLACK_TIMEOUT = 10

_BOT_TOKEN = re.compile(r"xoxb-[0-9A-Za-z][0-9A-Za-z-]*")
_APP_TOKEN = re.compile(r"xapp-[0-9A-Za-z][0-9A-Za-z-]*")
_SLACK_SECRET = re.compile(r"[0-9a-f]{32}")
_MIN_SECRET = 16
# Other Slack credentials, by their public prefix: what someone pasted into the wrong variable.
_KINDS = (
    ("xoxb-", "a bot token (xoxb-…)"),
    ("xapp-", "an app-level token (xapp-…)"),
    ("xoxp-", "a user token (xoxp-…)"),
    ("xoxe", "a token-rotation token (xoxe…)"),
    ("xoxa-", "a workspace token (xoxa-…)"),
    ("xoxs-", "a session token (xoxs-…)"),
    ("xox", "a Slack token of another kind"),
)


@dataclass
class Report:
    """What a check found: `problems` stop start-up; `notes` are worth a look but do not."""

    modes: tuple[Mode, ...]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: Settings | None = None  # None when a setting is bad
    directory: OrgDirectory | None = None  # None when the organization file is unusable
    orgs_file: Path | None = None
    database: str | None = None  # a summary line when the database was checked and is fine
    slack: str | None = None  # a summary line when Slack was asked (online) and said yes
    groups: list[str] = field(default_factory=list)  # each user group's members (online)

    @property
    def ok(self) -> bool:
        return not self.problems


def mode_from_environment(settings: Settings | None) -> tuple[Mode, ...]:
    """What the secrets look configured for: an app token without a signing secret is Socket
    Mode, both are both, anything else is HTTP (`serve`, the default)."""
    if settings is None:
        return ("serve",)
    app = settings.slack_app_token is not None
    signing = settings.slack_signing_secret is not None
    if app and signing:
        return MODES
    return ("socket",) if app else ("serve",)


async def check_configuration(
    modes: Sequence[Mode] | None = None,
    *,
    orgs_file: Path | None = None,
    online: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Report:
    """Every problem that would stop `sfvopi-bot serve` / `socket` (per `modes`; default: what
    the environment looks configured for) from starting, found at once.

    Slack is asked (`auth.test`, and `apps.connections.open` for Socket Mode) only when
    `online`, and only with tokens whose shape is right. The SQLite file is never created.
    """
    settings, bad_fields, problems = _load_settings()
    report = Report(modes=tuple(modes) if modes else mode_from_environment(settings))
    report.problems += problems
    usable = settings if not bad_fields else _fallback_settings(bad_fields)
    report.settings = settings

    if usable is not None:
        secret_problems, notes = slack_secret_problems(usable, report.modes)
        report.problems += secret_problems
        report.notes += notes

    path = orgs_file or (usable.orgs_file if usable is not None else None)
    if path is not None and (orgs_file is not None or "orgs_file" not in bad_fields):
        report.orgs_file = path
        try:
            report.directory = load_orgs(
                path, environ if environ is not None else environ_with_dotenv()
            )
        except OrgFileError as exc:
            report.problems += exc.problems

    if usable is not None and "database_url" not in bad_fields:
        problem = await database_problem(usable.database_url)
        if problem is None:
            report.database = _database_summary(usable.database_url)
        else:
            report.problems.append(problem)

    token_problems = any("SLACK_BOT_TOKEN" in p or "SLACK_APP_TOKEN" in p for p in report.problems)
    if online and usable is not None and "slack_api_url" not in bad_fields and not token_problems:
        slack_problems, identity = await _ask_slack(usable, report.modes)
        report.problems += slack_problems
        report.slack = identity
        if identity is not None and report.directory is not None:
            group_problems, report.groups = await _list_groups(usable, report.directory)
            report.problems += group_problems
    return report


# -- settings ----------------------------------------------------------------------------

_SETTING_START = re.compile(r"; (?=bad setting|missing setting)")


def _load_settings() -> tuple[Settings | None, set[str], list[str]]:
    """Settings, the attribute names of the bad ones, and one line per bad setting."""
    try:
        return Settings(), set(), []
    except pydantic.ValidationError as exc:
        bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        fields = {_field_name(name) for name in bad}
        lines = _SETTING_START.split(describe_error(exc))
        return None, fields, [line for line in lines if line]


def _field_name(name: str) -> str:
    """The attribute an error location names (pydantic reports an alias like `PORT`)."""
    if name in Settings.model_fields:
        return name
    for attribute, info in Settings.model_fields.items():
        if info.validation_alias == name:
            return attribute
    return name


def _fallback_settings(bad_fields: Iterable[str]) -> Settings | None:
    """The settings with each bad one at its default, so the rest can still be checked."""
    defaults = {
        name: Settings.model_fields[name].default
        for name in bad_fields
        if name in Settings.model_fields
    }
    try:
        return Settings(**defaults)
    except pydantic.ValidationError:
        return None


# -- Slack secrets -------------------------------------------------------------------------


def slack_secret_problems(settings: Settings, modes: Iterable[Mode]) -> tuple[list[str], list[str]]:
    """What is wrong with the Slack secrets `modes` need (problems), and what only looks odd
    (notes). Shapes only: nothing is sent anywhere, and no line holds any part of a value."""
    modes = tuple(modes)
    problems: list[str] = []
    notes: list[str] = []
    bot = _token_problem(
        "SLACK_BOT_TOKEN",
        settings.slack_bot_token,
        _BOT_TOKEN,
        "a bot token (xoxb-…)",
        "the Bot User OAuth Token, under OAuth & Permissions",
    )
    if bot:
        problems.append(bot)
    if "socket" in modes:
        app = _token_problem(
            "SLACK_APP_TOKEN",
            settings.slack_app_token,
            _APP_TOKEN,
            "an app-level token (xapp-…)",
            "Socket Mode needs an app-level token with connections:write, "
            "under Basic Information → App-Level Tokens",
        )
        if app:
            problems.append(app)
    if "serve" in modes:
        problem, note = _signing_secret_problem(settings.slack_signing_secret)
        if problem:
            problems.append(problem)
        if note:
            notes.append(note)
    return problems, notes


def _token_problem(
    name: str, secret: SecretStr | None, shape: re.Pattern[str], expected: str, where: str
) -> str | None:
    if secret is None:
        return f"{name} is not set ({where})"
    value = secret.get_secret_value()
    if _has_blank(value):
        return f"{name} has spaces, quotes or line breaks in it: copy the token alone"
    if shape.fullmatch(value):
        return None
    kind = _kind_of(value)
    if kind is not None:
        return f"{name} does not look like {expected}: it looks like {kind}"
    return f"{name} does not look like {expected} ({where})"


def _signing_secret_problem(secret: SecretStr | None) -> tuple[str | None, str | None]:
    if secret is None:
        return (
            "SLACK_SIGNING_SECRET is not set (`serve` checks every request with it: "
            "Basic Information → App Credentials → Signing Secret)"
        ), None
    value = secret.get_secret_value()
    if _has_blank(value):
        return "SLACK_SIGNING_SECRET has spaces, quotes or line breaks in it", None
    kind = _kind_of(value)
    if kind is not None:
        return (
            f"SLACK_SIGNING_SECRET looks like {kind}, not a signing secret "
            "(Basic Information → App Credentials → Signing Secret)"
        ), None
    if len(value) < _MIN_SECRET or not value.isascii() or not value.isprintable():
        return (
            "SLACK_SIGNING_SECRET is not a plausible signing secret "
            "(Slack's are 32 hexadecimal characters)"
        ), None
    if not _SLACK_SECRET.fullmatch(value):
        return None, (
            "SLACK_SIGNING_SECRET is not 32 hexadecimal characters like Slack's; "
            "if Slack's requests are refused (401), check it"
        )
    return None, None


def _has_blank(value: str) -> bool:
    return any(c.isspace() or c in "\"'`" or not c.isprintable() for c in value)


def _kind_of(value: str) -> str | None:
    for prefix, kind in _KINDS:
        if value.startswith(prefix):
            return kind
    return None


# -- the database --------------------------------------------------------------------------


async def database_problem(url: str, *, timeout: float = DATABASE_TIMEOUT) -> str | None:
    """Why start-up could not open the database at `url`, in one line, or None.

    A SQLite file that does not exist yet is judged by its directory (start-up creates it);
    nothing is created here. Otherwise the store is opened, asked `SELECT 1` (what
    `Store.ping` asks, keeping the reason), and closed.
    """
    parsed = _parse(url)
    if parsed is None:
        return "SFVOPI_DATABASE_URL is not a database URL SQLAlchemy can read"
    if parsed.get_backend_name() == "sqlite":
        problem, exists = _sqlite_file_problem(parsed.database)
        if problem is not None or not exists:
            return problem
    return await _connect_problem(url, parsed, timeout)


def _parse(url: str) -> URL | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from bot.store import async_url

    try:
        return make_url(async_url(url))
    except (ArgumentError, ValueError):
        return None


def _sqlite_file_problem(database: str | None) -> tuple[str | None, bool]:
    """(problem, file exists) for a SQLite database path; in-memory ones have no file."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None, False
    path = Path(database)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"SFVOPI_DATABASE_URL: {path} is a directory, not a SQLite file", False
    if not directory.is_dir():
        return (
            f"SFVOPI_DATABASE_URL: the SQLite directory {directory} does not exist "
            "(create it, or point the URL elsewhere)"
        ), False
    if not os.access(directory, os.W_OK | os.X_OK):
        return (
            f"SFVOPI_DATABASE_URL: the SQLite directory {directory} is not writable by this "
            "user (the database and its journal live there)"
        ), path.exists()
    if not path.exists():
        return None, False
    if not os.access(path, os.R_OK | os.W_OK):
        return f"SFVOPI_DATABASE_URL: the SQLite file {path} is not writable by this user", True
    return None, True


async def _connect_problem(url: str, parsed: URL, timeout: float) -> str | None:
    from bot.store import Store

    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        options["connect_args"] = {"timeout": timeout}
    try:
        store = Store(url, engine_options=options)
    except Exception as exc:
        return describe_database_error(exc, url)
    try:
        async with asyncio.timeout(timeout + 1):
            async with store.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        return describe_database_error(exc, url)
    finally:
        await store.close()
    return None


def describe_database_error(exc: BaseException, url: str) -> str:
    """One line saying why the database at `url` did not answer; never its password."""
    parsed = _parse(url)
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        reason = _sqlite_reason(exc)
        return f"SFVOPI_DATABASE_URL: cannot open the SQLite database {parsed.database}: {reason}"
    return _scrub(f"SFVOPI_DATABASE_URL: {_postgres_reason(exc, parsed)}", parsed)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (SQLAlchemy's .orig) and what caused it, outermost first."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _sqlite_reason(exc: BaseException) -> str:
    import sqlite3

    for link in _chain(exc):
        if isinstance(link, sqlite3.Error):
            return _first_line(link)
        if isinstance(link, TimeoutError):
            return "timed out (is the file locked by another program?)"
        if isinstance(link, OSError) and link.strerror:
            return link.strerror
    return _first_line(exc)


def _postgres_reason(exc: BaseException, parsed: URL | None) -> str:
    import asyncpg.exceptions as pg  # type: ignore[import-untyped]

    host = (parsed.host if parsed is not None else None) or "localhost"
    server = f"PostgreSQL at {host}:{(parsed.port if parsed is not None else None) or 5432}"
    user = parsed.username if parsed is not None and parsed.username else "(default)"
    name = parsed.database if parsed is not None and parsed.database else "(default)"
    chain = _chain(exc)
    for link in chain:
        if isinstance(link, pg.InvalidPasswordError):
            return f"{server} refused user {user!r}: authentication failed (check the password)"
        if isinstance(link, pg.InvalidCatalogNameError):
            return f"{server} has no database {name!r} (create it, or fix the URL)"
        if isinstance(link, pg.InvalidAuthorizationSpecificationError):
            return f"{server} refused the login: {_first_line(link)}"
        if isinstance(link, pg.PostgresError):
            return f"{server} refused: {_first_line(link)}"
        if isinstance(link, socket.gaierror):
            return f"cannot resolve the database host name {host!r}"
        if isinstance(link, ConnectionRefusedError):
            return f"cannot reach {server}: connection refused (is it running, is the port right?)"
        if isinstance(link, TimeoutError):
            return f"cannot reach {server}: no answer in time (host, port, firewall?)"
        if isinstance(link, OSError):
            return f"cannot reach {server}: {link.strerror or _first_line(link)}"
    return f"cannot open the database at {server}: {_first_line(chain[-1])}"


def _where(parsed: URL | None) -> str:
    if parsed is None:
        return "unreadable URL"
    host = parsed.host or "localhost"
    port = parsed.port or 5432
    return f"{host}:{port}, database {parsed.database or '(default)'}"


def _scrub(text: str, parsed: URL | None) -> str:
    """The line without the password, whatever a driver put in its message."""
    line = " ".join(text.split())
    password = parsed.password if parsed is not None else None
    if password:
        line = line.replace(str(password), "***")
    return line


def _database_summary(url: str) -> str:
    parsed = _parse(url)
    if parsed is None:  # pragma: no cover - checked already
        return "database: OK"
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            return "database: SQLite in memory (nothing kept after a restart)"
        if Path(database).exists():
            return f"database: SQLite {database}, OK"
        return f"database: SQLite {database} (created at first start)"
    return f"database: PostgreSQL at {_where(parsed)}, OK"


# -- Slack, online -------------------------------------------------------------------------


async def _ask_slack(settings: Settings, modes: Sequence[Mode]) -> tuple[list[str], str | None]:
    """Slack's own answer to the tokens (auth.test; apps.connections.open for Socket Mode)."""
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    assert settings.slack_bot_token is not None
    base = settings.slack_api_url
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=base, timeout=SLACK_TIMEOUT
    )
    problems: list[str] = []
    identity: str | None = None
    try:
        answer = await client.auth_test()
        identity = (
            f"slack: auth.test OK (team {answer.get('team_id')}, bot user {answer.get('user_id')})"
        )
    except SlackApiError as exc:
        problems.append(f"SLACK_BOT_TOKEN: Slack refused it ({_error_code(exc)} from auth.test)")
    except Exception as exc:
        problems.append(f"SLACK_API_URL: cannot reach Slack at {base} ({_network_reason(exc)})")
        return problems, None
    if "socket" in modes and settings.slack_app_token is not None:
        try:
            await client.apps_connections_open(
                app_token=settings.slack_app_token.get_secret_value()
            )
        except SlackApiError as exc:
            problems.append(
                f"SLACK_APP_TOKEN: Slack refused it ({_error_code(exc)} from apps.connections.open)"
            )
        except Exception as exc:
            problems.append(f"SLACK_API_URL: cannot reach Slack at {base} ({_network_reason(exc)})")
    return problems, identity if not problems else None


async def _list_groups(settings: Settings, directory: OrgDirectory) -> tuple[list[str], list[str]]:
    """Each user group the org file grants a role to, with its members as Slack lists them
    now; or why Slack would not list it (nobody would get that group's role)."""
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack.refusals import classify
    from bot.slack.usergroups import list_members

    assert settings.slack_bot_token is not None
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT,
    )
    problems: list[str] = []
    lines: list[str] = []
    for group in sorted(directory.groups()):
        granted = ", ".join(
            [
                *(
                    f"{role} in {org.name}"
                    for org in directory.orgs.values()
                    for g, role in org.group_roles().items()
                    if g == group
                ),
                *(
                    f"workflow steps' requesters in {org.name}"
                    for org in directory.orgs.values()
                    if org.workflow_steps is not None and group in org.workflow_steps.groups()
                ),
            ]
        )
        try:
            members = await list_members(client, group)
        except Exception as exc:
            error = classify(exc).error
            why = _GROUP_REFUSALS.get(error, f"Slack refused to list it ({error})")
            problems.append(f"user group {group} ({granted}): {why}; nobody gets its role")
            continue
        shown = ", ".join(sorted(members)) or "nobody"
        count = f"{len(members)} member{'s' if len(members) != 1 else ''}"
        lines.append(f"user group {group} ({granted}): {count}: {shown}")
    return problems, lines


_GROUP_REFUSALS = {
    "missing_scope": (
        "the Slack app lacks usergroups:read, so its members cannot be read: add the scope "
        "(manifest.yml) and reinstall the app"
    ),
    "no_such_subteam": "Slack has no user group with this id: fix it in the organization file",
    "connection": "Slack did not answer in time",
}


def _error_code(exc: Any) -> str:
    response = getattr(exc, "response", None)
    code = response.get("error") if response is not None else None
    return str(code) if code else "an error"


def _network_reason(exc: BaseException) -> str:
    for link in _chain(exc):
        if isinstance(link, TimeoutError):
            return "no answer in time"
        if isinstance(link, socket.gaierror):
            return "cannot resolve the host name"
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
        if isinstance(link, OSError) and link.strerror:
            return link.strerror
    return type(exc).__name__
