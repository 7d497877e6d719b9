"""`sfvopi-bot audit verify`: every request's chain recomputed through the store, every break
named, and requests whose whole history is gone."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.audit.chain import Break, check_request
from bot.audit.events import ChainLink
from bot.store.roles import AuditedStore

__all__ = ["Verdict", "verify"]

BATCH = 2000


@dataclass
class Verdict:
    """How many events were checked and each break met, by request (the first one first)."""

    checked: int = 0
    requests: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks


async def verify(store: AuditedStore, *, batch: int = BATCH) -> Verdict:
    """Reads the events request by request, in id order, and checks each chain whole."""
    verdict = Verdict()
    chain: list[ChainLink] = []
    after = (0, 0)
    while links := await store.chain_links(after=after, limit=batch):
        for link in links:
            if chain and link.request_id != chain[0].request_id:
                _check(chain, verdict)
                chain = []
            chain.append(link)
        after = (links[-1].request_id, links[-1].seq)
    if chain:
        _check(chain, verdict)
    for request_id in await store.requests_without_events():
        verdict.breaks.append(
            Break(
                "deleted",
                request_id,
                None,
                "-",
                "it has no events at all: its whole history was deleted",
            )
        )
    verdict.breaks.sort(key=lambda b: (b.request_id, b.seq or 0))
    return verdict


def _check(chain: list[ChainLink], verdict: Verdict) -> None:
    verdict.checked += len(chain)
    verdict.requests += 1
    verdict.breaks += check_request(chain)
