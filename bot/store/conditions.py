"""The shapes of the store's conditional writes, built in one place: an UPDATE that moves only
the rows still as the writer expects (its rowcount says whether this writer won), and a lease
that nobody holds any more."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, Update, and_, or_, update

__all__ = ["conditional", "lapsed"]


def conditional(table: Table, *conditions: ColumnElement[bool]) -> Update:
    """UPDATE `table` only where every condition still holds."""
    return update(table).where(and_(*conditions))


def lapsed(lease_until: ColumnElement[Any], now: Any) -> ColumnElement[bool]:
    """A lease never taken, or run out before `now` (a value or a bound parameter)."""
    return or_(lease_until.is_(None), lease_until < now)
