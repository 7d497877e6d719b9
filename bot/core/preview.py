"""What a request will touch, as read from SFVoPI: the preview an approval is bound to, and the
pre-image an undo rebuilds from. Pure data; reading it (`read_preview`) never raises.

The fingerprint covers only what an approver decides on (which apps exist, their name and
status, which numbers are linked where); the app's other fields ride along for undo."""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr

from bot.core.apps import AppFields
from bot.core.deliveries import Kind
from bot.core.models import Action, Target
from bot.errors import AppNotFound, BotError

if TYPE_CHECKING:  # the client's types only: a card that renders a preview loads no client
    from bot.sfvopi.models import AppInfo, NumberLink

__all__ = [
    "DRIFTED",
    "PREVIEWED",
    "UNDONE",
    "AppPreview",
    "LinkState",
    "NumberPreview",
    "PreImage",
    "Preview",
    "PreviewReader",
    "PreviewStore",
    "Purpose",
    "StoredPreview",
    "changes",
    "read_preview",
]

log = logging.getLogger(__name__)

# event kinds in the chained log: a preview stored (its fingerprint in the detail), a preview
# read before running that differs from the approved one, an undo carried out
PREVIEWED = "previewed"
DRIFTED = "drifted"
UNDONE = "undone"


class Purpose(enum.StrEnum):
    """When a preview was read: as the request was filed, right before it ran (the
    pre-image), or right before it would have run, found changed (`rebound`: the request
    waits for approval on this one again)."""

    FILED = "filed"
    BEFORE_EXECUTION = "before_execution"
    REBOUND = "rebound"

    @property
    def binds(self) -> bool:
        """Whether approvals given after it are given on it (what the card showed)."""
        return self is not Purpose.BEFORE_EXECUTION


class LinkState(enum.StrEnum):
    """An unlink target as read: only the named app's list can be read, so "not in it" covers
    both linked elsewhere and linked nowhere."""

    LINKED = "linked"
    NOT_IN_APP = "not_in_app"
    APP_NOT_FOUND = "app_not_found"


@dataclass(frozen=True)
class AppPreview:
    """A delete target: the app (None fields when not found) and the numbers linked to it."""

    app_id: str
    found: bool
    name: str | None = None
    status: str | None = None
    numbers: tuple[str, ...] = ()
    fields: AppFields | None = None  # for undo; not fingerprinted


@dataclass(frozen=True)
class NumberPreview:
    app_id: str
    number: str
    state: LinkState


@dataclass(frozen=True)
class PreImage:
    """What an undo puts back for one app: recreate it from `fields` (None: it stays, only
    its numbers were unlinked) and link `numbers` to it."""

    app_id: str
    fields: AppFields | None
    numbers: tuple[str, ...]


