"""SFVoPI's state per organization and the documented behaviour of every endpoint the bot uses,
without the server: the emulator (bot/sandbox/emulator.py) routes each call here.

An org holds numbers; each is linked to at most one app (a seed may break that rule on purpose,
as old fixtures do; the API calls keep it); `available-numbers` is what it holds, unlinked.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.core.text import json_object

__all__ = ["APP_FIELDS", "SUCCESS", "UNAUTHORIZED", "Org", "Route", "apply"]

UNAUTHORIZED = "UnAuthorized, Please Provide Valid API Key"
SUCCESS: dict[str, Any] = {"data": {"deleted": True}, "message": "success"}
INVALID_BODY = "Invalid request body"
APP_FIELDS = (
    "name",
    "answer_url",
    "answer_method",
    "hangup_url",
    "hangup_method",
    "fallback_answer_url",
    "fallback_answer_method",
)
_ID_CHARS = string.ascii_lowercase + string.digits

Route = tuple[str, str, str | None]
"""(action, app_id or "", number or None): delete, unlink, numbers, link, get_app, list_apps,
create, available."""
MUTATIONS = frozenset({"delete", "unlink", "link", "create"})


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_app_id() -> str:
    return "sfv_app_" + "".join(secrets.choice(_ID_CHARS) for _ in range(12))


@dataclass
class Org:
    """One organization's apps (their fields and linked numbers) and the numbers it holds."""

    org_id: int
    apps: dict[str, set[str]] = field(default_factory=dict)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)
    linked_at: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_app(self, app_id: str, numbers: set[str], fields: dict[str, Any] | None = None) -> None:
        self.apps[app_id] = set(numbers)
        self.held |= numbers
        self.fields[app_id] = _app_fields(app_id, self.org_id, fields or {})

    def holder(self, number: str) -> str | None:
        return next((app for app, numbers in self.apps.items() if number in numbers), None)

    def link(self, app_id: str, number: str) -> dict[str, Any]:
        self.apps[app_id].add(number)
        self.held.add(number)
        self.linked_at[(app_id, number)] = now_iso()
        return self.link_body(app_id, number)

    def link_body(self, app_id: str, number: str) -> dict[str, Any]:
        return {
            "app_id": app_id,
            "voip_number": number,
            "org_id": self.org_id,
            "status": "ACTIVE",
            "created_at": self.linked_at.get((app_id, number), "2024-01-01T00:00:00.000Z"),
            "updated_at": None,
        }

    def app_body(self, app_id: str) -> dict[str, Any]:
        return {"app_id": app_id, **self.fields[app_id]}

    def available(self) -> list[str]:
        linked = set().union(*self.apps.values()) if self.apps else set()
        return sorted(self.held - linked)


def _app_fields(app_id: str, org_id: int, given: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "org_id": org_id,
        "name": f"Demo {app_id}",
        "answer_url": f"https://voice.example.com/{app_id}/answer",
        "answer_method": "POST",
        "hangup_url": None,
        "hangup_method": "POST",
        "fallback_answer_url": None,
        "fallback_answer_method": "POST",
        "status": "ACTIVE",
        "created_by": None,
        "created_at": now_iso(),
        "updated_at": None,
    }
    fields.update({k: v for k, v in given.items() if k in fields and k != "org_id"})
    return fields


def apply(org: Org, route: Route, raw_body: bytes) -> tuple[int, dict[str, Any], Route]:
    """The documented answer to one authorised call, the state changed on success; the route
    returned names the effect (a link's number comes from its body)."""
    action, app_id, number = route
    if action == "list_apps":
        order = list(org.fields)  # insertion order: oldest first
        return 200, _data([org.app_body(a) for a in reversed(order)]), route
    if action == "available":
        held = [
            {"id": i, "voip_number": n, "provider": "exotel", "status": "ACTIVE"}
            for i, n in enumerate(org.available(), start=1)
        ]
        return 200, _data(held), route
    if action == "create":
        fields = _create_fields(raw_body)
        if fields is None:
            return 400, {"message": INVALID_BODY}, route
        new = new_app_id()
        org.add_app(new, set(), fields)
        return 200, _data(org.app_body(new)), (action, new, None)
    if action == "link":
        number = _link_number(raw_body)
        if number is None:
            return 400, {"message": INVALID_BODY}, route
        route = (action, app_id, number)
    if app_id not in org.apps:
        message = (
            "SFVoPI app not found" if action in ("delete", "get_app", "link") else "App not found"
        )
        return 404, {"message": message}, route
    if action == "get_app":
        return 200, _data(org.app_body(app_id)), route
    if action == "numbers":
        links = [org.link_body(app_id, n) for n in sorted(org.apps[app_id])]
        return 200, _data(links), route
    if action == "delete":
        del org.apps[app_id]
        del org.fields[app_id]
        return 200, SUCCESS, route
    assert number is not None
    if action == "unlink":
        if number not in org.apps[app_id]:
            return 404, {"message": "Number not linked to this app"}, route
        org.apps[app_id].discard(number)
        return 200, SUCCESS, route
    if number not in org.held:
        return 400, {"message": "VoIP number not found or does not belong to this org"}, route
    if org.holder(number) is not None:
        return 409, {"message": "VoIP number is already linked to another SFVoPI app"}, route
    return 200, _data(org.link(app_id, number)), route


def server_error(route: Route) -> str:
    what = {
        "unlink": "Failed to unlink number",
        "delete": "Failed to delete SFVoPI app",
        "numbers": "Failed to get numbers",
        "link": "Failed to link number",
        "get_app": "Failed to get SFVoPI app",
        "list_apps": "Failed to get SFVoPI apps",
        "create": "Failed to create SFVoPI app",
        "available": "Failed to get available numbers",
    }[route[0]]
    return f"{what}: injected fault"


def _data(data: object) -> dict[str, Any]:
    return {"data": data, "message": "success"}


def _link_number(raw: bytes) -> str | None:
    """The body's `voip_number`, normalised to E.164 as SFVoPI does (digits, a leading +)."""
    body = json_object(raw)
    value = body.get("voip_number") if body else None
    if not isinstance(value, str):
        return None
    digits = value.strip().removeprefix("+").replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 7 <= len(digits) <= 15 or digits[0] == "0":
        return None
    return "+" + digits


def _create_fields(raw: bytes) -> dict[str, Any] | None:
    body = json_object(raw)
    if body is None or set(body) - set(APP_FIELDS):
        return None
    for name in ("name", "answer_url"):
        if not isinstance(body.get(name), str) or not body[name]:
            return None
    if not all(v is None or isinstance(v, str) for v in body.values()):
        return None
    return {k: v for k, v in body.items() if v is not None}
