"""The one strict reading of SFVoPI's bodies (bot/core/apps.py): each model is read by its field
list, a bad field is a ValueError naming it, and a field of a kind it cannot check is refused
outright instead of passing unchecked."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.core.apps import FIELD_LIMIT, Strict
from bot.sfvopi import AppFields, AppInfo, NumberLink
from bot.sfvopi.models import AvailableNumber

APP = {
    "app_id": "sfv_app_abc123xyz456",
    "name": "Support line",
    "answer_url": "https://voice.example.com/answer",
    "answer_method": "POST",
    "hangup_url": None,
    "hangup_method": None,
    "fallback_answer_url": None,
    "fallback_answer_method": None,
    "status": "ACTIVE",
    "org_id": 7,
}


def test_a_model_is_read_field_by_field_as_declared() -> None:
    app = AppInfo.parse(APP)
    assert app.app_id == "sfv_app_abc123xyz456" and app.org_id == 7 and app.created_at is None
    assert app.fields == AppFields.parse(APP)
    assert AvailableNumber.parse({"voip_number": "+918000000001"}).provider is None


@pytest.mark.parametrize(
    ("model", "body", "said"),
    [
        (AppInfo, {**APP, "app_id": ""}, "app_id is missing or not a string"),
        (AppInfo, {**APP, "status": None}, "status is missing or not a string"),
        (AppInfo, {**APP, "hangup_url": 3}, "hangup_url is not a string"),
        (AppInfo, {**APP, "org_id": True}, "org_id is not a number"),
        (AppInfo, {**APP, "org_id": "7"}, "org_id is not a number"),
        (AppFields, {**APP, "name": "x" * (FIELD_LIMIT + 1)}, "name is missing or not a string"),
        (AppFields, {**APP, "hangup_method": "x" * (FIELD_LIMIT + 1)}, "hangup_method is not"),
        (NumberLink, ["not", "an", "object"], "link is not an object"),
        (AvailableNumber, {"id": 1}, "voip_number is missing or not a string"),
    ],
)
def test_a_bad_field_is_a_value_error_naming_it(
    model: type[Strict], body: object, said: str
) -> None:
    with pytest.raises(ValueError, match=said):
        model.parse(body)


def test_a_field_of_a_kind_it_cannot_check_is_refused_not_passed_through() -> None:
    @dataclass(frozen=True)
    class Flagged(Strict):
        WHAT = "flagged"
        on: bool

    with pytest.raises(TypeError, match="on"):
        Flagged.parse({"on": True})
