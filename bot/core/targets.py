"""One target through the SFVoPI client: every API or network outcome becomes a result the
store can record, so an execution never stops half-way on an exception."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from bot.core.models import Outcome, Target
from bot.errors import InvalidId, SfvopiError
from bot.sfvopi import SfvopiClient


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
        if exc.maybe_applied:
            check = f"it may have been applied: check {target} in SFVoPI before trying again"
            return ApiResult(
                Outcome.UNKNOWN, exc.status_code, f"{exc.describe()}; {check}", exc.attempts
            )
        return ApiResult(Outcome.FAILED, exc.status_code, exc.describe(), exc.attempts)
    if done.already_absent:
        return ApiResult(Outcome.ALREADY_ABSENT, 404, done.message, done.attempts)
    return ApiResult(Outcome.DONE, 200, done.message, done.attempts)
