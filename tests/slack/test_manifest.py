"""manifest.yml: valid against Slack's own schema (offline) and in step with the code.

The schema is not vendored: it sits in `shared/slack-manifest-schema/` beside the repository
(`<repo>/../shared`), as in CI. Without it the schema check is skipped and says why.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from slack_bolt.async_app import AsyncApp

import handlers
from bot.core.models import Action, Outcome, Request, Status, Target, TargetState
from bot.slack.services import Services
from bot.slack.workflow_steps import STEPS, outputs

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "manifest.yml"
SCHEMA = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "slack-manifest-schema"
    / "schemas"
    / "manifest.schema.1.0.0.json"
)
BOT_SCOPES = {"chat:write", "commands", "usergroups:read"}
EVENTS_PATH = "/slack/events"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    if not SCHEMA.is_file():
        where = (
            f"Slack's manifest schema is not at {SCHEMA}: it comes from Slack's published "
            "manifest schema, kept in shared/slack-manifest-schema/ beside the repository"
        )
        if os.environ.get("SFVOPI_TEST_REQUIRE_MANIFEST_SCHEMA"):
            pytest.fail(where + " (CI requires it: SFVOPI_TEST_REQUIRE_MANIFEST_SCHEMA is set)")
        pytest.skip(where)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cast(jsonschema.protocols.Validator, cls(schema))


def test_the_manifest_is_valid(
    manifest: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(manifest)]
    assert errors == []


def test_the_schema_check_has_teeth(
    manifest: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    broken = copy.deepcopy(manifest)
    broken["features"]["slash_commands"][0]["command"] = "sfvopi"  # no leading slash
    broken["settings"]["socket_mode"] = True  # not a key Slack knows
    assert len(list(validator.iter_errors(broken))) == 2


class _Recorder:
    """Stands in for a Bolt app and records what `handlers.register` listens for."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.actions: list[str] = []
        self.views: list[str] = []
        self.events: list[str] = []
        self.functions: list[str] = []
        self.middleware: list[object] = []

    def use(self, middleware: object) -> None:
        self.middleware.append(middleware)

    def view(self, callback_id: str) -> Callable[[Any], Any]:
        self.views.append(callback_id)
        return lambda listener: listener

    def event(self, event_type: str) -> Callable[[Any], Any]:
        self.events.append(event_type)
        return lambda listener: listener

    def function(self, callback_id: str) -> Callable[[Any], Any]:
        self.functions.append(callback_id)
        return lambda listener: listener

    def command(self, name: str) -> Callable[[Any], Any]:
        self.commands.append(name)
        return lambda listener: listener

    def action(self, action_id: str) -> Callable[[Any], Any]:
        self.actions.append(action_id)
        return lambda listener: listener


def test_the_slash_command_is_the_one_the_handlers_register(manifest: dict[str, Any]) -> None:
    app = _Recorder()
    handlers.register(cast(AsyncApp, app), cast(Services, object()))
    (command,) = manifest["features"]["slash_commands"]
    assert app.commands == [command["command"]] == ["/sfvopi"]
    assert app.actions, "the card buttons need interactivity"
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_the_events_and_views_are_the_ones_the_handlers_listen_for(
    manifest: dict[str, Any],
) -> None:
    app = _Recorder()
    handlers.register(cast(AsyncApp, app), cast(Services, object()))
    subscribed = manifest["settings"]["event_subscriptions"]
    # function_executed reaches the step listeners (app.function), and a step none of them
    # knows reaches the app.event one, which fails it saying so
    assert sorted(subscribed["bot_events"]) == sorted(app.events)
    assert sorted(app.events) == ["app_home_opened", "function_executed"]
    assert "user_events" not in subscribed
    # the Home tab is what app_home_opened publishes; modals need interactivity, no scope
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert app.views and manifest["settings"]["interactivity"]["is_enabled"] is True


def test_requests_go_where_serve_listens(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    interactivity = manifest["settings"]["interactivity"]
    assert command["url"] == interactivity["request_url"]
    assert manifest["settings"]["event_subscriptions"]["request_url"] == command["url"]
    assert command["url"].endswith(EVENTS_PATH)
    assert command["should_escape"] is False
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_the_bot_asks_for_exactly_the_scopes_it_uses(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    assert set(scopes) == {"bot"}, "no user scopes"
    assert sorted(scopes["bot"]) == sorted(BOT_SCOPES)


def test_the_steps_are_the_ones_the_handlers_complete(
    manifest: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    app = _Recorder()
    handlers.register(cast(AsyncApp, app), cast(Services, object()))
    assert sorted(manifest["functions"]) == sorted(app.functions) == sorted(STEPS)
    # Slack's rule for custom steps: an org-ready app, the functions run by the app itself
    assert manifest["settings"]["org_deploy_enabled"] is True
    assert manifest["settings"]["function_runtime"] == "remote"
    # the schema leaves a parameter's type open; Slack's own list of types is in it
    known = validator.schema["definitions"]["slack-functions.parameter"]["properties"]["type"]
    for callback_id, step in manifest["functions"].items():
        params = {**step["input_parameters"], **step["output_parameters"]}
        assert {p["type"] for p in params.values()} <= set(known["enum"]), callback_id
        inputs = step["input_parameters"]
        assert inputs["requester"]["type"] == "slack#/types/user_id"
        required = {name for name, p in inputs.items() if p.get("is_required")}
        assert required == {"targets", "reason", "requester"}, callback_id
        assert set(inputs) == {"org", "targets", "reason", "requester"}  # no break_glass


def test_a_step_s_outputs_are_the_ones_the_manifest_declares(manifest: dict[str, Any]) -> None:
    done = Request(
        id=7,
        org="acme",
        action=Action.DELETE,
        requester="U0ALICE",
        reason="decommission",
        status=Status.SUCCEEDED,
        approvals_needed=1,
        created_at=0.0,
        expires_at=60.0,
        targets=(TargetState(Target("sfv_app_abc123xyz456"), Outcome.DONE),),
    )
    given = outputs(done)
    types = {"integer": int, "string": str}
    for step in manifest["functions"].values():
        declared = step["output_parameters"]
        assert set(given) == set(declared)
        for name, param in declared.items():
            assert isinstance(given[name], types[param["type"]]), name
