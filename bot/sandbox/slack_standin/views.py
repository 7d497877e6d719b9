"""Views, the Web API side: trigger ids, `views.open`, `views.update`, `views.publish`,
each view checked as Slack checks it."""

from __future__ import annotations

import json
import time
import uuid

from bot.sandbox.slack_standin.base import StandinBase
from bot.sandbox.slack_standin.params import Refused, as_str
from bot.sandbox.slack_workspace import JSON, USER_ID, block_errors

TRIGGER_TTL = 3.0  # Slack honours a trigger_id this long, once
MAX_VIEW_BLOCKS = 100


class Views(StandinBase):
    def __init__(self) -> None:
        super().__init__()
        self._triggers: dict[str, tuple[str, float]] = {}
        self.trigger_ttl = TRIGGER_TTL

    def reset(self) -> None:
        self._triggers.clear()
        self.trigger_ttl = TRIGGER_TTL
        super().reset()

    def _issue_trigger(self, user: str) -> str:
        """A trigger_id for something `user` just did; views.open takes it once, within
        `trigger_ttl` seconds."""
        trigger = _trigger_id()
        self._triggers[trigger] = (user, time.time())
        return trigger

    def _views_open(self, params: JSON) -> JSON:
        issued = self._triggers.get(as_str(params.get("trigger_id")))
        if issued is None:
            raise Refused("invalid_trigger_id")
        user, at = issued
        if at < 0:
            raise Refused("exchanged_trigger_id")
        if time.time() - at > self.trigger_ttl:
            raise Refused("expired_trigger_id")
        view = checked_view(params, "modal")
        self._triggers[as_str(params.get("trigger_id"))] = (user, -1.0)
        opened = self.open_modal(user, view)
        return {"ok": True, "view": opened.to_dict()}

    def _views_update(self, params: JSON) -> JSON:
        found = self.modals.get(as_str(params.get("view_id")))
        if found is None:
            raise Refused("not_found")
        if params.get("hash") and params.get("hash") != found.hash:
            raise Refused("hash_conflict")
        self.update_view(found, checked_view(params, "modal"))
        return {"ok": True, "view": found.to_dict()}

    def _views_publish(self, params: JSON) -> JSON:
        user = as_str(params.get("user_id"))
        if not USER_ID.fullmatch(user):
            raise Refused("invalid_arguments")
        home = self.homes.get(user)
        if home is not None and params.get("hash") and params.get("hash") != home.hash:
            raise Refused("hash_conflict")
        published = self.publish_home(user, checked_view(params, "home"))
        return {"ok": True, "view": published.to_dict()}


def checked_view(params: JSON, kind: str) -> JSON:
    """The `view` argument of views.open/update/publish, refused as Slack refuses a bad one."""
    view = params.get("view")
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            raise Refused("invalid_arguments") from None
    if not isinstance(view, dict) or view.get("type") != kind:
        raise Refused("invalid_arguments")
    errors = [
        f"{e.replace('[json-pointer:/', '[json-pointer:/view/')}"
        for e in block_errors(view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS)
    ]
    limits = {"callback_id": 255, "private_metadata": 3000, "external_id": 255}
    for key, limit in limits.items():
        value = view.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            errors.append(f"must be at most {limit} characters [json-pointer:/view/{key}]")
    if kind == "modal":
        for key in ("title", "submit", "close"):
            text = view.get(key)
            if text is None and key != "title":
                continue
            if (
                not isinstance(text, dict)
                or text.get("type") != "plain_text"
                or not (0 < len(str(text.get("text") or "")) <= 24)
            ):
                errors.append(
                    f"must be a plain_text of 1 to 24 characters [json-pointer:/view/{key}]"
                )
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view["blocks"] or []
        )
        if has_input and view.get("submit") is None:
            errors.append("a view with input blocks needs submit [json-pointer:/view/submit]")
    if errors:
        raise Refused("invalid_arguments", response_metadata={"messages": errors})
    return dict(view)


def _trigger_id() -> str:
    return f"{int(time.time() * 1000)}.{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex}"
