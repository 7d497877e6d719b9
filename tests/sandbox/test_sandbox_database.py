"""The sandbox's database (printed, kept with --keep, so the README's audit commands can be
tried on it) and the user groups of the example org file, known to the Slack stand-in."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from pathlib import Path

import aiohttp

from bot.sandbox import start_sandbox

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "orgs.yml"
UNLINK = "/sfvopi unlink +918000000001 app_abc123 fraud on this DID, INC-4411"


def _env() -> dict[str, str]:
    """Our settings removed (the sandbox generates keys); this checkout's code imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFVOPI_", "SLACK_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return {**env, "PYTHONUNBUFFERED": "1"}


async def _bot(*args: str, database: Path | None = None) -> asyncio.subprocess.Process:
    env = _env() if database is None else {**_env(), "SFVOPI_DATABASE_URL": f"sqlite:///{database}"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=REPO,
    )


async def test_keep_leaves_a_database_the_audit_command_reads() -> None:
    process = await _bot("sandbox", "--port", "0", "--no-browser", "--keep", "--orgs", str(EXAMPLE))
    database: Path | None = None
    try:
        assert process.stdout is not None and process.stderr is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), 60)).decode() for _ in range(3)]
        url = lines[0].split("open ", 1)[1].split()[0]
        found = re.search(r"database: (\S+) \(kept at exit\); try: SFVOPI_DATABASE_URL=", lines[2])
        assert found, lines
        database = Path(found.group(1))
        assert (
            lines[2]
            .rstrip()
            .endswith(f"SFVOPI_DATABASE_URL=sqlite:///{database} sfvopi-bot audit verify")
        )
        body = {"user": "U0ALICE", "channel": "C0OPS", "text": UNLINK}
        async with aiohttp.ClientSession() as http, http.post(url + "api/command", json=body):
            pass
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 60) == 0
        err = (await process.stderr.read()).decode()
        assert "no_such_subteam" not in err and "S0ONCALL" not in err, err
        assert database.is_file()

        verify = await _bot("audit", "verify", database=database)
        out, verr = await asyncio.wait_for(verify.communicate(), 60)
        assert verify.returncode == 0, verr
        assert re.match(r"audit chains intact: \d+ events of 1 requests", out.decode()), out
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if database is not None:
            shutil.rmtree(database.parent, ignore_errors=True)


async def test_the_database_goes_at_stop_unless_kept() -> None:
    gone = await start_sandbox(port=0)
    kept = await start_sandbox(port=0, keep=True)
    assert gone.database is not None and kept.database is not None
    try:
        assert gone.database.is_file() and kept.database.is_file()
    finally:
        await gone.stop()
        await kept.stop()
    try:
        assert not gone.database.parent.exists()
        assert kept.database.is_file()
    finally:
        shutil.rmtree(kept.database.parent, ignore_errors=True)


async def test_the_example_files_groups_have_members() -> None:
    """examples/orgs.yml grants approver to S0ONCALL and lets it file steps: the stand-in
    answers for it with the approvers, and the page offers people, not the group."""
    running = await start_sandbox(port=0, orgs_file=EXAMPLE, environ={})
    try:
        assert running.slack.usergroups == {"S0ONCALL": ["U0BOB", "U0CAROL"]}
        assert "S0ONCALL" not in [user.id for user in running.users]
        acme = running.directory.orgs["acme"]
        assert acme.unknown_groups(running.slack.usergroups) == []
    finally:
        await running.stop()
