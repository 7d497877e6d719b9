"""An approval bound to what was seen: the preview read after filing (shown on the card), and
read again right before the first run: kept as the pre-image, and, changed since the approvals
were given (and the policy rebinds), the request goes back to pending instead of running
(denied, where its rules now refuse it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.core import failpoints
from bot.core.bound import approved_on, owed_with, stops
from bot.core.deliveries import Kind
from bot.core.models import Request, Status
from bot.core.org import Org
from bot.core.ports import BindingStore
from bot.core.preview import Preview, PreviewReader, Purpose, StoredPreview, read_preview
from bot.core.workflow import policy_rules
from bot.core.workflow.deciding import Deciding
from bot.core.workflow.shared import Shared

__all__ = ["SWEEP_GRACE", "Binding"]

log = logging.getLogger(__name__)

SWEEP_GRACE = 5.0  # seconds a filed request's own read has before the sweep reads for it
Spawn = Callable[..., None]  # the Slack layer's: starts work after the ack


@dataclass(eq=False, repr=False)
class Binding:
    """Reads previews through the SFVoPI client and keeps them; decides drift before a run."""

    shared: Shared
    store: BindingStore
    reader: PreviewReader
    deciding: Deciding  # closes a request its rules refuse once the count is known

    def after_filing(self, request: Request, spawn: Spawn) -> None:
        """A workflow listener's half: a request just filed gets its preview read, by work
        `spawn` starts after the ack (the card is posted meanwhile, and updated with it)."""
        just_filed = request.status is Status.PENDING and not request.approvals
        if just_filed and not request.break_glass and request.card_ts is None:
            spawn(self._read_in_turn(request.id), name=f"preview-{request.id}")

    async def _read_in_turn(self, request_id: int) -> StoredPreview | None:
        """`read_filed`, a few at a time: each read takes CPU and the database's writer from
        the acks of a burst still arriving (benchmarks/README.md, scenario 7)."""
        async with self.shared.previews_read:
            return await self.read_filed(request_id)

    async def read_filed(self, request_id: int) -> StoredPreview | None:
        """Reads and keeps a pending request's preview, once; the posts it owes with it, and
        every listener told (the card shows it). None when there was nothing to read."""
        request = await self.store.get(request_id)
        if request is None or request.status is not Status.PENDING or request.break_glass:
            return None
        org = self.shared.orgs.get(request.org)
        if org is None or await self.store.latest_preview(request_id) is not None:
            return None
        preview = await self._read(org, request)
        if await self.store.latest_preview(request_id) is not None:
            return None  # another replica's sweep read it meanwhile
        ruled = policy_rules.redecided(org, request, preview.linked_numbers())
        stored = await self.store.record_preview(
            request_id,
            Purpose.FILED,
            preview,
            now=self.shared.clock(),
            owed=owed_with(request, preview),
            policy=None
            if ruled is None
            else ruled.detail() | {"linked_numbers": preview.linked_numbers()},
        )
        fresh = await self.store.get(request_id)
        if fresh is not None and await self.deciding.refuse(fresh, org) is None:
            self.shared.changed(fresh)
        return stored

    async def sweep(self) -> None:
        """Pending requests whose read after the ack never happened (a crash, a restart)."""
        for request_id in await self.store.unpreviewed(self.shared.clock() - SWEEP_GRACE):
            try:
                await self.read_filed(request_id)
            except Exception:
                log.exception("request %s: could not read its preview", request_id)

    async def before_run(self, request: Request, claim: str, org: Org | None) -> Request | None:
        """Right before a run's first SFVoPI call: the preview read again and kept (the
        pre-image, whatever the policy); changed since the approvals and the policy rebinds,
        the request back at pending, every listener told, and closed at once where the new
        count makes a deny rule apply (returned: do not run). A run taken over after its
        pre-image was kept (a crash) is not read again: the pre-image stays the one read
        before anything was sent."""
        if org is None:
            return None
        previews = await self.store.previews(request.id)
        if previews and previews[-1].purpose is Purpose.BEFORE_EXECUTION:
            return None
        preview = await self._read(org, request)
        approved = approved_on(previews)
        changed = stops(
            approved.preview if approved else None,
            preview,
            rebind=org.policy.rebinds(request.action),
        )
        now = self.shared.clock()
        if approved is not None and changed:
            failpoints.reached("before_drift")
            log.warning("request %s: changed since approved; back to pending", request.id)
            drifted = await self.store.drift(
                request.id,
                claim,
                preview,
                now=now,
                detail={
                    "old_fingerprint": approved.fingerprint,
                    "new_fingerprint": preview.fingerprint(),
                    "changes": changed,
                },
                owed=[(Kind.DRIFT_TOLD, "thread"), *_listed(request, preview)],
            )
            self.shared.changed(drifted)  # the card, the thread's line, the drift counted
            return await self.deciding.refuse(drifted, org) or drifted
        if preview.unreadable is not None:
            log.warning(
                "request %s: SFVoPI unreadable before running (%s): runs without a pre-image",
                request.id,
                preview.unreadable,
            )
        await self.store.record_preview(request.id, Purpose.BEFORE_EXECUTION, preview, now=now)
        failpoints.reached("after_pre_image")
        return None

    async def _read(self, org: Org, request: Request) -> Preview:
        targets = [t.target for t in request.targets]
        return await read_preview(self.reader, org.api_key, request.action, targets)


def _listed(request: Request, preview: Preview) -> list[tuple[Kind, str]]:
    return [o for o in owed_with(request, preview) if o[0] is Kind.PREVIEW_LISTED]
