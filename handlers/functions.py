"""Workflow Builder steps (`function_executed`): ack, file the request, complete later.

The step is not completed here: bot/slack/workflow_steps.py completes it when its request
ends (or at once, right after the ack, when filing was refused). A step event no listener
could handle is failed by the front doors (WorkflowSteps.unhandled).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.slack.after_ack import after_ack_of
from bot.slack.services import Services
from bot.slack.workflow_steps import STEPS


def register(app: AsyncApp, services: Services) -> None:
    async def on_step(event: dict[str, Any], context: AsyncBoltContext) -> None:
        # Bolt acks on its own (auto_acknowledge); the body reaches here only signed
        function = event.get("function")
        callback_id = function.get("callback_id") if isinstance(function, dict) else None
        token = context.function_bot_access_token
        await services.steps.start(
            str(event.get("function_execution_id") or ""),
            str(callback_id or ""),
            SecretStr(token) if isinstance(token, str) and token else None,
            event.get("inputs"),
            after_ack_of(context),
        )

    for callback_id in STEPS:
        app.function(callback_id)(on_step)
    # any other step (a manifest newer than the bot, no callback_id): read_inputs refuses it,
    # so its step fails saying so instead of waiting in Workflow Builder forever
    app.event("function_executed")(on_step)
