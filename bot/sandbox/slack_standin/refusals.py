"""The workspace as an admin left it: Slack's standing refusals of a channel, a token or
a scope."""

from __future__ import annotations

from bot.sandbox.slack_standin.base import StandinBase
from bot.sandbox.slack_standin.params import as_str
from bot.sandbox.slack_workspace import JSON


class Refusals(StandinBase):
    def __init__(self) -> None:
        super().__init__()
        self.channel_refusals: dict[str, str] = {}
        self.missing_scopes: set[str] = set()
        self.token_refusal: str | None = None

    def reset(self) -> None:
        self.channel_refusals.clear()
        self.missing_scopes.clear()
        self.token_refusal = None
        super().reset()

    def refuse_channel(self, channel: str, error: str) -> None:
        """Until `allow_channel`: posts and updates in `channel` are refused with `error`, as
        Slack does when the bot is not in it (`not_in_channel`), it is archived (`is_archived`)
        or gone (`channel_not_found`)."""
        self.channel_refusals[channel] = error

    def allow_channel(self, channel: str) -> None:
        self.channel_refusals.pop(channel, None)

    def revoke_token(self, error: str = "token_revoked") -> None:
        """Every call with the bot token is refused (`token_revoked`, `invalid_auth`,
        `account_inactive`) until `restore_token`."""
        self.token_refusal = error

    def restore_token(self) -> None:
        self.token_refusal = None

    def drop_scope(self, method: str) -> None:
        """`method` answers `missing_scope` until `grant_scope`, as after a scope was removed."""
        self.missing_scopes.add(method)

    def grant_scope(self, method: str) -> None:
        self.missing_scopes.discard(method)

    def _workspace_refusal(self, method: str, params: JSON) -> str | None:
        if self.token_refusal is not None and method != "apps.connections.open":
            return self.token_refusal
        if method in self.missing_scopes:
            return "missing_scope"
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            return self.channel_refusals.get(as_str(params.get("channel")))
        return None
