"""Reliability tests: the real `sfvopi-bot serve` in subprocesses, killed, doubled, hammered.

The helpers here start the bot exactly as an operator would (`python -m bot serve` with its
settings in the environment), wired to the test process's Slack stand-in and SFVoPI emulator.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.metrics import scrape
from tests.support.orgs import ORG_ENV, write_orgs
from tests.support.slack import SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET

__all__ = [
    "BotProcess",
    "bot_env",
    "free_port",
    "start_bot_process",
    "swept",
    "wait_until",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_env(
    tmp_path: Path,
    slack: SlackStandin,
    emulator: Emulator,
    database_url: str,
    orgs_yaml: str,
    **extra: str,
) -> dict[str, str]:
    """The environment of a bot process: every setting named, nothing from a stray `.env`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFVOPI_", "SLACK_", "PORT"))}
    env |= ORG_ENV
    env |= {
        "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "SFVOPI_BASE_URL": emulator.base_url,
        "SFVOPI_DATABASE_URL": database_url,
        "SFVOPI_ORGS_FILE": str(write_orgs(tmp_path, orgs_yaml)),
        "SFVOPI_HOST": "127.0.0.1",
        "SFVOPI_API_TIMEOUT_SECONDS": "5",
        "SFVOPI_LOG_LEVEL": "WARNING",
    }
    env |= extra
    return env


@dataclass
class BotProcess:
    """One `sfvopi-bot serve` process; its output goes to a log file, shown when it fails."""

    name: str
    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def output(self) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text[-4000:]

    async def ready(self, timeout: float = 60.0) -> None:
        """Waits for `GET /healthz` to answer 200; fails with the log if the process died."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as http:
            while loop.time() < deadline:
                if self.proc.returncode is not None:
                    raise AssertionError(
                        f"{self.name} exited with {self.proc.returncode}:\n{self.output()}"
                    )
                try:
                    async with http.get(
                        f"http://127.0.0.1:{self.port}/healthz",
                        timeout=aiohttp.ClientTimeout(total=1),
                    ) as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name} never became ready:\n{self.output()}")

    async def died(self, timeout: float = 15.0) -> int:
        """Waits for the process to end by itself (a failpoint) and returns its exit code."""
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name} did not die:\n{self.output()}") from None

    async def sweeps(self, result: str = "ok") -> int:
        """The sweeps it has completed (or failed), as its `/metrics` counts them."""
        found = await scrape(f"http://127.0.0.1:{self.port}/metrics")
        assert found.status == 200, found.text
        return int(found.value("sfvopi_bot_sweeps_total", result=result))

    async def kill9(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not leave in time."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                await self.kill9()


async def start_bot_process(
    name: str,
    env: Mapping[str, str],
    tmp_path: Path,
    *,
    port: int | None = None,
    command: str = "serve",
    preexec_fn: Callable[[], None] | None = None,
) -> BotProcess:
    """`python -m bot COMMAND` as an operator runs it, its output in `<name>.log`."""
    port = port or free_port()
    log = tmp_path / f"{name}.log"
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            command,
            env={**env, "PORT": str(port)},
            cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
    return BotProcess(name, proc, port, log)


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition"
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def swept(
    processes: list[BotProcess], *, after: float = 0.0, passes: int = 3, timeout: float = 60.0
) -> None:
    """Waits, from loop time `after` (when every lease a dead process held has lapsed), until
    each process has completed `passes` more sweeps: all but the first of them began after
    that moment, so each saw the store as it is and had its chance to send a duplicate,
    were one coming. A count of passes, not a sleep: a loaded machine only makes it slower."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, after - loop.time()))
    deadline = loop.time() + timeout
    targets = [await process.sweeps() + passes for process in processes]
    for process, target in zip(processes, targets, strict=True):
        while await process.sweeps() < target:
            if process.proc.returncode is not None or loop.time() > deadline:
                figures = f"{target - passes} ok before, {await process.sweeps()} ok now, "
                figures += f"{await process.sweeps('failed')} failed"
                raise AssertionError(
                    f"{process.name} stopped sweeping ({figures}):\n{process.output()}"
                )
            await asyncio.sleep(0.05)
