"""Thin Slack listeners: parse, ack, hand to the workflow, render. Mount them with `register`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.services import Services
from handlers import actions, commands, context, events, views


def register(app: AsyncApp, services: Services, *, command: str = "/sfvopi") -> None:
    """Mounts `/sfvopi`, the card and Home buttons, the reason modals and the Home tab into any
    Bolt app, e.g. an incident bot's own."""
    context.register(app)
    commands.register(app, services, command=command)
    actions.register(app, services)
    views.register(app, services)
    events.register(app, services)
