"""Slack's own opinion of a configuration (`check-config --online`): whether it takes the
tokens, and who is in each user group the organization file grants a role to. Run by
bot/startup_checks.py, which imports this module only when Slack is to be asked.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.errors import causes

__all__ = ["SLACK_TIMEOUT", "ask_slack", "list_groups"]

SLACK_TIMEOUT = 10


async def ask_slack(settings: Settings, modes: Sequence[str]) -> tuple[list[str], str | None]:
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


async def list_groups(
    settings: Settings, directory: OrgDirectory
) -> tuple[list[str], list[str], dict[str, frozenset[str]]]:
    """Each user group the org file grants a role to, with its members as Slack lists them
    now; or why Slack would not list it (nobody would get that group's role). Then the
    members of each group listed, for the policy's warnings (bot/config/orgfile/fillable.py)."""
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
    listed: dict[str, frozenset[str]] = {}
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
                *(
                    f"approvers under {rule.label} in {org.name}"
                    for org in directory.orgs.values()
                    for rule in org.policy.rules
                    if group in rule.groups()
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
        listed[group] = frozenset(members)
        shown = ", ".join(sorted(members)) or "nobody"
        count = f"{len(members)} member{'s' if len(members) != 1 else ''}"
        lines.append(f"user group {group} ({granted}): {count}: {shown}")
    return problems, lines, listed


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
    for link in causes(exc):
        if isinstance(link, TimeoutError):
            return "no answer in time"
        if isinstance(link, socket.gaierror):
            return "cannot resolve the host name"
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
        if isinstance(link, OSError) and link.strerror:
            return link.strerror
    return type(exc).__name__
