"""The `sfvopi-bot` command: one small function per sub-command, each returning an exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from bot.config.orgfile import load_orgs
from bot.config.settings import Settings, environ_with_dotenv
from bot.core.org import OrgDirectory
from bot.errors import ConfigError, OrgFileError, StartupError, StoreError
from bot.observability.logs import add_secrets, configure_logging, console
from bot.startup_checks import Mode, check_configuration, describe_database_error
from bot.subcommands.audit import add_parser as add_audit
from bot.subcommands.check_config import add_parser as add_check_config

if TYPE_CHECKING:
    from bot.slack.after_ack import Background
    from bot.store import Store
    from bot.wiring import Bot

Command = Callable[[argparse.Namespace], int]

log = logging.getLogger("bot.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfvopi-bot",
        description="Destructive SFVoPI operations from Slack, never by one person alone.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_check_config(commands)

    serve_cmd = commands.add_parser(
        "serve",
        help="run the bot over HTTP: POST /slack/events and GET /healthz on PORT",
        description="Run the bot over HTTP (needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET).",
    )
    serve_cmd.add_argument("--port", type=int, help="port to listen on (default: PORT or 3000)")
    serve_cmd.set_defaults(run=serve)

    socket_cmd = commands.add_parser(
        "socket",
        help="run the bot in Socket Mode (needs SLACK_APP_TOKEN); GET /healthz on PORT",
        description="Run the bot over Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN). "
        "No public URL is needed; GET /healthz answers on PORT for container probes.",
    )
    socket_cmd.add_argument("--port", type=int, help="port of GET /healthz (default: PORT or 3000)")
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
    sandbox_cmd.add_argument(
        "--keep",
        action="store_true",
        help="keep the sandbox's database at exit (its path is printed), to try "
        "`sfvopi-bot audit` on it",
    )
    sandbox_cmd.set_defaults(run=sandbox)
    add_audit(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Command = args.run
    return run(args)


def serve(args: argparse.Namespace) -> int:
    return _run(args, socket_mode=False)


def socket(args: argparse.Namespace) -> int:
    return _run(args, socket_mode=True)


def _run(args: argparse.Namespace, *, socket_mode: bool) -> int:
    """Checks everything start-up needs (every problem, one line each, exit 1), then runs until
    SIGTERM or Ctrl-C and finishes the work in flight (exit 0)."""
    mode: Mode = "socket" if socket_mode else "serve"
    try:
        report = asyncio.run(check_configuration((mode,)))
    except KeyboardInterrupt:
        return 130
    if not report.ok:
        for problem in report.problems:
            print(f"sfvopi-bot: {problem}", file=sys.stderr)
        return 1
    settings, directory = report.settings, report.directory
    assert settings is not None and directory is not None
    configure_logging(
        settings.log_level, settings.log_format, secrets=_secrets(settings, directory)
    )
    port = getattr(args, "port", None) or settings.port
    try:
        asyncio.run(_main(settings, directory, socket_mode=socket_mode, port=port))
    except KeyboardInterrupt:
        return 0
    except StartupError as exc:
        console(exc.message, level=logging.ERROR)
        return 1
    return 0


def _secrets(settings: Settings, directory: OrgDirectory) -> list[str]:
    """Every secret value the logs must never show: each SecretStr setting, each org's key,
    each HTTP API client's token."""
    values = [v for v in vars(settings).values() if isinstance(v, SecretStr)]
    values += [org.api_key for org in directory.orgs.values()]
    values += [client.token for client in directory.api_clients()]
    return [v.get_secret_value() for v in values]


