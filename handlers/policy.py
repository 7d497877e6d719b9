"""`/sfvopi policy [unlink|delete TARGETS…]`: the org's policy rules, or which rule a request
would fall under and why; answered to the asker alone, nothing filed."""

from __future__ import annotations

from typing import Any

from bot.core.workflow.explaining import lines
from bot.slack.blocks.policy import policy_answer
from bot.slack.grammar import Command
from bot.slack.services import Services


async def answer(services: Services, cmd: Command, payload: dict[str, Any]) -> dict[str, Any]:
    explained = await services.workflow.explain(
        user=str(payload.get("user_id", "")),
        org=cmd.org,
        action=cmd.action,
        targets=cmd.targets,
    )
    found = lines(explained.org, explained.ruled)
    return {"text": found[0][:300], "blocks": policy_answer(found)}
