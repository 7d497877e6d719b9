"""Running a claimed request: every unfinished target once, under a lease kept alive by a
heartbeat; results recorded even through a database blip; an execution whose worker died
taken over (recovery) once its lease lapses."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.core import failpoints
from bot.core.leases import held
from bot.core.models import Action, Outcome, Request, Status
from bot.core.org import Org
from bot.core.ports import RunningStore
from bot.core.targets import ApiResult, perform
from bot.core.undo import phases
from bot.core.workflow.binding import Binding
from bot.core.workflow.shared import Shared
from bot.core.workflow.undoing import Undoing
from bot.errors import LostClaim, RecordingDelayed, RequestNotFound
from bot.observability.context import bind, request_scope
from bot.sfvopi import SfvopiClient

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(eq=False, repr=False)
class Running:
    """Executions under a claim; the SFVoPI client called once per target."""

    shared: Shared
    store: RunningStore
    client: SfvopiClient
    binding: Binding  # the preview read again before the first call
    undoing: Undoing

    @request_scope
    async def execute(
        self, request_id: int, claim: str, *, claimed: Request | None = None
    ) -> Request:
        """Runs every unfinished target once under our claim, then records the final state.
        `claimed`: the request as the write that claimed it returned (not read again)."""
        request = claimed if claimed is not None else await self.store.get(request_id)
        if request is None:
            raise RequestNotFound(f"there is no request #{request_id}")
        bind(org=request.org)
        failpoints.reached("after_claim")
        self.shared.changed(request)
        org = self.shared.orgs.get(request.org)
        gate = asyncio.Semaphore(self.shared.concurrency)
        renew = functools.partial(self.store.renew, request_id, claim)
        async with held(
            renew,
            lease_seconds=self.shared.lease_seconds,
            clock=self.shared.clock,
            what=f"request {request_id}",
        ):
            # an undo is not bound to a preview: what it finds is said per target instead
            if request.action is not Action.UNDO and all(
                t.outcome is None for t in request.targets
            ):
                back = await self.binding.before_run(request, claim, org)
                if back is not None:  # changed since approved: asked again, or denied
                    return back

            async def run(current: Request, idx: int) -> None:
                async with gate:
                    await self._run_target(current, idx, claim, org)

            for turn, phase in enumerate(phases(request)):
                if turn:  # an undo's numbers, once their apps' new ids are recorded
                    request = await self._kept(request_id, "read", lambda: self._get(request_id))
                await asyncio.gather(*(run(request, i) for i in phase))
        done = await self._kept(request_id, "read the results", lambda: self.store.get(request_id))
        assert done is not None
        final = await self._kept(
            request_id,
            "record the final state",
            lambda: self.store.finish(
                request_id, claim, status=final_status(done), now=self.shared.clock()
            ),
        )
        failpoints.reached("after_finish")
        self.shared.changed(final)
        await self.undoing.finished(final)
        return final

    async def _get(self, request_id: int) -> Request:
        found = await self.store.get(request_id)
        assert found is not None
        return found

    async def _run_target(self, request: Request, idx: int, claim: str, org: Org | None) -> None:
        target = request.targets[idx].target
        shared = self.shared
        undoing = request.action is Action.UNDO  # its own records of what was sent
        sent_before = undoing or await self.store.start_target(
            request.id, idx, claim, shared.clock(), shared.clock() + shared.lease_seconds
        )
        if org is None:
            result = ApiResult(
                Outcome.FAILED, None, f"org {request.org} is no longer configured", 0
            )
        else:
            try:
                result = await (
                    self.undoing.perform(request, idx, claim, org)
                    if undoing
                    else perform(self.client, org.api_key, target, ambiguous_before=sent_before)
                )
            except Exception as exc:
                log.exception("request %s: target %s failed unexpectedly", request.id, target)
                result = ApiResult(
                    Outcome.FAILED, None, f"internal error ({type(exc).__name__})", 0
                )
        failpoints.reached("after_api")
        await self._kept(
            request.id,
            "record a target's result",
            lambda: self.store.record_target(
                request.id,
                idx,
                claim,
                outcome=result.outcome,
                status_code=result.status_code,
                message=result.message,
                attempts=result.attempts,
                now=shared.clock(),
                lease_until=shared.clock() + shared.lease_seconds,
            ),
        )

    async def _kept(self, request_id: int, what: str, write: Callable[[], Awaitable[T]]) -> T:
        """A write after SFVoPI answered: a result once obtained is kept, so a database blip
        is ridden out (bounded, within half a lease) instead of turning it into an error. If
        the database stays away, RecordingDelayed: the lease lapses and recovery finishes."""
        delay, waited = 0.05, 0.0
        while True:
            try:
                return await write()
            except LostClaim:
                raise
            except Exception as exc:
                if waited + delay > self.shared.lease_seconds / 2:
                    raise RecordingDelayed(
                        f"request #{request_id} ran, but recording it is delayed (the database "
                        "did not answer); the bot finishes it on its own and the card will show it"
                    ) from exc
                log.warning("request %s: could not %s (%s); retrying", request_id, what, exc)
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 2.0)

    async def recover(self) -> list[Request]:
        """Finishes executions whose worker died; a target it may have sent counts 404 as absent."""
        finished = []
        shared = self.shared
        for request_id, old in await self.store.stale_executions(shared.clock()):
            # claimed only when its turn comes: a claim held unrenewed while the ones before
            # it run would lapse, and another worker would take it over again
            claim = await self.store.reclaim(request_id, old, shared.clock(), shared.lease_seconds)
            if claim is None:
                continue
            log.warning("request %s: taking over an execution whose lease lapsed", request_id)
            try:
                finished.append(await self.execute(request_id, claim))
            except LostClaim:
                log.warning("request %s: another worker took it over", request_id)
        return finished


def final_status(request: Request) -> Status:
    """Failed if any target failed; unknown if any may or may not have been applied (SFVoPI
    never said); succeeded when every target is gone."""
    outcomes = {t.outcome for t in request.targets}
    if Outcome.FAILED in outcomes or None in outcomes:
        return Status.FAILED
    if Outcome.UNKNOWN in outcomes:
        return Status.UNKNOWN
    return Status.SUCCEEDED
