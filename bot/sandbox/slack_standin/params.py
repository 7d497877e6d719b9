"""A Web API call's arguments as Slack reads them, and its refusals (`Refused`)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.sandbox.slack_workspace import JSON, block_errors

MAX_TEXT = 40_000


class Refused(Exception):
    """A Web API error answer, raised from inside a method handler."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


async def read_params(request: web.Request) -> JSON:
    """Query, form and JSON arguments merged, as the Web API accepts all three."""
    params: JSON = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            params.update(data)
    else:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def content(params: JSON) -> tuple[str, list[JSON] | None]:
    """`text` and `blocks` of a message, refused as Slack refuses them."""
    text = as_str(params.get("text"))
    if len(text) > MAX_TEXT:
        raise Refused("msg_too_long")
    blocks = params.get("blocks")
    if blocks is None or blocks == "":
        return text, None
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            raise Refused("invalid_blocks_format") from None
    if not isinstance(blocks, list):
        raise Refused("invalid_blocks_format")
    errors = block_errors(blocks)
    if errors:
        messages = [f"[ERROR] {e}" for e in errors]
        raise Refused("invalid_blocks", errors=errors, response_metadata={"messages": messages})
    return text, blocks


def as_str(value: Any) -> str:
    return "" if value is None else str(value)
