"""An app's own fields, and the strict reading of untrusted JSON they are parsed with.

Pure and shared: the SFVoPI client sends and reads them (bot/sfvopi), a preview keeps them as
the pre-image an undo recreates an app from (bot/core/preview.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "AppFields",
    "opt_int",
    "opt_str",
    "required_object",
    "required_str",
]

FIELD_LIMIT = 2000  # longer than any URL or name SFVoPI accepts; keeps a hostile body bounded


@dataclass(frozen=True)
class AppFields:
    """An app's own fields: what `create_app` sends, and what an undo recreates an app from."""

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

    @classmethod
    def parse(cls, raw: object) -> AppFields:
        obj = required_object(raw, "app fields")
        return cls(
            name=required_str(obj, "name"),
            answer_url=required_str(obj, "answer_url"),
            answer_method=required_str(obj, "answer_method"),
            hangup_url=opt_str(obj, "hangup_url"),
            hangup_method=opt_str(obj, "hangup_method"),
            fallback_answer_url=opt_str(obj, "fallback_answer_url"),
            fallback_answer_method=opt_str(obj, "fallback_answer_method"),
        )


def required_object(raw: object, what: str) -> Mapping[str, object]:
    if not isinstance(raw, dict):
        raise ValueError(f"{what} is not an object")
    return raw


def required_str(obj: Mapping[str, object], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value or len(value) > FIELD_LIMIT:
        raise ValueError(f"{name} is missing or not a string")
    return value


def opt_str(obj: Mapping[str, object], name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > FIELD_LIMIT:
        raise ValueError(f"{name} is not a string")
    return value


def opt_int(obj: Mapping[str, object], name: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} is not a number")
    return value
