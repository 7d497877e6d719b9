"""A person in front of a view: typing into a modal and submitting it, closing it, and
clicking a button on their Home tab, as Slack sends it to the bot."""

from __future__ import annotations

from bot.sandbox.slack_standin.params import Refused
from bot.sandbox.slack_standin.sender import VERIFICATION_TOKEN, Sender, button_action
from bot.sandbox.slack_standin.views import checked_view
from bot.sandbox.slack_workspace import (
    APP_ID,
    JSON,
    TEAM_DOMAIN,
    TEAM_ID,
    ClickResult,
    SubmitResult,
    View,
    buttons,
)


class Modals(Sender):
    async def submit_view(self, user: str, text: str = "") -> SubmitResult:
        """Types `text` into the modal open in front of `user` and presses its submit button,
        as Slack posts it: a signed `view_submission` (over the socket in Socket Mode). The
        bot's answer keeps it open with errors, or closes it."""
        view = self.modal_of(user)
        if view is None:
            raise LookupError(f"no modal is open in front of {user}")
        values: JSON = {}
        typed = False
        for block in view.view.get("blocks") or []:
            element = block.get("element") if block.get("type") == "input" else None
            if isinstance(element, dict):
                value = None if typed or not text else text
                typed = True
                values[str(block.get("block_id"))] = {
                    str(element.get("action_id")): {"type": element.get("type"), "value": value}
                }
        shown = view.to_dict() | {"state": {"values": values}}
        return await self.submit_payload(user, shown, view)

    async def submit_payload(
        self, user: str, shown: JSON, view: View | None = None
    ) -> SubmitResult:
        """Posts a `view_submission` carrying `shown` as the view (a test may forge it)."""
        payload: JSON = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": self._payload_user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._issue_trigger(user),
            "view": shown,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        ack = await self._interactive(payload, accepts_response_payload=True)
        errors: dict[str, str] = {}
        answer = ack.json
        closed = False
        if ack.ok and answer.get("response_action") == "errors":
            found = answer.get("errors")
            errors = {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
        elif ack.ok and answer.get("response_action") == "update" and view is not None:
            self._update_from_ack(view, answer.get("view"))
        elif ack.ok and view is not None:
            closed = True
            self.close_modal(view)
        if view is not None and errors:
            self.update_view(view, view.view, errors=errors)
        self._record("view_submission", ack, user, None, str(shown.get("callback_id")))
        return SubmitResult(**vars(ack), payload=payload, errors=errors, closed=closed)

    def _update_from_ack(self, view: View, new: object) -> None:
        """`response_action: update`: the modal shows the view the bot answered, checked as
        views.update checks it; one Slack would refuse keeps the modal as it was, with why."""
        try:
            self.update_view(view, checked_view({"view": new}, "modal"))
        except Refused as refused:
            messages = refused.extra.get("response_metadata", {}).get("messages", [])
            self.update_view(view, view.view, errors={"view": "; ".join(messages) or "refused"})

    def close_modal_of(self, user: str) -> None:
        """The person presses the modal's close button (Back)."""
        view = self.modal_of(user)
        if view is not None:
            self.close_modal(view)

    async def click_home(
        self, user: str, action_id: str, *, value: str | None = None
    ) -> ClickResult:
        """Clicks a button on `user`'s Home tab (the first with `action_id`, and `value` if
        given), as Slack sends it: a `block_actions` from a view, with no channel."""
        home = self.homes.get(user)
        if home is None:
            raise LookupError(f"{user} has no Home tab published")
        found = next(
            (
                (b, e)
                for b, e in buttons(home.view.get("blocks") or [])
                if e.get("action_id") == action_id and (value is None or e.get("value") == value)
            ),
            None,
        )
        if found is None:
            raise LookupError(f"no button {action_id!r} ({value}) on the Home of {user}")
        block_id, element = found
        action = button_action(action_id, block_id, element) | {"value": element.get("value")}
        payload = self._block_actions(user, {"type": "view", "view_id": home.id})
        payload |= {"view": home.to_dict(), "actions": [action]}
        ack = await self._interactive(payload, accepts_response_payload=False)
        self._record("block_actions", ack, user, None, f"{action_id} on the Home tab")
        return ClickResult(**vars(ack), payload=payload, response_url="")
