"""The emulator's test and sandbox controls beyond faults: seed an org's apps and numbers, and
change links behind the bot's back, so tests and the sandbox page can cause drift.

Each control names the org (never a key): `POST /_emulator/seed`, `/_emulator/link`,
`/_emulator/unlink`, and `GET /_emulator/numbers` (held and available numbers per org)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.core import ids
from bot.errors import InvalidId
from bot.sandbox.emulator_state import Org

__all__ = ["Controls"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Controls:
    """Mixed into the Emulator, which owns `_orgs` (org name → its state)."""

    _orgs: dict[str, Org]

    def link_behind(self, org: str, app_id: str, number: str) -> None:
        """Link `number` to `app_id` as another SFVoPI user would: moved from any app holding
        it, held by the org from now on. KeyError for an unknown org or app."""
        state = self._orgs[org]
        if app_id not in state.apps:
            raise KeyError(f"no app {app_id} in org {org}")
        holder = state.holder(number)
        if holder is not None:
            state.apps[holder].discard(number)
        state.link(app_id, number)

    def unlink_behind(self, org: str, app_id: str, number: str) -> None:
        """Unlink `number` from `app_id` behind the bot's back (nothing if it was not linked)."""
        self._orgs[org].apps.get(app_id, set()).discard(number)

    def seed_org(
        self,
        org: str,
        apps: dict[str, list[str]] | None = None,
        held: list[str] | None = None,
        fields: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Add apps (with their numbers and fields) and unlinked numbers to a known org."""
        state = self._orgs[org]
        for app_id, numbers in (apps or {}).items():
            state.add_app(app_id, set(numbers), (fields or {}).get(app_id))
        state.held.update(held or ())

    def _add_controls(self, app: web.Application) -> None:
        app.router.add_post("/_emulator/seed", _guarded(self._seed))
        app.router.add_post("/_emulator/link", _guarded(self._link))
        app.router.add_post("/_emulator/unlink", _guarded(self._unlink))
        app.router.add_get("/_emulator/numbers", self._numbers)

    async def _numbers(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                org: {"held": sorted(state.held), "available": state.available()}
                for org, state in sorted(self._orgs.items())
            }
        )

    async def _seed(self, body: dict[str, Any]) -> dict[str, Any]:
        org = _org(body, self._orgs)
        apps = body.get("apps", {})
        held = body.get("held", [])
        if not isinstance(apps, dict) or not isinstance(held, list):
            raise ValueError('expected {"org", "apps": {app_id: [numbers]}, "held": [numbers]}')
        checked = {ids.app_id(a): [ids.phone_number(n) for n in ns] for a, ns in apps.items()}
        self.seed_org(org, checked, [ids.phone_number(n) for n in held])
        return {"ok": True}

    async def _link(self, body: dict[str, Any]) -> dict[str, Any]:
        org, app_id, number = _org(body, self._orgs), _app(body), _number(body)
        self.link_behind(org, app_id, number)
        return {"ok": True}

    async def _unlink(self, body: dict[str, Any]) -> dict[str, Any]:
        org, app_id, number = _org(body, self._orgs), _app(body), _number(body)
        self.unlink_behind(org, app_id, number)
        return {"ok": True}


def _guarded(handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> Handler:
    """A control's JSON body in, its answer out; a bad body or unknown name is a 400."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            return web.json_response(await handler(body))
        except InvalidId as exc:
            return web.json_response({"message": exc.message}, status=400)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return web.json_response({"message": str(exc)}, status=400)

    return run


def _org(body: dict[str, Any], orgs: dict[str, Org]) -> str:
    org = body.get("org")
    if not isinstance(org, str) or org not in orgs:
        raise ValueError("unknown org")
    return org


def _app(body: dict[str, Any]) -> str:
    return ids.app_id(str(body.get("app_id", "")))


def _number(body: dict[str, Any]) -> str:
    return ids.phone_number(str(body.get("voip_number", "")))
