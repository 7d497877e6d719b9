"""One target through the SFVoPI client: every API or network outcome becomes a result the
store can record, so an execution never stops half-way on an exception. An undo's targets
too: a number linked again, an app recreated (bot/core/undo.py)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from bot.core.apps import AppFields
from bot.core.models import Outcome, Target
from bot.core.undo import adoptable
from bot.errors import InvalidId, SfvopiError
from bot.sfvopi import Created, CreateRefused, LinkRefusal, LinkRefused, SfvopiClient


@dataclass(frozen=True)
class ApiResult:
    """What `perform` reports for one target; it never raises for API or network outcomes."""

    outcome: Outcome
    status_code: int | None
    message: str
    attempts: int


async def perform(
    client: SfvopiClient, api_key: SecretStr, target: Target, *, ambiguous_before: bool = False
) -> ApiResult:
    """Runs one target; `ambiguous_before` says an earlier try may have applied it."""
    try:
        if target.number is not None:
            done = await client.unlink_number(
                api_key, target.app_id, target.number, ambiguous_before=ambiguous_before
            )
        else:
            done = await client.delete_app(
                api_key, target.app_id, ambiguous_before=ambiguous_before
            )
    except InvalidId as exc:
        return ApiResult(Outcome.FAILED, None, exc.message, 0)
    except SfvopiError as exc:
        return _error(exc, str(target))
    if done.already_absent:
        return ApiResult(Outcome.ALREADY_ABSENT, 404, done.message, done.attempts)
    return ApiResult(Outcome.DONE, 200, done.message, done.attempts)


async def relink(client: SfvopiClient, api_key: SecretStr, app_id: str, number: str) -> ApiResult:
    """Links `number` to `app_id` again (an undo): a number linked there already counts as
    done; one linked to another app meanwhile is refused, and said so, for that number."""
    try:
        linked = await client.link_number(api_key, app_id, number)
    except InvalidId as exc:
        return ApiResult(Outcome.FAILED, None, exc.message, 0)
    except SfvopiError as exc:
        return _error(exc, f"{number} on {app_id}")
    if isinstance(linked, LinkRefused):
        why = linked.message
        if linked.refusal is LinkRefusal.LINKED_ELSEWHERE:
            why = f"already linked to another SFVoPI app ({linked.message}); left there"
        return ApiResult(Outcome.FAILED, linked.status_code, why, linked.attempts)
    said = f"linked to {app_id} again"
    if linked.found_linked:
        said = f"already linked to {app_id}"
    return ApiResult(Outcome.DONE, 200, said, linked.attempts)


@dataclass(frozen=True)
class Recreated:
    """What recreating one app came to: the result, and the new app's id when it exists."""

    result: ApiResult
    new_app_id: str | None = None


async def recreate(
    client: SfvopiClient,
    api_key: SecretStr,
    fields: AppFields,
    *,
    attempted_at: float | None,
    now: float,
) -> Recreated:
    """Creates the app from its pre-image (now), or, if an earlier attempt (`attempted_at`)
    may have made it, looks for what that attempt made: never a second app."""
    if attempted_at is not None:
        return await _adopt(client, api_key, fields, attempted_at, "an earlier attempt")
    try:
        created = await client.create_app(api_key, fields)
    except InvalidId as exc:
        return Recreated(ApiResult(Outcome.FAILED, None, exc.message, 0))
    except SfvopiError as exc:
        if not exc.maybe_applied:
            return Recreated(ApiResult(Outcome.FAILED, exc.status_code, exc.describe(), 0))
        return Recreated(_error(exc, f"app {fields.name}"))
    if isinstance(created, Created):
        app = created.app.app_id
        return Recreated(ApiResult(Outcome.DONE, 201, new_app_said(app), created.attempts), app)
    if isinstance(created, CreateRefused):
        return Recreated(
            ApiResult(Outcome.FAILED, created.status_code, created.message, created.attempts)
        )
    return await _adopt(client, api_key, fields, now, f"the create ({created.message})")


def new_app_said(app_id: str) -> str:
    return f"recreated as {app_id} (a new app_id: the old one is gone for good)"


async def _adopt(
    client: SfvopiClient, api_key: SecretStr, fields: AppFields, since: float, what: str
) -> Recreated:
    """The app an attempt whose answer was lost made, if exactly one app fits (its name, made
    since the attempt); else unknown, for a person to check: never a second create."""
    check = f"check SFVoPI for an app named {fields.name!r} before undoing again"
    try:
        apps = await client.list_apps(api_key)
    except SfvopiError as exc:
        said = f"{what} may have created the app, and the apps could not be listed"
        return Recreated(
            ApiResult(Outcome.UNKNOWN, exc.status_code, f"{said} ({exc.describe()}); {check}", 0)
        )
    found = adoptable(((a.app_id, a.name, a.created_at) for a in apps), fields.name, since)
    if len(found) == 1:
        return Recreated(ApiResult(Outcome.DONE, 200, new_app_said(found[0]), 0), found[0])
    many = "several apps fit" if found else "no app was found"
    said = f"{what} may or may not have created the app ({many}); {check}"
    return Recreated(ApiResult(Outcome.UNKNOWN, None, said, 0))


def _error(exc: SfvopiError, what: str) -> ApiResult:
    if exc.maybe_applied:
        check = f"it may have been applied: check {what} in SFVoPI before trying again"
        said = f"{exc.describe()}; {check}"
        return ApiResult(Outcome.UNKNOWN, exc.status_code, said, exc.attempts)
    return ApiResult(Outcome.FAILED, exc.status_code, exc.describe(), exc.attempts)
