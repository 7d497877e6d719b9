"""The Bolt app: our listeners, with the bot token checked once at start (auth.test).

The two front doors that feed it are `bot.slack.http` and `bot.slack.socket_mode`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.config.settings import Settings
from bot.errors import ConfigError
from bot.slack.services import Services

log = logging.getLogger(__name__)

Identity = dict[str, str | None]  # the bot's ids, from auth.test


def check_slack_settings(settings: Settings, *, socket_mode: bool) -> None:
    """The Slack secrets each mode needs; checked before anything is opened or created."""
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    if socket_mode and settings.slack_app_token is None:
        raise ConfigError("SLACK_APP_TOKEN is not set (Socket Mode needs an xapp- token)")
    if not socket_mode and settings.slack_signing_secret is None:
        raise ConfigError("SLACK_SIGNING_SECRET is not set")


async def who_we_are(
    settings: Settings, slack: AsyncWebClient, *, socket_mode: bool = False
) -> Identity:
    """The Slack secrets the mode needs, then the bot token checked once at start (auth.test),
    so no request waits on it later."""
    check_slack_settings(settings, socket_mode=socket_mode)
    answer = await slack.auth_test()
    return {key: answer.get(key) for key in ("enterprise_id", "team_id", "bot_id", "user_id")}


def build_app(services: Services, identity: Identity) -> AsyncApp:
    """Bolt, authorized once with `identity` (from `who_we_are`), with our listeners."""
    settings = services.settings
    assert settings.slack_bot_token is not None
    token = settings.slack_bot_token.get_secret_value()

    authorized = AuthorizeResult(
        enterprise_id=identity.get("enterprise_id"),
        team_id=identity.get("team_id"),
        bot_token=token,
        bot_id=identity.get("bot_id"),
        bot_user_id=identity.get("user_id"),
    )

    async def authorize(**_: Any) -> AuthorizeResult:
        return authorized

    secret = settings.slack_signing_secret
    with _quiet(logging.getLogger("slack_bolt.AsyncApp")):
        app = AsyncApp(
            # named: unnamed, Bolt names it after its caller's file by inspect.stack(), which
            # reads the source of every frame on the stack (a tenth of a second in a deep one)
            name="sfvopi-bot",
            client=services.slack,
            signing_secret=secret.get_secret_value() if secret else None,
            authorize=authorize,
            process_before_response=True,
            request_verification_enabled=False,  # http.py verifies first; Socket Mode is unsigned
            raise_error_for_unhandled_request=False,
        )
    handlers.register(app, services)
    return app


class _TokenIgnoredFilter(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN "will be ignored" when `authorize` is given; here that
    is by design (the token is checked once at start), and a 3 a.m. reader needs no red herring.
    A filter, because Bolt resets its logger's level from the root logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be ignored" not in record.getMessage()


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    quiet = _TokenIgnoredFilter()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def routable(body: object) -> bool:
    """Whether Bolt can route this body: its matchers index `actions[0]["action_id"]`, an
    event's `type` and a step's `function["callback_id"]` unguarded."""
    if not isinstance(body, dict):
        return False
    if body.get("type") == "event_callback":
        event = body.get("event", {})
        if not isinstance(event, dict) or not isinstance(event.get("function", {}), dict):
            return False
    actions = body.get("actions")
    if actions is None and body.get("type") != "block_actions":
        return True
    return (
        isinstance(actions, list)
        and len(actions) > 0
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    )
