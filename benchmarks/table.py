"""The printed Markdown table: one `Row` per figure, formatted as benchmarks/README.md shows."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

HEADER = ("| # | measure | bot | reference | ratio / target | met |", "|---|---|---|---|---|---|")


@dataclass
class Row:
    n: str  # the scenario's number
    what: str
    bot: str
    ref: str
    target: str
    met: bool | None  # None: a figure without a target

    def render(self) -> str:
        mark = "n/a" if self.met is None else ("yes" if self.met else "**no**")
        return f"| {self.n} | {self.what} | {self.bot} | {self.ref} | {self.target} | {mark} |"


def fmt(value: object, unit: str = "", digits: int = 2) -> str:
    """A number with `digits` decimals and its unit; "n/a" for NaN or no number."""
    if isinstance(value, float | int) and not (isinstance(value, float) and math.isnan(value)):
        return f"{value:.{digits}f}{unit}"
    return "n/a"


def render(rows: Iterable[Row]) -> str:
    return "\n".join([*HEADER, *(row.render() for row in rows)])
