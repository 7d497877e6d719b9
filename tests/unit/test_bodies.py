"""Slack's bodies as we parse them: a form is a form, a `payload` field is JSON, nothing guessed."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.slack.bodies import FORM, parse_body


def test_a_command_whose_text_mentions_payload_stays_a_command() -> None:
    fields = {"command": "/sfvopi", "text": "unlink payload=x", "user_id": "U0ALICE"}
    assert parse_body(urlencode(fields).encode(), FORM) == fields


def test_a_click_is_the_json_in_its_payload_field() -> None:
    click = {"type": "block_actions", "actions": [{"action_id": "sfvopi_approve"}]}
    body = urlencode({"payload": json.dumps(click)}).encode()
    assert parse_body(body, FORM) == click


def test_json_bodies_are_json_whatever_they_start_with() -> None:
    assert parse_body(b' {"type": "url_verification"}', "application/json; charset=utf-8") == {
        "type": "url_verification"
    }


def test_a_form_that_starts_with_a_brace_is_still_a_form() -> None:
    body = urlencode({"text": "{x}", "command": "/sfvopi"}).encode()
    assert parse_body(body, FORM) == {"text": "{x}", "command": "/sfvopi"}


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"\xff\xfe", FORM),
        (b"payload=not-json", FORM),
        (b"payload=%5B1%2C2%5D", FORM),
        (b"[1, 2]", "application/json"),
        (b"{", "application/json"),
    ],
)
def test_shapes_slack_never_sends_are_none(raw: bytes, content_type: str) -> None:
    assert parse_body(raw, content_type) is None
