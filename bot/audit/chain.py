"""The hash chains of the event log, one per request, and finding where they break. Pure.

Each event's hash is sha256 over a canonical JSON encoding of what it records and the hash of
the event written before it for the same request; a request's first event follows GENESIS.
docs/audit.md says why one chain per request, what it proves and what it does not.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Literal, TypedDict, Unpack

from bot.audit.events import ChainLink

__all__ = ["GENESIS", "Break", "Hashed", "check_request", "event_hash", "new_uid"]

GENESIS = "0" * 64  # what the first event of each request follows
VERSION = 1  # of the encoding below; a change needs a new one, verified side by side

BreakKind = Literal["edited", "deleted", "inserted", "reordered"]


def new_uid() -> str:
    """A stable, globally unique event id (the integer id is only unique in one database)."""
    return str(uuid.uuid4())


class Hashed(TypedDict):
    """What an event's hash covers: its row's columns but for its place and its own hash."""

    uid: str
    request_id: int
    at: float
    actor: str
    kind: str
    detail: str
    prev_hash: str


def canonical(**event: Unpack[Hashed]) -> bytes:
    """Sorted-key, whitespace-free, ASCII-only JSON; `at` as a float whatever was passed."""
    return json.dumps(
        {
            "v": VERSION,
            "uid": event["uid"],
            "request": int(event["request_id"]),
            "at": float(event["at"]),
            "actor": event["actor"],
            "kind": event["kind"],
            "detail": event["detail"],
            "prev": event["prev_hash"],
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    ).encode("ascii")


def event_hash(**event: Unpack[Hashed]) -> str:
    """The hex sha256 of an event's canonical encoding."""
    return hashlib.sha256(canonical(**event)).hexdigest()


def rehash(link: ChainLink) -> str:
    """What the hash of a stored row should be, given its columns as they are now."""
    return event_hash(**{name: getattr(link, name) for name in Hashed.__annotations__})


@dataclass(frozen=True)
class Break:
    """One broken link: the row where a request's chain stops holding, and why."""

    kind: BreakKind
    request_id: int
    seq: int | None  # the event's id; None when the request has no event left at all
    uid: str
    why: str

    def describe(self) -> str:
        if self.seq is None:
            return f"request #{self.request_id}: {self.kind}: {self.why}"
        return f"event {self.seq} (request #{self.request_id}, {self.uid}): {self.kind}: {self.why}"


def check_request(links: list[ChainLink]) -> list[Break]:
    """Every break in one request's chain (its events in id order), the first first.

    A row whose content no longer matches its hash was edited. A row whose previous hash is
    not the hash of the row before it was separated from its predecessor: the row that does
    carry that hash tells why (stored before it: rows were inserted between; after it: rows
    were reordered; nowhere: its predecessor was deleted, or rewritten with a new hash)."""
    found: list[Break] = []
    place = {link.hash: link.seq for link in links}
    before: ChainLink | None = None
    for link in links:
        if rehash(link) != link.hash:
            found.append(
                _break(
                    "edited",
                    link,
                    "its content no longer matches its hash: the row was changed after it "
                    "was written",
                )
            )
        expected = before.hash if before is not None else GENESIS
        if link.prev_hash != expected:
            found.append(_unlinked(link, before, place.get(link.prev_hash)))
        before = link
    return found


def _unlinked(link: ChainLink, before: ChainLink | None, holder: int | None) -> Break:
    after = f"event {before.seq}" if before is not None else "the start of its request"
    if link.prev_hash == GENESIS:
        return _break(
            "inserted", link, f"it claims to be its request's first event, but follows {after}"
        )
    if holder is None:
        return _break(
            "deleted",
            link,
            f"the event written just before it (hash {link.prev_hash[:12]}…) is missing: "
            f"deleted, or rewritten with a new hash; it now follows {after}",
        )
    if holder > link.seq:
        return _break(
            "reordered", link, f"it was written after event {holder}, which is now stored after it"
        )
    return _break(
        "inserted",
        link,
        f"it was written right after event {holder}, so {after} and any other events of its "
        f"request between {holder} and {link.seq} were inserted (or this one was forged to "
        "point back)",
    )


def _break(kind: BreakKind, link: ChainLink, why: str) -> Break:
    return Break(kind, link.request_id, link.seq, link.uid, why)
