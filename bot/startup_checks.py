"""A configuration checked the way start-up needs it, with every problem found in one pass.

`check_configuration` is what `sfvopi-bot check-config` prints and what `serve` and `socket`
run before they open anything: the settings, the Slack secrets each mode needs (their shapes,
before anything is sent to Slack), the organization file, the database, and, when asked,
Slack's own opinion of the tokens. It returns every problem, one line each, never the first
alone, and no line ever holds a secret: not a token, not a key, not the database password.

Each check lives in the room it checks (bot/config/checks.py, bot/config/orgfile,
bot/store/problems.py, bot/slack/online_checks.py); this module only runs them in order. The
store and slack-sdk are imported when their check runs, so `bot.cli` stays light to import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.config.checks import MODES, Mode, fallback_settings, load_settings, slack_secret_problems
from bot.config.orgfile import load_orgs
from bot.config.orgfile.fillable import unfillable
from bot.config.settings import Settings, environ_with_dotenv
from bot.core.org import OrgDirectory
from bot.errors import OrgFileError

__all__ = [
    "MODES",
    "Mode",
    "Report",
    "check_configuration",
    "describe_database_error",
    "mode_from_environment",
]


@dataclass
class Report:
    """What a check found: `problems` stop start-up; `notes` are worth a look but do not, nor
    do `warnings`: a policy stage nobody could fill (bot/config/orgfile/fillable.py)."""

    modes: tuple[Mode, ...]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: Settings | None = None  # None when a setting is bad
    directory: OrgDirectory | None = None  # None when the organization file is unusable
    orgs_file: Path | None = None
    database: str | None = None  # a summary line when the database was checked and is fine
    slack: str | None = None  # a summary line when Slack was asked (online) and said yes
    groups: list[str] = field(default_factory=list)  # each user group's members (online)
    members: dict[str, frozenset[str]] = field(default_factory=dict)  # the same, by group
    warnings: list[str] = field(default_factory=list)

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
    settings, bad_fields, problems = load_settings()
    report = Report(modes=tuple(modes) if modes else mode_from_environment(settings))
    report.problems += problems
    usable = settings if not bad_fields else fallback_settings(bad_fields)
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
        await _check_database(report, usable.database_url)

    token_problems = any("SLACK_BOT_TOKEN" in p or "SLACK_APP_TOKEN" in p for p in report.problems)
    if online and usable is not None and "slack_api_url" not in bad_fields and not token_problems:
        await _ask_slack(report, usable)
    if report.directory is not None:
        report.warnings = unfillable(report.directory, str(report.orgs_file), report.members)
    return report


async def _check_database(report: Report, url: str) -> None:
    from bot.store.problems import database_problem, database_summary

    problem = await database_problem(url)
    if problem is None:
        report.database = database_summary(url)
    else:
        report.problems.append(problem)


async def _ask_slack(report: Report, settings: Settings) -> None:
    from bot.slack.online_checks import ask_slack, list_groups

    slack_problems, identity = await ask_slack(settings, report.modes)
    report.problems += slack_problems
    report.slack = identity
    if identity is not None and report.directory is not None:
        group_problems, report.groups, report.members = await list_groups(
            settings, report.directory
        )
        report.problems += group_problems


def describe_database_error(exc: BaseException, url: str) -> str:
    """bot/store/problems.py's line for a database that did not answer, for `serve` and
    `socket` (imported when needed: the store is heavy to import)."""
    from bot.store.problems import describe_database_error as describe

    return describe(exc, url)
