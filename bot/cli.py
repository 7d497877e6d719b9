"""The `sfvopi-bot` command: one small function per sub-command, each returning an exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pydantic

from bot.config.orgfile import load_orgs, summary
from bot.config.settings import Settings, describe_error, environ_with_dotenv
from bot.core.org import OrgDirectory
from bot.errors import ConfigError, OrgFileError, StartupError

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfvopi-bot",
        description="Destructive SFVoPI operations from Slack, never by one person alone.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check-config",
        help="check the settings and the organization file, then summarise them",
        description="Check the settings and the organization file as start-up would, and print "
        "a summary. API keys are never printed. Exits 1 if anything is wrong.",
    )
    check.add_argument(
        "--orgs",
        type=Path,
        metavar="FILE",
        help="organization file (default: SFVOPI_ORGS_FILE, or orgs.yml)",
    )
    check.set_defaults(run=check_config)

    serve_cmd = commands.add_parser(
        "serve",
        help="run the bot over HTTP: POST /slack/events and GET /healthz on PORT",
        description="Run the bot over HTTP (needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET).",
    )
    serve_cmd.add_argument("--port", type=int, help="port to listen on (default: PORT or 3000)")
    serve_cmd.set_defaults(run=serve)

    socket_cmd = commands.add_parser(
        "socket",
        help="run the bot in Socket Mode (needs SLACK_APP_TOKEN); no public URL needed",
        description="Run the bot over Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN).",
    )
    socket_cmd.set_defaults(run=socket)

    sandbox_cmd = commands.add_parser(
        "sandbox",
        help="try the whole flow in a browser: no Slack workspace, no SFVoPI account needed",
        description="Run the bot, a local Slack stand-in and an SFVoPI emulator on 127.0.0.1, "
        "and open a Slack-like page where you type /sfvopi commands and click Approve as "
        "different people. Nothing leaves your machine.",
    )
    sandbox_cmd.add_argument(
        "--port", type=int, default=3000, help="port of the page (default: 3000; 0 picks one)"
    )
    sandbox_cmd.add_argument(
        "--orgs",
        type=Path,
        metavar="FILE",
        help="your organization file instead of the built-in example (keys from the "
        "environment, or generated for the emulator when unset)",
    )
    sandbox_cmd.add_argument(
        "--no-browser", action="store_true", help="print the page's address, do not open it"
    )
    sandbox_cmd.set_defaults(run=sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Command = args.run
    return run(args)


def load_settings() -> Settings | None:
    """Settings from the environment and `.env`, or None after one line on stderr saying why."""
    try:
        return Settings()
    except pydantic.ValidationError as exc:
        print(describe_error(exc), file=sys.stderr)
        return None


def load_directory(path: Path) -> OrgDirectory | None:
    """The organization directory, or None after printing every problem to stderr."""
    try:
        return load_orgs(path, environ_with_dotenv())
    except OrgFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def check_config(args: argparse.Namespace) -> int:
    settings = load_settings()
    path: Path | None = args.orgs or (settings.orgs_file if settings else None)
    directory = load_directory(path) if path is not None else None
    if settings is None or directory is None:
        print("check-config: the bot would not start with this configuration", file=sys.stderr)
        return 1
    count = len(directory.orgs)
    print(f"{path}: OK, {count} organization{'' if count == 1 else 's'}")
    print(summary(directory))
    print(_slack_credentials(settings))
    return 0


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


def serve(args: argparse.Namespace) -> int:
    return _run(args, socket_mode=False)


def socket(args: argparse.Namespace) -> int:
    return _run(args, socket_mode=True)


def _run(args: argparse.Namespace, *, socket_mode: bool) -> int:
    """Starts the bot; a bad setting, org file or token stops it with one line naming it."""
    settings = load_settings()
    if settings is None:
        return 1
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    directory = load_directory(settings.orgs_file)
    if directory is None:
        return 1
    port = getattr(args, "port", None) or settings.port
    try:
        asyncio.run(_main(settings, directory, socket_mode=socket_mode, port=port))
    except KeyboardInterrupt:
        return 0
    except StartupError as exc:
        print(f"sfvopi-bot: {exc}", file=sys.stderr)
        return 1
    return 0


def sandbox(args: argparse.Namespace) -> int:
    """The sandbox in the foreground until Ctrl-C; a bad org file or a busy port exit 1."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_sandbox(args.port, args.orgs, open_browser=not args.no_browser))
    except KeyboardInterrupt:
        return 0
    except OrgFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except StartupError as exc:
        print(f"sfvopi-bot sandbox: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"sfvopi-bot sandbox: cannot start: {exc.strerror or exc} "
            f"(port {args.port}; choose another with --port)",
            file=sys.stderr,
        )
        return 1
    return 0


async def _sandbox(port: int, orgs_file: Path | None, *, open_browser: bool) -> None:
    try:
        from bot.sandbox import start_sandbox
    except ModuleNotFoundError:
        raise StartupError(
            "the sandbox is not installed here (the Docker image leaves it out): "
            "run it from a clone with `pip install -e .`"
        ) from None

    running = await start_sandbox(port=port, orgs_file=orgs_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        print(f"sfvopi-bot sandbox: open {running.url}  (Ctrl-C stops it)", flush=True)
        if running.users and running.channels:
            print(
                f"  try: as {running.users[0].label}, type /sfvopi help in "
                f"#{running.channels[0]['name']}",
                flush=True,
            )
        if open_browser:
            await asyncio.to_thread(_open_browser, running.url)
        await stop.wait()
    finally:
        await running.stop()


def _open_browser(url: str) -> None:
    """Opens a graphical browser; never a text one that would take over this terminal."""
    import os
    import webbrowser

    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if headless or not webbrowser.open(url):
        print("  (no browser to open here: open the address above yourself)", flush=True)


async def _main(
    settings: Settings, directory: OrgDirectory, *, socket_mode: bool, port: int
) -> None:
    from slack_sdk.errors import SlackApiError

    from bot.slack.app import check_slack_settings
    from bot.slack.http import serve as serve_http
    from bot.slack.services import Services
    from bot.slack.socket_mode import run_socket_mode

    try:
        check_slack_settings(settings, socket_mode=socket_mode)
    except ConfigError as exc:
        raise StartupError(exc.message) from None
    services = await Services.start(settings, orgs=directory)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        runner = (
            run_socket_mode(services)
            if socket_mode
            else serve_http(services, host=settings.host, port=port)
        )
        task = asyncio.create_task(runner)
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    except SlackApiError as exc:
        raise StartupError(
            f"Slack refused the bot token ({exc.response.get('error')}): check SLACK_BOT_TOKEN"
        ) from None
    except ConfigError as exc:
        raise StartupError(exc.message) from None
    except OSError as exc:
        raise StartupError(
            f"cannot start: {exc} (check PORT, SLACK_API_URL and SFVOPI_DATABASE_URL)"
        ) from None
    finally:
        await services.close()


if __name__ == "__main__":
    raise SystemExit(main())
