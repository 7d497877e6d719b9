"""An app's own fields, and the strict reading of untrusted JSON they are parsed with.

Pure and shared: the SFVoPI client sends and reads them (bot/sfvopi), a preview keeps them as
the pre-image an undo recreates an app from (bot/core/preview.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import Field, asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["AppFields", "Strict", "parse_fields"]

D = TypeVar("D", bound="DataclassInstance")

FIELD_LIMIT = 2000  # longer than any URL or name SFVoPI accepts; keeps a hostile body bounded


class Strict:
    """A dataclass read from an untrusted JSON object by its field list (parse_fields);
    `WHAT` names it in the ValueError a bad body raises."""

    WHAT: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # each subclass is a dataclass

    @classmethod
    def parse(cls, raw: object) -> Self:
        return parse_fields(cls, raw, cls.WHAT)


@dataclass(frozen=True)
class AppFields(Strict):
    """An app's own fields: what `create_app` sends, and what an undo recreates an app from."""

    WHAT = "app fields"

    name: str
    answer_url: str
    answer_method: str = "POST"
    hangup_url: str | None = None
    hangup_method: str | None = None
    fallback_answer_url: str | None = None
    fallback_answer_method: str | None = None

    def body(self) -> dict[str, Any]:
        """The create call's JSON body: the fields set, none sent as null."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def required_object(raw: object, what: str) -> Mapping[str, object]:
    if not isinstance(raw, dict):
        raise ValueError(f"{what} is not an object")
    return raw


def parse_fields(cls: type[D], raw: object, what: str) -> D:
    """The dataclass `cls` read from the untrusted object `raw`, each field as its declared
    type says: one strict reading for every body, so a model's parser is its field list."""
    obj = required_object(raw, what)
    return cls(**{f.name: _read(obj, f.name, str(f.type)) for f in fields(cls)})


def _read(obj: Mapping[str, object], name: str, declared: str) -> object:
    """`obj[name]` checked against `declared` ("str", "str | None" or "int | None"); a
    required string is never empty, and no string is longer than FIELD_LIMIT."""
    value = obj.get(name)
    optional = declared.endswith(" | None")
    if value is None and optional:
        return None
    kind = declared.removesuffix(" | None")
    if kind == "str":
        if isinstance(value, str) and (value or optional) and len(value) <= FIELD_LIMIT:
            return value
        raise ValueError(f"{name} is {'' if optional else 'missing or '}not a string")
    if kind == "int" and optional:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{name} is not a number")
    raise TypeError(f"no reading for {name}: {declared}")
