"""Events API deliveries, shared by both front doors: the signed URL check Slack makes when
the request URL is saved, and each event taken in once, however often Slack delivers it.

Slack retries an event it thinks was not acked (`X-Slack-Retry-Num` over HTTP, `retry_attempt`
in a Socket Mode envelope), and with several replicas the retry may reach another one: the
store's insert-if-absent on `event_id` decides, so every replica agrees which delivery counts.
Slack documents `event_id` only as a string (its own samples use `Ev111`), so any id the store
can hold is taken; a body without one is still handled, only not de-duplicated.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from bot.store.roles import EventStore

log = logging.getLogger(__name__)

# what the store's `slack_events.event_id` (String(64)) holds: visible ASCII, no whitespace
EVENT_ID = re.compile(r"[!-~]{1,64}")
MAX_CHALLENGE = 200


def challenge(body: dict[str, Any]) -> str | None:
    """The challenge of a `url_verification` body (already known to be signed), else None."""
    if body.get("type") != "url_verification":
        return None
    value = body.get("challenge")
    if isinstance(value, str) and 0 < len(value) <= MAX_CHALLENGE and value.isprintable():
        return value
    return ""


async def first_delivery(store: EventStore, body: dict[str, Any]) -> bool:
    """Whether this body should reach the listeners: anything that is no event does; an event
    does the first time its `event_id` is seen on any replica. When the database cannot say,
    the event is handled anyway (the listeners are safe to run twice; silence is not), and
    so is one whose `event_id` is missing or no id the store can hold: once per delivery."""
    if body.get("type") != "event_callback":
        return True
    event_id = body.get("event_id")
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        log.warning("an event_callback without a usable event_id: handled, not de-duplicated")
        return True
    try:
        first = await store.first_delivery(event_id, time.time())
    except Exception as exc:
        log.warning("could not record event %s (%s); handling it anyway", event_id, exc)
        return True
    if not first:
        log.info("event %s was delivered again; it was handled already", event_id)
    return first
