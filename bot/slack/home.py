"""The App Home tab as a pure function of what the store says: what waits for my approval
(with the card's own Approve and Deny buttons), my requests, and the last decisions in my
orgs. Tested as data; every text a person typed is shown inert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.models import Request, Status
from bot.slack import blocks
from bot.slack.blocks import Block

WAITING_SHOWN = 20  # Slack allows 100 blocks in a Home view; two per request waiting
MINE_SHOWN = 10
DECIDED_SHOWN = 10


def home_view(
    user: str,
    *,
    orgs: Sequence[str],
    waiting: Sequence[Request],
    mine: Sequence[Request],
    decided: Sequence[Request],
    updated: float,
    notice: str | None = None,
) -> dict[str, Any]:
    """The Home view of `user`: `waiting` are requests they may approve now, `mine` their
    own, `decided` the latest decided in their orgs; `notice` is told at the top (a refused
    click from this tab)."""
    shown: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "SFVoPI requests"}},
    ]
    if notice:
        shown.append(blocks.warning(notice))
    if not orgs:
        shown.append(
            _section(
                f"{blocks.user(user)} is not a member of any organization here; an admin of "
                "your organization can add you."
            )
        )
        return _view(shown, updated)
    shown.append(_context(f"Your organizations: {', '.join(blocks.escape(o) for o in orgs)}"))
    shown += _waiting(waiting)
    shown += _mine(mine)
    shown.append({"type": "divider"})
    shown += blocks.request_list("Latest decisions in your organizations", decided[:DECIDED_SHOWN])
    return _view(shown, updated)


def _waiting(waiting: Sequence[Request]) -> list[Block]:
    found: list[Block] = [{"type": "divider"}, _section("*Waiting for your approval*")]
    if not waiting:
        return [*found, _context("Nothing waits for you.")]
    for request in waiting[:WAITING_SHOWN]:
        found.append(_section(_summary(request)))
        found.append(blocks.decision_buttons(request, requester=False))
    if len(waiting) > WAITING_SHOWN:
        more = len(waiting) - WAITING_SHOWN
        found.append(_context(f"… and {more} more: `/sfvopi pending` lists them all."))
    return found


def _mine(mine: Sequence[Request]) -> list[Block]:
    found: list[Block] = [{"type": "divider"}, _section("*Your requests*")]
    if not mine:
        return [*found, _context("You have not asked for anything yet.")]
    for request in mine[:MINE_SHOWN]:
        found.append(_section(blocks.request_line(request)))
        if request.status in (Status.PENDING, Status.SCHEDULED):  # scheduled: Cancel only
            found.append(
                blocks.decision_buttons(
                    request, approver=False, block_id=f"sfvopi_mine_{request.id}"
                )
            )
    return found


def _summary(request: Request) -> str:
    """One waiting request: what, who asked and why, how far the approvals are."""
    return (
        f"*{blocks.escape(blocks.title(request))}* in {blocks.escape(request.org)}\n"
        f"asked by {blocks.user(request.requester)}, approvals {blocks.approvals_text(request)},"
        f" expires {blocks.when(request.expires_at)}\n"
        f"{blocks.targets_text(request.targets, limit=5)}\n"
        f"reason: {blocks.quoted(request.reason)}"
    )


def _view(shown: list[Block], updated: float) -> dict[str, Any]:
    shown.append(_context(f"Updated {blocks.when(updated)}"))
    return {"type": "home", "callback_id": "sfvopi_home", "blocks": shown}


def _section(text: str) -> Block:
    return blocks.message_blocks(text)[0]


def _context(text: str) -> Block:
    return blocks.context(text)
