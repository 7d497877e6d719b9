"""`sfvopi-bot sandbox`: the whole flow on a laptop, in a browser, with no Slack workspace.

One asyncio process on 127.0.0.1 runs three real servers and a page:

- the SFVoPI emulator (`bot.sandbox.emulator`), seeded with demo apps and numbers for every org;
- the Slack stand-in (`bot.sandbox.slack_standin`), which is both Slack's Web API for the bot
  and the Slack client that sends the bot signed slash commands and button clicks;
- the bot itself, on its real HTTP endpoint with signature checks, a per-run signing secret
  and a SQLite database in a temporary directory;
- a small page server: `GET /` is a Slack-like workspace (`bot/sandbox/static/sandbox.html`), and
  `/api/state`, `/api/command`, `/api/message`, `/api/click`, `/api/home` (open the Home tab),
  `/api/home_click`, `/api/submit` and `/api/close_view` (a modal) drive the stand-in for it.

Nothing leaves the machine: the page has no external assets and the bot talks to loopback only.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings, environ_with_dotenv
from bot.core import ids
from bot.core.org import OrgDirectory, Role
from bot.errors import OrgFileError
from bot.sandbox.emulator import Emulator
from bot.sandbox.page import page_app
from bot.sandbox.slack_standin import BOT_USER_ID, SlackStandin
from bot.wiring import Bot, bootstrap, http_application

__all__ = [
    "DEMO_APPS",
    "OUTSIDER",
    "SANDBOX_ORGS_YAML",
    "Sandbox",
    "SandboxUser",
    "start_sandbox",
]

SANDBOX_ORGS_YAML = """\
# The sandbox's built-in organization: one org, its channels, people and policy (the small
# team of examples/orgs-small-team.yml).
organizations:
  acme:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0APPROVALS
    outcome_channel: C0OPSLOG
    command_channels: [C0OPS]
    policy:
      unlink: {approvals: 1}
      delete: {approvals: 2}
      ttl_minutes: 60
      self_approval: false
      break_glass: {roles: [admin], require_incident: true, review_within_minutes: 60}
      limits:
        - {name: fat finger, action: unlink, per: requester, targets: 20, within: 1h}
    workflow_steps: {enabled: true}
    members:
      U0ALICE: requester
      U0BOB: approver
      U0CAROL: approver
      U0DAVE: admin
      U0VIC: viewer
