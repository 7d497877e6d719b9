"""Thin Slack listeners: parse, ack, hand to the workflow, render. Mount them with `register`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.services import Services
from handlers import actions, commands


def register(app: AsyncApp, services: Services, *, command: str = "/sfvopi") -> None:
    """Mounts `/sfvopi` and the card buttons into any Bolt app, e.g. an incident bot's own."""
    commands.register(app, services, command=command)
    actions.register(app, services)