def sandbox(args: argparse.Namespace) -> int:
    """The sandbox in the foreground until Ctrl-C; a bad org file or a busy port exit 1."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(
            _sandbox(args.port, args.orgs, open_browser=not args.no_browser, keep=args.keep)
        )
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


async def _sandbox(
    port: int, orgs_file: Path | None, *, open_browser: bool, keep: bool = False
) -> None:
    try:
        from bot.sandbox import start_sandbox
    except ModuleNotFoundError:
        raise StartupError(
            "the sandbox is not installed here (the Docker image leaves it out): "
            "run it from a clone with `pip install -e .`"
        ) from None

    running = await start_sandbox(port=port, orgs_file=orgs_file, keep=keep)
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
        print(f"  {_database_line(running.database, keep)}", flush=True)
        if open_browser:
            await asyncio.to_thread(_open_browser, running.url)
        await stop.wait()
    finally:
        await running.stop()
        if keep:
            print(f"sfvopi-bot sandbox: {_database_line(running.database, keep)}", flush=True)


def _database_line(database: Path | None, keep: bool) -> str:
    """Where the sandbox keeps its log, and (kept) the audit command to read it with."""
    if not keep:
        return f"database: {database} (deleted at exit; --keep keeps it)"
    return (
        f"database: {database} (kept at exit); try: "
        f"SFVOPI_DATABASE_URL=sqlite:///{database} sfvopi-bot audit verify"
    )


def _open_browser(url: str) -> None:
    """Opens a graphical browser; never a text one that would take over this terminal."""
    import webbrowser

    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if headless or not webbrowser.open(url):
        print("  (no browser to open here: open the address above yourself)", flush=True)


# How long a stopping bot waits for the work it promised (commands and clicks already acked,
# executions under way) before it cancels what is left; a container runtime must allow longer
# (`docker stop -t 30`, Kubernetes' terminationGracePeriodSeconds defaults to 30).
SHUTDOWN_GRACE = 20.0


async def _main(
    settings: Settings, directory: OrgDirectory, *, socket_mode: bool, port: int
) -> None:
    """Runs one front door until SIGTERM or SIGINT, then stops taking new commands, waits
    (bounded by SHUTDOWN_GRACE) for the work in flight, and returns; start-up failures become
    a StartupError with one line (no traceback)."""
    from slack_sdk.errors import SlackApiError

    from bot.wiring import bootstrap, run_socket, serve_http

    store = await _open_store(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hurry = asyncio.Event()  # a second signal: stop waiting

    def on_signal(signum: signal.Signals) -> None:
        if stop.is_set():
            console(f"{signum.name} again: not waiting any longer")
            hurry.set()
            return
        console(
            f"{signum.name}: taking no new commands; finishing the work in flight "
            f"(up to {SHUTDOWN_GRACE:g} s)"
        )
        stop.set()

    reloads: set[asyncio.Task[None]] = set()
    bot: Bot | None = None

    def on_hup() -> None:
        if bot is None:
            return  # not running yet: the file is read at start
        task = loop.create_task(_reload_orgs(bot, settings))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    try:
        bot = await bootstrap(settings, orgs=directory, store=store, socket_mode=socket_mode)
        runner = (
            run_socket(bot, health=(settings.host, port), grace=SHUTDOWN_GRACE)
            if socket_mode
            else serve_http(bot, host=settings.host, port=port)
        )
        door = asyncio.create_task(runner)
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({door, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if door.done():
            door.result()
            return
        await _finish_in_flight(bot.services.background, door, hurry)
    except SlackApiError as exc:
        raise StartupError(
            f"SLACK_BOT_TOKEN: Slack refused it ({exc.response.get('error')} from auth.test)"
        ) from None
    except ConfigError as exc:
        raise StartupError(exc.message) from None
    except OSError as exc:
        raise StartupError(_os_error(exc, settings, port)) from None
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        if bot is not None:  # else bootstrap closed the store itself
            await bot.close()


async def _reload_orgs(bot: Bot, settings: Settings) -> None:
    """SIGHUP: the organization file read and checked again; a bad one keeps the old one in
    force and says why, one line per problem."""
    try:
        directory = load_orgs(settings.orgs_file, environ_with_dotenv())
    except OrgFileError as exc:
        for problem in exc.problems:
            console(f"SIGHUP: {problem}")
        console("SIGHUP: the organization file was not reloaded; the old one stays in force")
        return
    add_secrets(_secrets(settings, directory))
    try:
        await bot.reload_orgs(directory)
    except Exception:
        logging.getLogger(__name__).exception("reloading the organization file failed")
        return
    console(
        f"SIGHUP: {settings.orgs_file} reloaded ({len(directory.orgs)} organizations)",
        level=logging.INFO,
    )


async def _open_store(settings: Settings) -> Store:
    """The store opened (and migrated), with a database that went away since the check (or
    cannot be migrated) reported in one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.runtime import open_store

    try:
        return await open_store(settings)
    except StoreError as exc:
        raise StartupError(f"SFVOPI_DATABASE_URL: {exc.message}") from None
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise StartupError(describe_database_error(exc, settings.database_url)) from None


def _os_error(exc: OSError, settings: Settings, port: int) -> str:
    """A network failure at start: reaching Slack, or listening on PORT."""
    import aiohttp

    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        reason = exc.strerror or type(exc).__name__
        return f"SLACK_API_URL: cannot reach Slack at {settings.slack_api_url} ({reason})"
    reason = os.strerror(exc.errno) if exc.errno else exc.strerror or str(exc)
    return f"cannot listen on {settings.host}:{port}: {reason} (check PORT and SFVOPI_HOST)"


async def _finish_in_flight(
    background: Background, door: asyncio.Task[None], hurry: asyncio.Event
) -> None:
    """Closes the front door (no new commands; requests being answered are answered), then
    waits for the work those answers promised, including what it starts in turn (card
    updates, announcements), until SHUTDOWN_GRACE has passed or a second signal arrives."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHUTDOWN_GRACE
    door.cancel()
    if not await _within(door, deadline, hurry):
        door.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        try:
            await door
        except Exception:
            log.exception("the front door failed while closing")
    settled = asyncio.create_task(_settle(background))
    if not await _within(settled, deadline, hurry):
        settled.cancel()
        left = len(background.tasks)
        console(
            f"stopping with {left} task{'' if left == 1 else 's'} unfinished; an "
            "execution left behind is taken over by the sweeper (its lease lapses)"
        )
        await background.drain(0)


async def _settle(background: Background) -> None:
    """Waits until no background work is left, however much more it starts."""
    while background.tasks:
        await asyncio.wait(set(background.tasks))


async def _within(task: asyncio.Task[Any], deadline: float, hurry: asyncio.Event) -> bool:
    """Whether `task` ended before `deadline` and before `hurry` was set."""
    if hurry.is_set():
        return task.done()
    hurried = asyncio.create_task(hurry.wait())
    try:
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        await asyncio.wait({task, hurried}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hurried.cancel()
    return task.done()


if __name__ == "__main__":
    raise SystemExit(main())
