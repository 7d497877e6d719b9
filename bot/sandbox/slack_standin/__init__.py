"""A local Slack for tests, the sandbox and benchmarks: a real aiohttp server on loopback.

It plays both sides of Slack: the Web API, `response_url` and Socket Mode endpoints the bot
calls, and the Slack client that sends the bot signed slash commands and button clicks.
Point slack-sdk at it with `AsyncWebClient(token=..., base_url=standin.api_url)`.

One concept a module, each a layer of `SlackStandin` (standin.py: the server and routing):
the Web API side in chat, views, usergroups, functions, refusals, faults, post_limit,
response_urls and socket_mode; the client side in sender, commands, modals and events.
"""

from bot.sandbox.slack_standin.functions import StepRun
from bot.sandbox.slack_standin.standin import SlackStandin
from bot.sandbox.slack_workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    Ack,
    ApiCall,
    ClickResult,
    CommandResult,
    Delivery,
    Ephemeral,
    EventResult,
    Message,
    RateLimited,
    SlackApiRefusal,
    SlackFault,
    SlackServerError,
    Slow,
    SubmitResult,
    Timeout,
    View,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_ID",
    "Ack",
    "ApiCall",
    "ClickResult",
    "CommandResult",
    "Delivery",
    "Ephemeral",
    "EventResult",
    "Message",
    "RateLimited",
    "SlackApiRefusal",
    "SlackFault",
    "SlackServerError",
    "SlackStandin",
    "Slow",
    "StepRun",
    "SubmitResult",
    "Timeout",
    "View",
]
