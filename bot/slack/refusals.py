"""What a Slack refusal means and who can fix it, so nothing Slack refuses is left unsaid.

Slack answers a post it will not make with an error code. Some only an admin can fix (invite
the bot, reinstall the app), some pass on their own (rate limits, outages), some mean this
message can never be posted as it is. Each kind is told differently: the requester hears at
once what is wrong and how to fix it; the request stays pending and the sweeper retries.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError, SlackClientError


class Kind(enum.StrEnum):
    ADMIN = "admin"  # someone must act: invite the bot, reinstall the app, fix the org file
    TRANSIENT = "transient"  # passes on its own; the sweeper retries
    FATAL = "fatal"  # this message as it is will never be accepted


TRANSIENT = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
        "connection",
    }
)
TOKEN = frozenset(
    {"invalid_auth", "token_revoked", "token_expired", "account_inactive", "not_authed"}
)
FIXES = {
    "not_in_channel": "the bot is not in {channel}: invite it there (`/invite @sfvopi-bot`)",
    "channel_not_found": (
        "{channel} does not exist or the bot cannot see it: invite the bot if it is private, "
        "or fix the channel id in the organization file"
    ),
    "is_archived": "{channel} is archived: unarchive it, or change the organization file",
    "missing_scope": ("the Slack app lacks a permission it needs: reinstall it from manifest.yml"),
    "restricted_action": "the workspace does not let the bot post in {channel}",
    "cannot_dm_bot": "Slack does not let the bot write to that user",
    "user_not_found": "Slack does not know that user",
}


@dataclass(frozen=True)
class Refusal:
    """One refusal: its code, its kind, and a sentence saying how to fix it."""

    error: str
    kind: Kind
    fix: str

    def problem(self, step: str, channel: str = "") -> str:
        """The stored form: `step:error:channel`, e.g. `card:not_in_channel:C0APPROVALS`."""
        return f"{step}:{self.error}:{channel}"[:80]


def classify(exc: Exception, channel: str = "the channel") -> Refusal:
    """Any exception from a Slack call, as a Refusal (network failures are transient)."""
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or "unknown_error")
    elif isinstance(exc, SlackClientError | OSError | TimeoutError):
        error = "connection"
    else:
        error = type(exc).__name__
    return describe(error, channel)


def describe(error: str, channel: str = "the channel") -> Refusal:
    if error in TRANSIENT:
        return Refusal(error, Kind.TRANSIENT, "Slack is not answering right now; the bot retries")
    if error in TOKEN:
        return Refusal(
            error,
            Kind.ADMIN,
            "Slack refused the bot's token: an admin must reinstall the app and update "
            "SLACK_BOT_TOKEN",
        )
    if error in FIXES:
        return Refusal(error, Kind.ADMIN, FIXES[error].format(channel=channel))
    return Refusal(error, Kind.FATAL, f"Slack refused the message ({error})")


def explain(problem: str) -> str:
    """A stored `step:error:channel` problem as a person reads it (status, healthz)."""
    step, _, rest = problem.partition(":")
    error, _, conversation = rest.partition(":")
    channel = f"<#{conversation}>" if conversation[:1] in ("C", "G") else "the conversation"
    what = {
        "card": "the approval card could not be posted",
        "update": "the approval card could not be updated",
        "thread": "the thread reply could not be posted",
        "notice": "the requester's notice could not be sent",
        "outcome": "the outcome line could not be posted",
    }.get(step, "a message could not be posted")
    return f"{what}: {describe(error, channel).fix}"
