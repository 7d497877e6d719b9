"""Events API listeners: `app_home_opened` publishes the person's Home tab after the ack.

Each event reaches here once: the front doors drop Slack's retries (bot/slack/deliveries.py).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.core import ids
from bot.errors import InvalidId
from bot.slack.services import Services
from handlers.context import answering


def register(app: AsyncApp, services: Services) -> None:
    async def on_home_opened(
        ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        if event.get("tab", "home") not in ("home", None):
            return  # the Messages tab opens too; it has nothing to publish (no tab: Home)
        try:
            user = ids.user_id(str(event.get("user")))
        except InvalidId:
            return
        answering(services, context).spawn(services.home.opened(user), name="home-opened")

    app.event("app_home_opened")(on_home_opened)
