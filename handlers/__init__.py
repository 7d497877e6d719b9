"""Thin Slack listeners: parse, ack, hand to the workflow, render. Mount them with `register`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.services import Services
from handlers import actions, break_glass, commands, context, events, functions, undo, views


def register(app: AsyncApp, services: Services, *, command: str = "/sfvopi") -> None:
    """Mounts `/sfvopi`, the card and Home buttons, the reason modals, break-glass reviews, the
    Home tab and the Workflow Builder steps into any Bolt app, e.g. an incident bot's own."""
    context.register(app)
    commands.register(app, services, command=command)
    actions.register(app, services)
    break_glass.register(app, services)
    undo.register(app, services)
    views.register(app, services)
    events.register(app, services)
    functions.register(app, services)
