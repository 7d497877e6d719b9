"""What SFVoPI's reads answer, as typed values: an app, a number's link, a number held unused.

Each is parsed strictly from an untrusted body: a missing field or a wrong type is `Malformed`,
which the client turns into an `UnexpectedResponse`, never an exception of another kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

__all__ = ["AppFields", "AppInfo", "AvailableNumber", "Malformed", "NumberLink", "parse_list"]

T = TypeVar("T")
FIELD_LIMIT = 2000  # longer than any URL or name SFVoPI accepts; keeps a hostile body bounded


class Malformed(ValueError):
    """A body that does not hold what the reference says; the message names the field."""


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
        obj = _object(raw, "app fields")
        return cls(
            name=_str(obj, "name"),
            answer_url=_str(obj, "answer_url"),
            answer_method=_str(obj, "answer_method"),
            hangup_url=_opt_str(obj, "hangup_url"),
            hangup_method=_opt_str(obj, "hangup_method"),
            fallback_answer_url=_opt_str(obj, "fallback_answer_url"),
            fallback_answer_method=_opt_str(obj, "fallback_answer_method"),
        )


@dataclass(frozen=True)
class AppInfo:
    """An app as `GET /sfvopi/apps/:app_id` answers it."""

    app_id: str
    name: str
    answer_url: str
    answer_method: str
    hangup_url: str | None
    hangup_method: str | None
    fallback_answer_url: str | None
    fallback_answer_method: str | None
    status: str  # "ACTIVE" | "INACTIVE"
    org_id: int | None = None
    created_by: int | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def fields(self) -> AppFields:
        return AppFields(
            name=self.name,
            answer_url=self.answer_url,
            answer_method=self.answer_method,
            hangup_url=self.hangup_url,
            hangup_method=self.hangup_method,
            fallback_answer_url=self.fallback_answer_url,
            fallback_answer_method=self.fallback_answer_method,
        )

    @classmethod
    def parse(cls, raw: object) -> AppInfo:
        obj = _object(raw, "app")
        fields = AppFields.parse(obj)
        return cls(
            app_id=_str(obj, "app_id"),
            status=_str(obj, "status"),
            org_id=_opt_int(obj, "org_id"),
            created_by=_opt_int(obj, "created_by"),
            created_at=_opt_str(obj, "created_at"),
            updated_at=_opt_str(obj, "updated_at"),
            **asdict(fields),
        )


@dataclass(frozen=True)
class NumberLink:
    """A number linked to an app, as the numbers endpoints answer it (only ACTIVE links)."""

    app_id: str
    voip_number: str
    status: str
    org_id: int | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def parse(cls, raw: object) -> NumberLink:
        obj = _object(raw, "link")
        return cls(
            app_id=_str(obj, "app_id"),
            voip_number=_str(obj, "voip_number"),
            status=_str(obj, "status"),
            org_id=_opt_int(obj, "org_id"),
            created_at=_opt_str(obj, "created_at"),
            updated_at=_opt_str(obj, "updated_at"),
        )


@dataclass(frozen=True)
class AvailableNumber:
    """A number the org holds that no app uses."""

    voip_number: str
    id: int | None = None
    provider: str | None = None
    status: str | None = None

    @classmethod
    def parse(cls, raw: object) -> AvailableNumber:
        obj = _object(raw, "number")
        return cls(
            voip_number=_str(obj, "voip_number"),
            id=_opt_int(obj, "id"),
            provider=_opt_str(obj, "provider"),
            status=_opt_str(obj, "status"),
        )


def parse_list(raw: object, parse: Callable[[object], T]) -> list[T]:
    """`data` as a list, each item parsed by `parse`."""
    if not isinstance(raw, list):
        raise Malformed("data is not a list")
    return [parse(x) for x in raw]


def _object(raw: object, what: str) -> Mapping[str, object]:
    if not isinstance(raw, dict):
        raise Malformed(f"{what} is not an object")
    return raw


def _str(obj: Mapping[str, object], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value or len(value) > FIELD_LIMIT:
        raise Malformed(f"{name} is missing or not a string")
    return value


def _opt_str(obj: Mapping[str, object], name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > FIELD_LIMIT:
        raise Malformed(f"{name} is not a string")
    return value


def _opt_int(obj: Mapping[str, object], name: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(f"{name} is not a number")
    return value