@dataclass(frozen=True)
class Preview:
    action: Action
    apps: tuple[AppPreview, ...] = ()
    numbers: tuple[NumberPreview, ...] = ()
    unreadable: str | None = None  # why SFVoPI could not be read; then nothing else is known

    def facts(self) -> dict[str, Any]:
        """What an approval depends on, canonical (sorted, no pre-image fields)."""
        return {
            "action": self.action.value,
            "readable": self.unreadable is None,
            "apps": sorted(
                [a.app_id, a.found, a.name, a.status, sorted(a.numbers)] for a in self.apps
            ),
            "numbers": sorted([n.app_id, n.number, n.state.value] for n in self.numbers),
        }

    def linked_numbers(self) -> int | None:
        """How many numbers a delete would unlink, as read (None: not a delete, or unreadable):
        what rules bounding `min_linked_numbers`/`max_linked_numbers` select by."""
        if self.action is not Action.DELETE or self.unreadable is not None:
            return None
        return sum(len(a.numbers) for a in self.apps)

    def fingerprint(self) -> str:
        canonical = json.dumps(self.facts(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def pre_images(self) -> tuple[PreImage, ...]:
        """For delete: each app found, with its fields and numbers. For unlink: per app, the
        target numbers linked to it now."""
        if self.action is Action.DELETE:
            return tuple(
                PreImage(a.app_id, a.fields, a.numbers) for a in self.apps if a.found and a.fields
            )
        by_app: dict[str, list[str]] = {}
        for n in self.numbers:
            if n.state is LinkState.LINKED:
                by_app.setdefault(n.app_id, []).append(n.number)
        return tuple(PreImage(app, None, tuple(numbers)) for app, numbers in by_app.items())

    def shown(self, *, fields: bool) -> dict[str, Any]:
        """What SFVoPI showed, as JSON-ready data: the store keeps it with each app's `fields`
        (an undo's pre-image), the API shows it without."""
        apps: list[dict[str, Any]] = []
        for a in self.apps:
            app = {
                "app_id": a.app_id,
                "found": a.found,
                "name": a.name,
                "status": a.status,
                "numbers": list(a.numbers),
            }
            if fields:
                app["fields"] = a.fields.body() if a.fields else None
            apps.append(app)
        return {
            "unreadable": self.unreadable,
            "apps": apps,
            "numbers": [
                {"app_id": n.app_id, "number": n.number, "state": n.state.value}
                for n in self.numbers
            ],
        }

    def to_json(self) -> str:
        return json.dumps({"action": self.action.value, **self.shown(fields=True)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preview:
        """The stored preview back; ValueError if the text is not one."""
        try:
            raw = json.loads(text)
            return cls(
                action=Action(raw["action"]),
                unreadable=_opt_str(raw.get("unreadable")),
                apps=tuple(
                    AppPreview(
                        app_id=str(a["app_id"]),
                        found=bool(a["found"]),
                        name=_opt_str(a.get("name")),
                        status=_opt_str(a.get("status")),
                        numbers=tuple(str(n) for n in a.get("numbers", [])),
                        fields=AppFields.parse(a["fields"]) if a.get("fields") else None,
                    )
                    for a in raw.get("apps", [])
                ),
                numbers=tuple(
                    NumberPreview(str(n["app_id"]), str(n["number"]), LinkState(n["state"]))
                    for n in raw.get("numbers", [])
                ),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a stored preview: {exc}") from None


@dataclass(frozen=True)
class StoredPreview:
    """A preview as the store keeps it: the `seq`-th read for its request."""

    request_id: int
    seq: int
    purpose: Purpose
    taken_at: float
    fingerprint: str
    preview: Preview

    def event_detail(self) -> dict[str, object]:
        """The `previewed` event's detail: what the chained log keeps of this preview."""
        return {
            "purpose": self.purpose.value,
            "fingerprint": self.fingerprint,
            "seq": self.seq,
            "readable": self.preview.unreadable is None,
        }


class PreviewStore(Protocol):
    """Where previews are kept (bot/store/previews.py; the memory store in tests)."""

    async def record_preview(
        self,
        request_id: int,
        purpose: Purpose,
        preview: Preview,
        *,
        now: float,
        event: bool = True,
        owed: Sequence[tuple[Kind, str]] = (),
        policy: Mapping[str, object] | None = None,
    ) -> StoredPreview: ...

    async def latest_preview(
        self, request_id: int, purpose: Purpose | None = None
    ) -> StoredPreview | None: ...


def changes(old: Preview, new: Preview) -> list[str]:
    """What differs between two previews, in plain words; [] when the facts are the same."""
    if old.fingerprint() == new.fingerprint():
        return []
    if new.unreadable is not None:
        return [f"SFVoPI could not be read: {new.unreadable}"]
    if old.unreadable is not None:
        return ["SFVoPI can be read now; what it shows was not seen when this was approved"]
    lines: list[str] = []
    olds = {a.app_id: a for a in old.apps}
    for app in new.apps:
        before = olds.get(app.app_id)
        if before is None:
            lines.append(f"{app.app_id} was not in the preview approved")
        else:
            lines += _app_changes(before, app)
    old_numbers = {(n.app_id, n.number): n.state for n in old.numbers}
    for n in new.numbers:
        was = old_numbers.get((n.app_id, n.number))
        if was is n.state:
            continue
        if n.state is LinkState.APP_NOT_FOUND:
            line = f"app {n.app_id} no longer exists"
        elif n.state is LinkState.LINKED:
            line = f"{n.number} is now linked to {n.app_id}"
        else:
            line = f"{n.number} is no longer linked to {n.app_id}"
        if line not in lines:
            lines.append(line)
    return lines or ["the preview differs from the one approved"]


def _app_changes(old: AppPreview, new: AppPreview) -> list[str]:
    if old.found and not new.found:
        return [f"app {new.app_id} no longer exists"]
    if new.found and not old.found:
        return [f"app {new.app_id} exists now"]
    lines = []
    if old.name != new.name:
        lines.append(f"app {new.app_id} is now named {new.name!r} (was {old.name!r})")
    if old.status != new.status:
        lines.append(f"app {new.app_id} is now {new.status} (was {old.status})")
    lines += [f"{n} is now linked to {new.app_id}" for n in new.numbers if n not in old.numbers]
    lines += [
        f"{n} is no longer linked to {new.app_id}" for n in old.numbers if n not in new.numbers
    ]
    return lines


class PreviewReader(Protocol):
    """The client's read calls a preview needs (bot.sfvopi.SfvopiClient has them)."""

    async def get_app(self, api_key: SecretStr, app_id: str) -> AppInfo: ...

    async def list_app_numbers(self, api_key: SecretStr, app_id: str) -> list[NumberLink]: ...


async def read_preview(
    reader: PreviewReader, api_key: SecretStr, action: Action, targets: Sequence[Target]
) -> Preview:
    """Reads what `targets` touch now; SFVoPI down (or any failure) is `unreadable`, never
    an exception."""
    try:
        if action is Action.DELETE:
            apps = await asyncio.gather(
                *(_read_app(reader, api_key, app) for app in _unique(t.app_id for t in targets))
            )
            return Preview(action, apps=tuple(apps))
        linked = await asyncio.gather(
            *(_read_links(reader, api_key, app) for app in _unique(t.app_id for t in targets))
        )
        by_app = dict(linked)
        return Preview(
            action,
            numbers=tuple(
                NumberPreview(t.app_id, t.number, _state(by_app[t.app_id], t.number))
                for t in targets
                if t.number is not None
            ),
        )
    except BotError as exc:
        return Preview(action, unreadable=exc.message)
    except Exception as exc:  # a preview never stops filing or running
        log.exception("reading the preview failed")
        return Preview(action, unreadable=f"unexpected error: {type(exc).__name__}")


async def _read_app(reader: PreviewReader, api_key: SecretStr, app_id: str) -> AppPreview:
    try:
        app = await reader.get_app(api_key, app_id)
        links = await reader.list_app_numbers(api_key, app_id)
    except AppNotFound:
        return AppPreview(app_id, found=False)
    numbers = tuple(sorted({link.voip_number for link in links}))
    return AppPreview(app_id, True, app.name, app.status, numbers, app.fields)


async def _read_links(
    reader: PreviewReader, api_key: SecretStr, app_id: str
) -> tuple[str, frozenset[str] | None]:
    try:
        links = await reader.list_app_numbers(api_key, app_id)
    except AppNotFound:
        return app_id, None
    return app_id, frozenset(link.voip_number for link in links)


def _state(linked: frozenset[str] | None, number: str) -> LinkState:
    if linked is None:
        return LinkState.APP_NOT_FOUND
    return LinkState.LINKED if number in linked else LinkState.NOT_IN_APP


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(values))


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
