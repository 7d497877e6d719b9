"""What the Slack stand-in remembers (messages, threads, ephemerals, DMs, views and every
call made), kept apart from its HTTP side so the sandbox page and tests read it as plain data.

ids: the team's fixed identity; records: what it holds; workspace: the store of them;
acks: what the bot answered; faults: what a test queues; blocks: Block Kit as Slack checks it.
"""

from bot.sandbox.slack_workspace.acks import (
    Ack,
    ClickResult,
    CommandResult,
    EventResult,
    SubmitResult,
)
from bot.sandbox.slack_workspace.blocks import block_errors, buttons, with_ids
from bot.sandbox.slack_workspace.faults import (
    RateLimited,
    SlackApiRefusal,
    SlackFault,
    SlackServerError,
    Slow,
    Timeout,
)
from bot.sandbox.slack_workspace.ids import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    JSON,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    USER_ID,
)
from bot.sandbox.slack_workspace.records import (
    ApiCall,
    Delivery,
    DeliveryKind,
    Ephemeral,
    EphemeralSource,
    Message,
    View,
)
from bot.sandbox.slack_workspace.workspace import Workspace

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "CHANNEL_ID",
    "JSON",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "USER_ID",
    "Ack",
    "ApiCall",
    "ClickResult",
    "CommandResult",
    "Delivery",
    "DeliveryKind",
    "Ephemeral",
    "EphemeralSource",
    "EventResult",
    "Message",
    "RateLimited",
    "SlackApiRefusal",
    "SlackFault",
    "SlackServerError",
    "Slow",
    "SubmitResult",
    "Timeout",
    "View",
    "Workspace",
    "block_errors",
    "buttons",
    "with_ids",
]
