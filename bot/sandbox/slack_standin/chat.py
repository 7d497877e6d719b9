"""Messages and channels: `chat.*` and `conversations.open`."""

from __future__ import annotations

import uuid

from bot.sandbox.slack_standin.base import StandinBase
from bot.sandbox.slack_standin.params import Refused, as_str, content
from bot.sandbox.slack_workspace import (
    BOT_USER_ID,
    CHANNEL_ID,
    JSON,
    USER_ID,
    Message,
)


class Chat(StandinBase):
    def _chat_post_message(self, params: JSON) -> JSON:
        channel = self._channel(params, dm=True)
        text, blocks = content(params)
        if not text and not blocks:
            raise Refused("no_text")
        thread_ts = as_str(params.get("thread_ts")) or None
        message = self.add_message(channel, text, blocks=blocks, thread_ts=thread_ts)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": message.to_dict()}

    def _chat_update(self, params: JSON) -> JSON:
        channel = self._channel(params, dm=False)
        message = self._own_message(channel, as_str(params.get("ts")), "cant_update_message")
        text, blocks = content(params)
        new_text = text if params.get("text") is not None else None
        new_blocks = blocks if params.get("blocks") is not None else None
        if not (new_text or message.text) and not (new_blocks or message.blocks):
            raise Refused("no_text")
        self.update_message(channel, message.ts, text=new_text, blocks=new_blocks)
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.to_dict(),
        }

    def _chat_delete(self, params: JSON) -> JSON:
        channel = self._channel(params, dm=False)
        message = self._own_message(channel, as_str(params.get("ts")), "cant_delete_message")
        self.delete_message(channel, message.ts)
        return {"ok": True, "channel": channel, "ts": message.ts}

    def _chat_get_permalink(self, params: JSON) -> JSON:
        channel = self._channel(params, dm=False)
        ts = as_str(params.get("message_ts"))
        if self.message(channel, ts) is None:
            raise Refused("message_not_found")
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"{self.url}archives/{channel}/p{ts.replace('.', '')}",
        }

    def _chat_post_ephemeral(self, params: JSON) -> JSON:
        channel = self._channel(params, dm=True)
        user = as_str(params.get("user"))
        if not USER_ID.fullmatch(user):
            raise Refused("user_not_found")
        text, blocks = content(params)
        if not text and not blocks:
            raise Refused("no_text")
        ephemeral = self.add_ephemeral(channel, user, text, blocks)
        return {"ok": True, "message_ts": ephemeral.ts}

    def _conversations_open(self, params: JSON) -> JSON:
        users = params.get("users")
        listed = users if isinstance(users, list) else as_str(users).split(",")
        ids = [str(u).strip() for u in listed if str(u).strip()]
        if not ids:
            raise Refused("users_list_not_supplied")
        if not all(USER_ID.fullmatch(u) for u in ids):
            raise Refused("user_not_found")
        if len(ids) == 1:
            existed = ids[0] in self._dm_channels
            channel = self.dm_channel(ids[0])
        else:
            channel = "G" + uuid.uuid5(uuid.NAMESPACE_OID, ",".join(sorted(ids))).hex[:10].upper()
            existed = channel in self._channels
            self._channels.setdefault(channel, [])
        return {"ok": True, "no_op": existed, "already_open": existed, "channel": {"id": channel}}

    def _channel(self, params: JSON, *, dm: bool) -> str:
        """The channel a method names; only posting methods accept a user id for their DM."""
        value = as_str(params.get("channel"))
        channel = self.resolve_channel(value) if dm else value
        if not channel or not CHANNEL_ID.fullmatch(channel):
            raise Refused("channel_not_found")
        return channel

    def _own_message(self, channel: str, ts: str, not_ours: str) -> Message:
        message = self.message(channel, ts)
        if message is None:
            raise Refused("message_not_found")
        if message.user != BOT_USER_ID:
            raise Refused(not_ours)
        return message
