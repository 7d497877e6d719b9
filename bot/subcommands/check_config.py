"""`sfvopi-bot check-config`: every problem at once (bot/startup_checks.py), or a summary of
what the bot would start with; never a secret either way."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config.orgfile import load_orgs, summary
from bot.config.orgfile.fillable import unfillable
from bot.config.settings import Settings, environ_with_dotenv
from bot.errors import OrgFileError
from bot.startup_checks import MODES, Mode, check_configuration

__all__ = ["MODE_CHOICES", "add_parser", "check_config"]


def add_parser(commands: Any) -> None:
    """`check-config [--orgs FILE] [--orgs-only] [--mode serve|socket|both] [--online]
    [--explain [ACTION TARGET…] [--org NAME]]`."""
    check = commands.add_parser(
        "check-config",
        help="check the settings, Slack secrets, organization file and database, then "
        "summarise them",
        description="Check the configuration as start-up would (settings, the Slack secrets "
        "the mode needs, the organization file, the database) and print every problem, or a "
        "summary. No secret is ever printed. Exits 1 if anything is wrong.",
    )
    check.add_argument(
        "--orgs",
        type=Path,
        metavar="FILE",
        help="organization file (default: SFVOPI_ORGS_FILE, or orgs.yml)",
    )
    check.add_argument(
        "--orgs-only",
        action="store_true",
        help="check only the organization file (and its API key variables), not the settings, "
        "Slack secrets or database: for a file being written before the bot is set up",
    )
    check.add_argument(
        "--mode",
        choices=sorted(MODE_CHOICES),
        help="which command to check for: serve (HTTP), socket (Socket Mode) or both "
        "(default: what the Slack secrets look configured for, else serve)",
    )
    check.add_argument(
        "--online",
        action="store_true",
        help="also ask Slack whether it accepts the tokens (auth.test; apps.connections.open "
        "for Socket Mode)",
    )
    check.add_argument(
        "--explain",
        nargs="*",
        metavar="WORD",
        help="say which policy rule a request would fall under and why, e.g. --explain delete "
        "sfv_app_abc123 (no words: list the rules); reads only the organization file",
    )
    check.add_argument(
        "--org", metavar="NAME", help="with --explain: the organization (needed if several)"
    )
    check.add_argument(
        "--linked-numbers",
        type=int,
        metavar="N",
        help="with --explain delete: as if the apps had N numbers linked in all (rules that "
        "bound linked numbers are otherwise passed over: the bot cannot count them yet)",
    )
    check.set_defaults(run=check_config)


def check_config(args: argparse.Namespace) -> int:
    """Every problem at once (exit 1), or a summary (exit 0); never a secret either way."""
    if args.explain is not None:
        from bot.subcommands.explain import explain

        return explain(args.orgs, args.org, args.explain, args.linked_numbers)
    if args.orgs_only:
        return _check_orgs_only(args.orgs)
    modes: tuple[Mode, ...] | None = MODE_CHOICES[args.mode] if args.mode else None
    report = asyncio.run(check_configuration(modes, orgs_file=args.orgs, online=args.online))
    if not report.ok:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        commands = " and ".join(f"`sfvopi-bot {mode}`" for mode in report.modes)
        print(
            f"check-config: {_count(len(report.problems), 'problem')} (checked for {commands}); "
            "the bot would not start with this configuration",
            file=sys.stderr,
        )
        return 1
    assert report.settings is not None and report.directory is not None
    count = len(report.directory.orgs)
    print(f"{report.orgs_file}: OK, {_count(count, 'organization')}")
    print(summary(report.directory))
    print(_slack_credentials(report.settings))
    print(f"mode: {_modes(report.modes)}")
    if report.database:
        print(report.database)
    if report.slack:
        print(report.slack)
    for line in report.groups:
        print(line)
    for note in report.notes:
        print(f"note: {note}")
    _warn(report.warnings)
    return 0


def _check_orgs_only(path: Path | None) -> int:
    """The organization file alone, as start-up would read it (keys from the environment or
    `.env`), saying that nothing else was checked."""
    environ = environ_with_dotenv()
    path = path or Path(environ.get("SFVOPI_ORGS_FILE") or "orgs.yml")
    try:
        directory = load_orgs(path, environ)
    except OrgFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"check-config: {_count(len(exc.problems), 'problem')} in {path}", file=sys.stderr)
        return 1
    print(f"{path}: OK, {_count(len(directory.orgs), 'organization')}")
    print(summary(directory))
    print(
        "note: only the organization file was checked (--orgs-only), not the settings, "
        "Slack secrets or database"
    )
    _warn(unfillable(directory, str(path)))
    return 0


def _warn(warnings: list[str]) -> None:
    """Policy stages nobody could fill: the bot starts all the same, but such requests
    expire unapproved."""
    for warning in warnings:
        print(f"warning: {warning}")
    if warnings:
        print(
            f"check-config: {_count(len(warnings), 'warning')}: the bot would start, but the "
            "requests named above could never be approved"
        )


MODE_CHOICES: dict[str, tuple[Mode, ...]] = {
    "serve": ("serve",),
    "socket": ("socket",),
    "both": MODES,
}


def _modes(modes: tuple[Mode, ...]) -> str:
    names = {"serve": "serve (HTTP)", "socket": "socket (Socket Mode)"}
    return " and ".join(names[mode] for mode in modes)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _slack_credentials(settings: Settings) -> str:
    """Which Slack secrets are present (never their values), since serve and socket need them."""
    present = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
        "SLACK_APP_TOKEN": settings.slack_app_token,
    }
    return "slack: " + ", ".join(
        f"{name} {'set' if value is not None else 'not set'}" for name, value in present.items()
    )
