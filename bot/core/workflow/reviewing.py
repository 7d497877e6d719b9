"""A break-glass request's review after it ran: acknowledged, or flagged with why; once per
request, by an approver who is not the person who broke glass."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.break_glass import review_refusal
from bot.core.models import Request, Review
from bot.core.org import Org, Role
from bot.core.ports import DecidingStore
from bot.core.text import MAX_NOTE, one_line
from bot.core.workflow.access import Access
from bot.core.workflow.shared import Shared
from bot.errors import Conflict, InvalidRequest, NotAllowed
from bot.observability.context import request_scope


@dataclass(eq=False, repr=False)
class Reviewing:
    """The review's rules, then its one write (the store records it once)."""

    shared: Shared
    access: Access
    store: DecidingStore

    @request_scope
    async def review(
        self, request_id: int, *, reviewer: str, verdict: Review, note: str = ""
    ) -> Request:
        """An approver's review of a break-glass request after it ran: acknowledged, or
        flagged with why. Once per request; never by the person who broke glass."""
        await self.check_review(request_id, reviewer=reviewer, verdict=verdict)
        note = one_line(note, "the note")
        if verdict is Review.FLAGGED and not note:
            raise InvalidRequest("say why you flag it: it goes on the card and to the requester")
        if len(note) > MAX_NOTE:
            raise InvalidRequest(f"the note is too long ({len(note)} > {MAX_NOTE} characters)")
        reviewed = await self.store.review(
            request_id,
            reviewer=reviewer,
            verdict=verdict,
            note=note or None,
            now=self.shared.clock(),
        )
        if reviewed is None:
            fresh = await self.store.get(request_id)
            raise Conflict(review_refusal(request_id, fresh))
        self.shared.changed(reviewed)
        return reviewed

    async def check_review(
        self, request_id: int, *, reviewer: str, verdict: Review
    ) -> tuple[Request, Org]:
        """The refusal a review would meet now, raised (so a form asking why opens only when
        the review can be given); otherwise the request and its org."""
        if verdict is Review.PENDING:
            raise InvalidRequest("a review acknowledges or flags")
        request, org, role = await self.access.visible(request_id, reviewer)
        if not request.break_glass:
            raise Conflict(f"request #{request_id} did not break glass: there is nothing to review")
        if role < Role.APPROVER:
            raise NotAllowed(
                f"reviewing a break-glass request needs the approver role in {org.name}; you "
                f"are a {role.label}"
            )
        if reviewer == request.requester:
            raise NotAllowed("you broke glass on this request: another approver must review it")
        if request.review is not Review.PENDING or not request.status.final:
            raise Conflict(review_refusal(request_id, request))
        return request, org
