"""A stranger's request body read within bounds, for both front doors (Slack's and the API's):
never more than `limit` bytes buffered, never longer than `timeout` seconds waited."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from bot.errors import RejectedRequest

__all__ = ["read_bounded"]


async def read_bounded(request: web.BaseRequest, limit: int, timeout: float) -> bytes:
    """The raw body; `RejectedRequest` 413 (too large, declared or sent), 408 (too slow) or
    400 (the connection broke or the payload could not be decoded)."""
    if request.content_length is not None and request.content_length > limit:
        raise RejectedRequest(413, "body too large")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while chunk := await request.content.read(limit + 1 - len(body)):
                body += chunk
                if len(body) > limit:
                    raise RejectedRequest(413, "body too large")
    except TimeoutError:
        raise RejectedRequest(408, "body too slow") from None
    except (ConnectionError, RequestPayloadError):
        raise RejectedRequest(400, "body unreadable") from None
    return bytes(body)
