"""What SFVoPI's reads answer, as typed values: an app, a number's link, a number held unused.

Each is parsed strictly from an untrusted body: a missing field or a wrong type is a ValueError
naming it, which the client turns into an `UnexpectedResponse`, never another exception."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import TypeVar

from bot.core import ids
from bot.core.apps import AppFields, Strict

__all__ = ["AppFields", "AppInfo", "AvailableNumber", "NumberLink", "parse_list"]

T = TypeVar("T")


@dataclass(frozen=True)
class AppInfo(Strict):
    """An app as `GET /sfvopi/apps/:app_id` answers it."""

    WHAT = "app"

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

    def __post_init__(self) -> None:
        # a new app's id goes into paths, the store and cards: an answer naming anything
        # else is not one to act on (the client makes it an UnexpectedResponse)
        if not ids.APP_ID.fullmatch(self.app_id):
            raise ValueError("app's app_id is not an app id")

    @property
    def fields(self) -> AppFields:
        """The app's own fields (those AppFields declares), as an undo would recreate them."""
        return AppFields(**{f.name: getattr(self, f.name) for f in dataclass_fields(AppFields)})


@dataclass(frozen=True)
class NumberLink(Strict):
    """A number linked to an app, as the numbers endpoints answer it (only ACTIVE links)."""

    WHAT = "link"

    app_id: str
    voip_number: str
    status: str
    org_id: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class AvailableNumber(Strict):
    """A number the org holds that no app uses."""

    WHAT = "number"

    voip_number: str
    id: int | None = None
    provider: str | None = None
    status: str | None = None


def parse_list(raw: object, parse: Callable[[object], T]) -> list[T]:
    """`data` as a list, each item parsed by `parse`."""
    if not isinstance(raw, list):
        raise ValueError("data is not a list")
    return [parse(x) for x in raw]
