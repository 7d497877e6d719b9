"""The live audit sink: every event, in id order, to a JSON Lines file or a signed webhook.

At least once: a batch is read after the sink's cursor (a row in the database), delivered, and
only then is the cursor moved past it, so a crash or an outage repeats a batch but never skips
one; events carry stable ids (`event_id`) for receivers to de-duplicate. One replica delivers
at a time, under a lease that a dead one's lapses. Failures back off; nothing here is on the
path of a Slack request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr

from bot.audit.export import jsonl_line
from bot.config.settings import Settings
from bot.errors import AuditSinkError
from bot.store.roles import SinkStore

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AuditSink",
    "Destination",
    "FileDestination",
    "WebhookDestination",
    "destination_for",
    "sign",
    "signature_matches",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Sfvopi-Signature"
TIMESTAMP_HEADER = "X-Sfvopi-Timestamp"
WEBHOOK_TIMEOUT = 10.0
MAX_BACKOFF = 60.0


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`v1=` and the hex HMAC-SHA256 of `v1:{timestamp}:{body}` under the sink secret."""
    message = b"v1:" + timestamp.encode("ascii") + b":" + body
    return "v1=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


def signature_matches(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (docs/audit.md has the same in a few lines), in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class Destination(Protocol):
    """Where batches go. `key` names its cursor; `name` is safe to log (never a secret)."""

    key: str
    name: str

    async def deliver(self, body: bytes, count: int) -> None:
        """Returns once the destination holds the batch; AuditSinkError otherwise."""

    async def close(self) -> None: ...


class FileDestination:
    """Appends to a JSON Lines file, flushed to disk before the cursor moves."""

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()
        self.key = "file:" + _digest(str(self.path))
        self.name = f"file {self.path}"

    async def deliver(self, body: bytes, count: int) -> None:
        try:
            await asyncio.to_thread(self._append, body)
        except OSError as exc:
            raise AuditSinkError(
                f"cannot append to {self.path}: {exc.strerror or type(exc).__name__}"
            ) from None

    def _append(self, body: bytes) -> None:
        with self.path.open("ab") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())

    async def close(self) -> None:
        pass


class WebhookDestination:
    """POSTs each batch as JSON Lines, signed; any 2xx is acceptance, anything else a retry."""

    def __init__(self, url: str, secret: SecretStr, *, timeout: float = WEBHOOK_TIMEOUT) -> None:
        self.url = url
        self._secret = secret
        self.timeout = timeout
        self.key = "webhook:" + _digest(url)
        parts = urlsplit(url)  # no query or credentials in logs: either may hold a token
        self.name = f"webhook {parts.scheme}://{parts.hostname}{_port(parts.port)}{parts.path}"
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, body: bytes, count: int) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-ndjson",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret.get_secret_value().encode(), timestamp, body),
            "X-Sfvopi-Events": str(count),
        }
        try:
            async with self._session.post(
                self.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AuditSinkError(f"no answer ({type(exc).__name__})") from None
        if not 200 <= status < 300:
            raise AuditSinkError(f"HTTP {status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def destination_for(settings: Settings) -> Destination | None:
    """The sink SFVOPI_AUDIT_SINK names (settings checked its shape), or None."""
    target = settings.audit_sink
    if not target:
        return None
    if "://" in target:
        assert settings.audit_sink_secret is not None  # the settings insist on it
        return WebhookDestination(target, settings.audit_sink_secret)
    return FileDestination(Path(target))


@dataclass(eq=False, repr=False)
class AuditSink:
    """Delivers the log to one destination from the cursor on, batch by batch, forever."""

    store: SinkStore
    destination: Destination
    _: KW_ONLY
    interval: float = 2.0
    lease_seconds: float = 120.0
    batch: int = 500
    clock: Callable[[], float] = time.time
    owner: str = field(init=False, default_factory=lambda: uuid.uuid4().hex)
    failures: int = field(init=False, default=0)

    @classmethod
    def from_settings(cls, store: SinkStore, settings: Settings) -> AuditSink | None:
        destination = destination_for(settings)
        if destination is None:
            return None
        return cls(
            store,
            destination,
            interval=settings.audit_sink_interval_seconds,
            lease_seconds=settings.lease_seconds,
        )

    async def deliver_once(self) -> int:
        """One batch, if there is one and this replica holds the lease: how many were sent.
        AuditSinkError when the destination did not take it (the cursor stays)."""
        key = self.destination.key
        if not await self.store.sink_has_more(key):
            return 0  # nothing new: no write, no lease
        cursor = await self.store.lease_sink(key, self.owner, self.clock(), self.lease_seconds)
        if cursor is None:
            return 0  # another replica delivers
        events = await self.store.sink_batch(cursor, self.batch)
        if not events:
            return 0
        body = "".join(jsonl_line(e) for e in events).encode("ascii")
        await self.destination.deliver(body, len(events))
        last = events[-1].link
        moved = await self.store.advance_sink(
            key,
            self.owner,
            delivered_from=cursor,
            delivered_to=(last.txid, last.seq),
            now=self.clock(),
            lease_seconds=self.lease_seconds,
        )
        return len(events) if moved else 0

    async def run(self) -> None:
        """Delivers until cancelled: at once while batches are full, every `interval` when
        idle, backing off (up to MAX_BACKOFF) while the destination or database fails."""
        while True:
            sent = 0
            try:
                sent = await self.deliver_once()
                self.failures = 0
            except AuditSinkError as exc:
                self._failed(exc.message)
            except Exception as exc:  # the database: it is retried like the destination
                self._failed(f"the database failed ({type(exc).__name__})")
            await asyncio.sleep(0 if sent >= self.batch else self._delay())

    def _failed(self, why: str) -> None:
        self.failures += 1
        log.warning(
            "audit sink %s: delivery failed: %s; retrying in about %.0f s",
            self.destination.name,
            why,
            self._delay(),
        )

    def _delay(self) -> float:
        if not self.failures:
            return self.interval
        backoff = min(MAX_BACKOFF, self.interval * 2.0**self.failures)
        return backoff * random.uniform(0.5, 1.0)  # jitter: replicas do not retry in step

    async def close(self) -> None:
        """Gives the lease up (so another replica goes on at once) and closes connections."""
        with contextlib.suppress(Exception):
            await self.store.release_sink(self.destination.key, self.owner)
        await self.destination.close()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def _port(port: int | None) -> str:
    return f":{port}" if port is not None else ""
