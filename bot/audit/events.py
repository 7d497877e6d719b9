"""What the store hands the audit code: an event row with its chain columns, and its request."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AuditEvent", "ChainLink"]


@dataclass(frozen=True)
class ChainLink:
    """One row of the events table, as stored: everything its hash covers, plus its place."""

    seq: int  # the database's own integer id: the chain's order, not part of the hash
    uid: str  # the stable event id consumers de-duplicate on
    request_id: int
    at: float
    actor: str
    kind: str
    detail: str  # the stored JSON text, hashed as it is
    prev_hash: str
    hash: str
    txid: int = 0  # the writing transaction (PostgreSQL): the live sink's order, not hashed


@dataclass(frozen=True)
class AuditEvent:
    """A chain link with what the export says about its request (not covered by the hash)."""

    link: ChainLink
    org: str
    action: str
    targets: tuple[str, ...]
