"""Slack's side of a test with several `sfvopi-bot serve` replicas: signed clicks and form
submissions sent to the replica named (as a load balancer would pick), commands to one, and
the preview seq a form would carry."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.core.bound import approved_on
from bot.sandbox.slack_standin import Message, SlackStandin
from bot.sandbox.slack_workspace import APP_ID, TEAM_ID, buttons
from bot.store import Store
from tests.support.processes import BotProcess, start_bot_process
from tests.support.slack import SLACK_SIGNING_SECRET

__all__ = [
    "ANSWER_WAIT",
    "APPROVALS",
    "click_at",
    "file_command",
    "serving",
    "shown",
    "submit_at",
]

APPROVALS = "C0APPROVALS"
# how long a click or a form waits for its answer: what is proved with replicas is once and
# only once, which a slow answer does not change; Slack's 3 s is a speed figure (benchmarks/),
# and a loaded 2-core machine misses it now and then (a form's decision is made before the ack)
ANSWER_WAIT = aiohttp.ClientTimeout(total=30)


async def click_at(
    http: aiohttp.ClientSession,
    slack: SlackStandin,
    replica: BotProcess,
    user: str,
    card: Message,
    action_id: str,
) -> int:
    """A signed `block_actions` post to one replica, shaped as the stand-in's `click()` sends it."""
    block_id, element = next((b, e) for b, e in buttons(card.blocks) if e["action_id"] == action_id)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "container": {
            "type": "message",
            "message_ts": card.ts,
            "channel_id": APPROVALS,
            "is_ephemeral": False,
        },
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:12]}",
        "team": {"id": TEAM_ID, "domain": "sfvopi-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": APPROVALS, "name": "sfvopi-approvals"},
        "message": card.to_dict(),
        "state": {"values": {}},
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": element.get("text"),
                "value": element.get("value"),
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = slack.sign(body) | {"Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(replica.url, data=body, headers=headers, timeout=ANSWER_WAIT) as response:
        return response.status


async def submit_at(
    http: aiohttp.ClientSession,
    slack: SlackStandin,
    replica: BotProcess,
    user: str,
    request_id: int,
    action_id: str,
    *,
    seen: int,
) -> int:
    """A signed `view_submission` of the form a click opened, to one replica: Approve's (which
    only confirms) or Deny's (with why), shaped as the stand-in's `submit_view` sends it. The
    decision is made when the form is submitted."""
    deny = action_id == "sfvopi_deny"
    typed = {"sfvopi_text": {"text": {"type": "plain_text_input", "value": "replica race"}}}
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "sfvopi-test"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:12]}",
        "view": {
            "id": "V" + uuid.uuid4().hex[:10].upper(),
            "type": "modal",
            "callback_id": "sfvopi_deny_reason" if deny else "sfvopi_approve_note",
            "private_metadata": json.dumps(
                {"request": request_id, "where": APPROVALS, "preview": seen}
            ),
            "state": {"values": typed if deny else {}},
        },
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = slack.sign(body) | {"Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(replica.url, data=body, headers=headers, timeout=ANSWER_WAIT) as response:
        return response.status


async def shown(store: Store, request_id: int) -> int:
    """The seq of the preview an Approve click on the request's card would show now (the
    form's binding), once the preview read after filing is kept."""
    deadline = time.monotonic() + 30
    while (bound := approved_on(await store.previews(request_id))) is None:
        assert time.monotonic() < deadline, f"request #{request_id} was never previewed"
        await asyncio.sleep(0.05)
    return bound.seq


async def file_command(slack: SlackStandin, replica: BotProcess, text: str) -> int:
    """A slash command through the stand-in's client side, sent to this replica."""
    slack.configure(replica.url, SLACK_SIGNING_SECRET)
    result = await slack.command("U0ALICE", text)
    assert result.status == 200 and result.ephemeral is not None, result
    match = re.search(r"Request \*?#(\d+)", result.ephemeral.text)
    assert match, result.ephemeral.text
    return int(match.group(1))


@asynccontextmanager
async def serving(
    database: str, env: dict[str, str], tmp_path: Path, names: str = "ab"
) -> AsyncIterator[tuple[list[BotProcess], Store]]:
    """`sfvopi-bot serve` replicas on one database (`replica-a`, `replica-b`, … one per
    letter of `names`), each answering, and a store to read what they did; all stopped after."""
    replicas = [await start_bot_process(f"replica-{name}", env, tmp_path) for name in names]
    store = Store(database)
    try:
        await asyncio.gather(*(r.ready() for r in replicas))
        await store.start()
        yield replicas, store
    finally:
        for replica in replicas:
            await replica.stop()
        await store.close()
