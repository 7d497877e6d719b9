"""A person in a channel: slash commands (and what they see of the ack) and clicks on
message buttons, as Slack sends them to the bot."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from bot.sandbox.slack_standin.params import as_str
from bot.sandbox.slack_standin.response_urls import ResponseTarget, ResponseUrls
from bot.sandbox.slack_standin.sender import VERIFICATION_TOKEN, Sender, button_action
from bot.sandbox.slack_workspace import (
    APP_ID,
    JSON,
    TEAM_DOMAIN,
    TEAM_ID,
    Ack,
    ClickResult,
    CommandResult,
    Ephemeral,
    buttons,
)


class Commands(Sender, ResponseUrls):
    async def command(
        self,
        user: str,
        text: str,
        *,
        channel: str = "C0OPS",
        command: str = "/sfvopi",
        team: str = TEAM_ID,
    ) -> CommandResult:
        """Run a slash command as `user` would; an ack with text shows as an ephemeral reply."""
        response_url, target = self._issue_response_url("command", user, channel, None)
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": team,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": self.channel_name(channel),
            "user_id": user,
            "user_name": self.user_name(user),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self._issue_trigger(user),
        }
        if self.socket_mode:
            ack = await self._envelope(
                "slash_commands", dict(fields), accepts_response_payload=True
            )
        else:
            ack = await self._signed_post(urlencode(fields).encode())
        ephemeral = self._show_command_ack(ack, target, command)
        self._record("slash_commands", ack, user, channel, f"{command} {text}")
        return CommandResult(
            **vars(ack), fields=fields, response_url=response_url, ephemeral=ephemeral
        )

    def _show_command_ack(self, ack: Ack, target: ResponseTarget, command: str) -> Ephemeral | None:
        """What the user sees right after the command: the ack body, or Slack's own error."""
        if not ack.ok:
            reason = "operation_timeout" if ack.timed_out else "dispatch_failed"
            error = f'{command} failed with the error "{reason}"'
            self.add_ephemeral(target.channel, target.user, error, source="slack")
            return None
        body = {"text": ack.body} if isinstance(ack.body, str) else ack.json
        text = as_str(body.get("text"))
        raw_blocks = body.get("blocks")
        blocks: list[JSON] | None = raw_blocks if isinstance(raw_blocks, list) else None
        if not text and not blocks:
            return None
        if body.get("response_type") == "in_channel":
            self.add_message(target.channel, text, blocks=blocks)
            return None
        ephemeral = self.add_ephemeral(target.channel, target.user, text, blocks, source="ack")
        target.ts = ephemeral.ts
        return ephemeral

    async def click(
        self,
        user: str,
        channel: str,
        ts: str,
        action_id: str,
        *,
        value: str | None = None,
    ) -> ClickResult:
        """Click a button of a stored message (or of an ephemeral `user` sees) as Slack sends it."""
        message = self.message(channel, ts)
        ephemeral = self.ephemeral(channel, ts)
        if message is not None:
            blocks = message.blocks
        elif ephemeral is not None and ephemeral.user == user:
            blocks = ephemeral.blocks
        else:
            raise LookupError(f"no message {ts} in {channel} that {user} can see")
        found = next(((b, e) for b, e in buttons(blocks) if e.get("action_id") == action_id), None)
        if found is None:
            present = [e.get("action_id") for _, e in buttons(blocks)]
            raise LookupError(f"no button {action_id!r} on {channel}/{ts}; it has {present}")
        block_id, element = found
        kind: Literal["message", "ephemeral"] = "message" if message else "ephemeral"
        response_url, _ = self._issue_response_url(kind, user, channel, ts)
        action = button_action(action_id, block_id, element)
        chosen = value if value is not None else element.get("value")
        if chosen is not None:
            action["value"] = chosen
        if "style" in element:
            action["style"] = element["style"]
        container: JSON = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": message is None,
        }
        if message is not None and message.thread_ts:
            container["thread_ts"] = message.thread_ts
        payload = self._block_actions(user, container)
        payload["channel"] = {"id": channel, "name": self.channel_name(channel)}
        if message is not None:
            payload["message"] = message.to_dict()
        payload |= {"state": {"values": {}}, "response_url": response_url, "actions": [action]}
        ack = await self._interactive(payload, accepts_response_payload=False)
        self._record("block_actions", ack, user, channel, f"{action_id} on {ts}")
        return ClickResult(**vars(ack), payload=payload, response_url=response_url)
