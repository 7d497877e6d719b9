"""`sfvopi-bot check-config`: every problem at once (bot/startup_checks.py), or a summary of
what the bot would start with; never a secret either way."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config.orgfile import summary
from bot.config.settings import Settings
from bot.startup_checks import MODES, Mode, check_configuration

__all__ = ["MODE_CHOICES", "add_parser", "check_config"]


def add_parser(commands: Any) -> None:
    """`check-config [--orgs FILE] [--mode serve|socket|both] [--online]`."""
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
    check.set_defaults(run=check_config)


def check_config(args: argparse.Namespace) -> int:
    """Every problem at once (exit 1), or a summary (exit 0); never a secret either way."""
    modes: tuple[Mode, ...] | None = MODE_CHOICES[args.mode] if args.mode else None
    report = asyncio.run(check_configuration(modes, orgs_file=args.orgs, online=args.online))
    if not report.ok:
        for problem in report.problems:
            print(problem, file=sys.stderr)
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
    return 0


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