"""

# Display names for the built-in org's people and channels (a user's own file gets names
# derived from the ids instead).
BUILTIN_USER_NAMES = {
    "U0ALICE": "Alice",
    "U0BOB": "Bob",
    "U0CAROL": "Carol",
    "U0DAVE": "Dave",
    "U0VIC": "Victor",
    "U0EVE": "Eve",
}
BUILTIN_CHANNEL_NAMES = {"C0OPS": "ops", "C0APPROVALS": "approvals", "C0OPSLOG": "ops-log"}

OUTSIDER = "U0EVE"
GENERAL = "C0GENERAL"

# Apps and their linked numbers, seeded for every organization: each number is linked to one
# app only, so an unlink visibly removes it; the README's examples run as written.
DEMO_APPS: dict[str, tuple[str, ...]] = {
    "app_abc123": ("+918000000001", "+918000000002"),
    "sfv_app_abc123xyz456": ("+918000000003", "+918000000004"),
    "sfv_app_def789ghi012": ("+918000000005",),
    "sfv_app_empty0000001": (),
}

_ENV_VAR = re.compile(r"[A-Z_][A-Z0-9_]*")


@dataclass(frozen=True)
class SandboxUser:
    """Someone the page lets you be: `role` is a label like "requester" or "not in any org"."""

    id: str
    name: str
    role: str
    label: str


@dataclass
class Sandbox:
    """A running sandbox; `url` is the page. Stop it with `await sandbox.stop()`."""

    url: str
    emulator: Emulator
    slack: SlackStandin
    bot: Bot
    directory: OrgDirectory
    users: list[SandboxUser]
    channels: list[dict[str, str]]
    database: Path | None = None  # the SQLite file, kept after stop() when `keep`
    keep: bool = False
    _runners: list[web.AppRunner] = field(default_factory=list, repr=False)
    _stopped: bool = field(default=False, repr=False)

    _links: int = field(default=0, repr=False)

    @property
    def version(self) -> int:
        """Grows whenever the workspace, the emulator's call log or its links change."""
        return self.slack.version + len(self.emulator.calls) + self._links

    def link_behind(self, org: str, app_id: str, number: str) -> None:
        """The page's control: `number` linked to `app_id` as another SFVoPI user would."""
        self.emulator.link_behind(org, app_id, number)
        self._links += 1

    async def wait_changed(self, since: int, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.version <= since:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            # The emulator has no change event of its own; its calls are seen within 200 ms.
            await self.slack.wait_changed(self.slack.version, min(remaining, 0.2))
        return self.version

    async def settle(self, timeout: float = 10.0) -> None:
        """Waits until the bot has finished every piece of work it started after an ack."""
        await self.bot.services.background.settle(timeout)

    def config(self) -> dict[str, Any]:
        return {
            "team": "SFVoPI Sandbox",
            "bot": {"id": BOT_USER_ID, "name": self.slack.user_name(BOT_USER_ID)},
            "users": [asdict(user) for user in self.users],
            "channels": self.channels,
            "orgs": [
                {
                    "name": org.name,
                    "approval_channel": org.approval_channel,
                    "outcome_channel": org.outcome_channel,
                    "command_channels": list(org.command_channels),
                    "approvals": {a.value: n for a, n in org.policy.approvals.items()},
                }
                for org in self.directory.orgs.values()
            ],
        }

    def state(self) -> dict[str, Any]:
        """Everything the page shows, as JSON-able data."""
        return {
            "version": self.version,
            "config": self.config(),
            "slack": self.slack.snapshot(),
            "emulator": {
                "apps": self.emulator.snapshot(),
                "calls": [asdict(call) for call in self.emulator.calls[-200:]],
            },
        }

    async def step_requests(self) -> dict[str, int]:
        """The request each workflow step filed (execution id → request number), so a step
        still running shows which card it waits on."""
        store = self.bot.store
        filed: dict[str, int] = {}
        for execution_id in list(self.slack.step_runs):
            run = await store.function_run(execution_id)
            if run is not None and run.request_id is not None:
                filed[execution_id] = run.request_id
        return filed

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for runner in self._runners:
            await runner.cleanup()
        await self.bot.close()
        await self.slack.stop()
        await self.emulator.stop()
        if self.database is not None and not self.keep:
            shutil.rmtree(self.database.parent, ignore_errors=True)


async def start_sandbox(
    port: int = 0,
    orgs_file: Path | None = None,
    *,
    host: str = "127.0.0.1",
    environ: Mapping[str, str] | None = None,
    keep: bool = False,
    database: Path | None = None,
) -> Sandbox:
    """Start the emulator, the Slack stand-in, the bot and the page; `port` 0 picks a free one.

    With `orgs_file`, API keys come from `environ` (default: the environment and `.env`); an
    org whose key variable is unset gets a generated sandbox key, since only the emulator
    ever sees it. Raises `OrgFileError` for a bad file and OSError for a busy port. The
    database is a SQLite file in a new temporary directory (or `database`, a file in a
    directory of its own: tests pass one already migrated), removed at stop unless `keep`.
    """
    text, environ = _org_source(orgs_file, environ)
    source = str(orgs_file) if orgs_file is not None else "<sandbox>"
    directory = parse_orgs(text, environ, source=source)

    emulator = Emulator()
    bot_token = f"xoxb-sandbox-{secrets.token_hex(8)}"
    slack = SlackStandin(bot_token=bot_token)
    database = database or Path(tempfile.mkdtemp(prefix="sfvopi-sandbox-")) / "sandbox.db"
    bot: Bot | None = None
    runners: list[web.AppRunner] = []
    try:
        await emulator.start(host)
        for org in directory.orgs.values():
            key = org.api_key.get_secret_value()
            emulator.add_key(key, org.name)
            for app_id, numbers in DEMO_APPS.items():
                emulator.add_app(key, app_id, numbers)
        await slack.start(host)
        users = _users(directory, builtin=orgs_file is None)
        channels = _channels(directory)
        for user in users:
            slack.user_names[user.id] = user.name.lower()
        for channel in channels:
            slack.channel_names[channel["id"]] = channel["name"]
        for group, members in _usergroups(directory).items():
            slack.set_usergroup(group, members)

        signing_secret = secrets.token_hex(16)
        settings = Settings(
            _env_file=None,
            slack_bot_token=bot_token,
            slack_signing_secret=signing_secret,
            slack_api_url=slack.api_url,
            base_url=emulator.base_url,
            database_url=f"sqlite:///{database}",
            api_timeout_seconds=5,
        )
        bot = await bootstrap(settings, orgs=directory)
        bot_runner = web.AppRunner(http_application(bot), access_log=None)
        await bot_runner.setup()
        runners.append(bot_runner)
        await web.TCPSite(bot_runner, host, 0).start()
        bot_port = bot_runner.addresses[0][1]
        slack.configure(f"http://{host}:{bot_port}/slack/events", signing_secret)
        bot.sweepers.start()

        sandbox = Sandbox(
            url="",
            emulator=emulator,
            slack=slack,
            bot=bot,
            directory=directory,
            users=users,
            channels=channels,
            database=database,
            keep=keep,
        )
        page_runner = web.AppRunner(page_app(sandbox), access_log=None, shutdown_timeout=1.0)
        await page_runner.setup()
        runners.insert(0, page_runner)
        await web.TCPSite(page_runner, host, port).start()
        sandbox.url = f"http://{host}:{page_runner.addresses[0][1]}/"
        sandbox._runners = runners
        return sandbox
    except BaseException:
        for runner in runners:
            await runner.cleanup()
        if bot is not None:
            await bot.close()
        await slack.stop()
        await emulator.stop()
        shutil.rmtree(database.parent, ignore_errors=True)
        raise


def _org_source(
    orgs_file: Path | None, environ: Mapping[str, str] | None
) -> tuple[str, dict[str, str]]:
    """The org file's text and the environment to read its keys from, sandbox keys filled in."""
    if orgs_file is None:
        return SANDBOX_ORGS_YAML, {"SFVOPI_API_KEY_ACME": _sandbox_key()}
    try:
        text = Path(orgs_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise OrgFileError([f"{orgs_file}: cannot read the organization file: {reason}"]) from None
    env = dict(environ_with_dotenv() if environ is None else environ)
    for variable in _key_variables(text):
        if not env.get(variable, "").strip():
            env[variable] = _sandbox_key()
    return text, env


def _key_variables(text: str) -> list[str]:
    """Every `api_key_env` the file names; a malformed file is left for `parse_orgs` to explain."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    orgs = document.get("organizations") if isinstance(document, dict) else None
    if not isinstance(orgs, dict):
        return []
    found = [body.get("api_key_env") for body in orgs.values() if isinstance(body, dict)]
    return [v for v in found if isinstance(v, str) and _ENV_VAR.fullmatch(v)]


def _sandbox_key() -> str:
    return f"sandbox-key-{secrets.token_hex(8)}"


def _users(directory: OrgDirectory, *, builtin: bool) -> list[SandboxUser]:
    """Requesters, approvers, admins, viewers (by each one's highest role), then an outsider."""
    roles: dict[str, list[str]] = {}
    for org in directory.orgs.values():
        for user, role in org.members.items():
            if ids.USERGROUP_ID.fullmatch(user):
                continue  # a user group is not someone to be
            where = f" in {org.name}" if len(directory.orgs) > 1 else ""
            roles.setdefault(user, []).append(f"{role.label}{where}")
    best = {user: max(role for _, role in directory.memberships(user)) for user in roles}
    people = [(u, ", ".join(roles[u])) for u in sorted(roles, key=lambda u: _role_order(best[u]))]
    people.append((OUTSIDER if OUTSIDER not in roles else "U0OUTSIDER", "not in any org"))
    return [
        SandboxUser(id=u, name=_name(u, builtin), role=r, label=f"{_name(u, builtin)} ({r})")
        for u, r in people
    ]


def _usergroups(directory: OrgDirectory) -> dict[str, list[str]]:
    """Members for every user group the org file names, so none is unknown to the stand-in:
    the people holding the role the group grants there (for a steps' requesters group, the
    requesters)."""
    found: dict[str, list[str]] = {}
    for org in directory.orgs.values():
        granted = org.group_roles()
        for group in org.groups():
            role = granted.get(group, Role.REQUESTER)
            people = [
                user
                for user, held in org.members.items()
                if held == role and not ids.USERGROUP_ID.fullmatch(user)
            ]
            found.setdefault(group, [])
            found[group] += [user for user in people if user not in found[group]]
    return found


def _role_order(role: Role) -> int:
    """Requester first (the one who starts the flow), then approvers, admin, viewer."""
    order = {Role.REQUESTER: 0, Role.APPROVER: 1, Role.ADMIN: 2, Role.VIEWER: 3}
    return order.get(role, 4)


def _name(user: str, builtin: bool) -> str:
    if builtin and user in BUILTIN_USER_NAMES:
        return BUILTIN_USER_NAMES[user]
    bare = user[2:] if user.startswith(("U0", "W0")) else user[1:]
    return bare.capitalize() or user


def _channels(directory: OrgDirectory) -> list[dict[str, str]]:
    """Command channels first (where you type), then approval and outcome channels."""
    seen: dict[str, str] = {}
    anywhere = False
    for org in directory.orgs.values():
        for channel in org.command_channels:
            seen.setdefault(channel, "command")
        anywhere = anywhere or not org.command_channels
    if anywhere:
        seen.setdefault(GENERAL, "command")
    for org in directory.orgs.values():
        seen.setdefault(org.approval_channel, "approvals")
        if org.outcome_channel:
            seen.setdefault(org.outcome_channel, "outcomes")
    return [{"id": c, "name": _channel_name(c), "purpose": p} for c, p in seen.items()]


def _channel_name(channel: str) -> str:
    if channel in BUILTIN_CHANNEL_NAMES:
        return BUILTIN_CHANNEL_NAMES[channel]
    if channel == GENERAL:
        return "general"
    return (channel[2:] if channel.startswith("C0") else channel).lower()


# the page and its API
