"""Scraping `/metrics` as Prometheus does: over HTTP, parsed by prometheus_client's own parser."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

__all__ = ["Scrape", "exposed_names", "scrape"]

# the sample names each metric type exposes, besides the family's own name for a gauge
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "unknown": ("",),
}


@dataclass
class Scrape:
    """One answer of `/metrics`: its raw text and its samples."""

    status: int
    text: str
    samples: list[Sample]
    types: dict[str, str]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels` (0 when none)."""
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def names(self) -> set[str]:
        """Every sample name the exposition declares, used or not yet (from HELP/TYPE too)."""
        return exposed_names(self.types) | {s.name for s in self.samples}


def exposed_names(types: dict[str, str]) -> set[str]:
    return {family + suffix for family, kind in types.items() for suffix in SUFFIXES[kind]}


async def scrape(url: str, *, token: str | None = None) -> Scrape:
    """GET `url` (a `/metrics` address); a 200 is parsed, anything else is kept as text."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers=headers, timeout=timeout) as response,
    ):
        text = await response.text()
        if response.status != 200:
            return Scrape(response.status, text, [], {})
        assert response.headers["Content-Type"].startswith(
            "text/plain; version=0.0.4"
        )  # Prometheus' text format
    families = list(text_string_to_metric_families(text))
    samples = [sample for family in families for sample in family.samples]
    return Scrape(200, text, samples, {family.name: family.type for family in families})
