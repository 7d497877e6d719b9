"""A raw HTTP client for the hostile-bytes tests: it sends exactly the bytes given (aiohttp's
client refuses to send most of them) and reads all the bot answers until it closes."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["exchange", "request_head", "status_of"]


async def exchange(port: int, head: bytes, body: bytes = b"", *, drip: bool = False) -> bytes:
    """Sends a request as given (the body a byte a second when `drip`) and returns all the
    bot answers until it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        if not drip:
            writer.write(body)
        await writer.drain()
        answer = asyncio.ensure_future(_until_closed(reader))
        for byte in body if drip else b"":
            if answer.done():
                break
            with contextlib.suppress(ConnectionError, OSError):
                writer.write(bytes([byte]))
            await asyncio.wait([answer], timeout=1)
        return await asyncio.wait_for(answer, 60)
    finally:
        writer.close()


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything read until the bot closes the connection; a close that resets it (bytes
    still on their way in, as while a body trickles) ends the answer as a plain close does."""
    answer = bytearray()
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(65536):
            answer += chunk
    return bytes(answer)


def request_head(method: str, path: str, *headers: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", *headers]
    return b"\r\n".join([*lines, b"Connection: close", b"", b""])


def status_of(answer: bytes) -> int:
    """The status of an answer (aiohttp answers its parser's refusals as HTTP/1.0)."""
    version, status, *_ = answer.split(b" ", 2)
    assert version.startswith(b"HTTP/1."), answer[:200]
    return int(status)
