"""A stored row as one of the core's frozen models, shaped in one place: each field is the column
of its name, so a field added to a model and its table needs no new line in each reader."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import Row

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["from_row"]

D = TypeVar("D", bound="DataclassInstance")


def from_row(cls: type[D], row: Row[Any], **given: Any) -> D:
    """`cls` from `row`: each field its column of the same name, but for those in `given` (a
    conversion, a column named otherwise, a value read elsewhere)."""
    columns = {f.name: getattr(row, f.name) for f in fields(cls) if f.name not in given}
    return cls(**columns, **given)
