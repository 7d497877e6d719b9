"""Block Kit as Slack handles it: the ids it fills in, the buttons it finds, the limits it
enforces (in its own wording), so a test sees the refusal the real Slack would give."""

from __future__ import annotations

import json
import uuid
from typing import Any

from bot.sandbox.slack_workspace.ids import JSON


def with_ids(blocks: list[JSON]) -> list[JSON]:
    """A private copy of `blocks` with the `block_id`s and `action_id`s Slack fills in."""
    copied: list[JSON] = json.loads(json.dumps(blocks))
    for block in copied:
        block.setdefault("block_id", uuid.uuid4().hex[:5])
        elements = block.get("elements") if block.get("type") == "actions" else None
        for element in [*(elements or []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                element.setdefault("action_id", uuid.uuid4().hex[:5])
    return copied


def buttons(blocks: list[JSON]) -> list[tuple[str, JSON]]:
    """`(block_id, element)` for every button in actions blocks and section accessories."""
    found: list[tuple[str, JSON]] = []
    for block in blocks:
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if block.get("type") == "section" and block.get("accessory"):
            candidates.append(block["accessory"])
        found += [(block.get("block_id", ""), e) for e in candidates if e.get("type") == "button"]
    return found


def block_errors(blocks: Any, *, max_blocks: int = 50) -> list[str]:
    """The Block Kit limits Slack enforces with `invalid_blocks`, in Slack's wording (a
    message holds 50 blocks, a modal or Home view 100)."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"must provide no more than {max_blocks} items [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{at}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= 255:
                errors.append(f"must be 1 to 255 characters [json-pointer:{at}/block_id]")
            elif block_id in block_ids:
                errors.append(f"duplicate block_id [json-pointer:{at}/block_id]")
            else:
                block_ids.add(block_id)
        errors += _block_errors(block, at)
    return errors


def _block_errors(block: JSON, at: str) -> list[str]:
    kind = block["type"]
    if kind == "section":
        if "text" not in block and "fields" not in block:
            return [f"must provide text or fields [json-pointer:{at}]"]
        errors = _text_errors(block.get("text"), f"{at}/text", 3000) if "text" in block else []
        fields = block.get("fields") or []
        if len(fields) > 10:
            errors.append(f"must provide no more than 10 items [json-pointer:{at}/fields]")
        for j, item in enumerate(fields):
            errors += _text_errors(item, f"{at}/fields/{j}", 2000)
        if "accessory" in block:
            errors += _element_errors(block["accessory"], f"{at}/accessory")
        return errors
    if kind == "header":
        return _text_errors(block.get("text"), f"{at}/text", 150, plain=True)
    if kind == "input":
        errors = _text_errors(block.get("label"), f"{at}/label", 2000, plain=True)
        element = block.get("element")
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            errors.append(f"missing required field: element [json-pointer:{at}]")
        elif not 0 < len(str(element.get("action_id") or "x")) <= 255:
            errors.append(f"must be 1 to 255 characters [json-pointer:{at}/element/action_id]")
        return errors
    if kind in ("context", "actions"):
        limit = 10 if kind == "context" else 25
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= limit:
            return [f"must provide 1 to {limit} items [json-pointer:{at}/elements]"]
        if kind == "context":
            return [e for j, el in enumerate(elements) for e in _context_errors(el, at, j)]
        errors = []
        action_ids: set[str] = set()
        for j, element in enumerate(elements):
            errors += _element_errors(element, f"{at}/elements/{j}")
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id in action_ids:
                errors.append(f"duplicate action_id [json-pointer:{at}/elements/{j}/action_id]")
            if isinstance(action_id, str):
                action_ids.add(action_id)
        return errors
    return []


def _context_errors(element: Any, at: str, j: int) -> list[str]:
    if isinstance(element, dict) and element.get("type") == "image":
        return []
    return _text_errors(element, f"{at}/elements/{j}", 3000)


def _element_errors(element: Any, at: str) -> list[str]:
    if not isinstance(element, dict) or element.get("type") != "button":
        return []
    errors = _text_errors(element.get("text"), f"{at}/text", 75, plain=True)
    for key, limit in (("value", 2000), ("action_id", 255), ("url", 3000)):
        value = element.get(key)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= limit):
            errors.append(f"must be 1 to {limit} characters [json-pointer:{at}/{key}]")
    if element.get("style") not in (None, "primary", "danger"):
        errors.append(f"must be one of primary, danger [json-pointer:{at}/style]")
    return errors


def _text_errors(text: Any, at: str, limit: int, *, plain: bool = False) -> list[str]:
    kinds = ("plain_text",) if plain else ("plain_text", "mrkdwn")
    if not isinstance(text, dict) or text.get("type") not in kinds:
        return [f"must be a text object of type {' or '.join(kinds)} [json-pointer:{at}]"]
    value = text.get("text")
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        return [f"must be 1 to {limit} characters [json-pointer:{at}/text]"]
    return []
