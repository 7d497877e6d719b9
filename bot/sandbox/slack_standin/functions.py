"""Workflow steps (custom functions): a run started by `function_executed`, and its one
completion through `functions.completeSuccess` or `functions.completeError`."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

from bot.sandbox.slack_standin.events import Events
from bot.sandbox.slack_standin.params import Refused, as_str
from bot.sandbox.slack_workspace import APP_ID, JSON, EventResult
from bot.sandbox.slack_workspace.records import as_shown


@dataclass(kw_only=True)
class StepRun:
    """One run of a workflow step (a custom function) and how the app completed it: Slack
    takes one completion per execution and refuses any later one."""

    execution_id: str
    callback_id: str
    inputs: JSON
    token: str = field(repr=False)  # the execution's own bot token; never shown on the page
    started: float = field(default_factory=time.time)
    state: Literal["running", "completed", "failed"] = "running"
    outputs: JSON | None = None
    error: str | None = None
    completions: int = 0  # completion calls Slack took (at most one)
    refused: int = 0  # completion calls refused because it had already ended

    def to_dict(self) -> JSON:
        return as_shown(self)


STEP_TITLES = {"unlink_numbers": "Unlink numbers", "delete_apps": "Delete apps"}


class Functions(Events):
    def __init__(self) -> None:
        super().__init__()
        self.step_runs: dict[str, StepRun] = {}  # function_execution_id → its run

    def reset(self) -> None:
        self.step_runs.clear()
        super().reset()

    async def run_step(
        self, callback_id: str, inputs: JSON, *, execution_id: str | None = None
    ) -> tuple[StepRun, EventResult]:
        """A workflow reaches the app's step: Slack sends `function_executed` (signed, as any
        event) with a fresh execution id and a bot token for this execution alone; naming an
        `execution_id` already run delivers that execution again."""
        run, event = self.step_event(callback_id, inputs, execution_id=execution_id)
        return run, await self.send_event(event)

    def step_event(
        self, callback_id: str, inputs: JSON, *, execution_id: str | None = None
    ) -> tuple[StepRun, JSON]:
        """The run and the `function_executed` event `run_step` sends, for a test to bend
        (an input of the wrong shape) before sending it."""
        execution_id = execution_id or "Fx" + uuid.uuid4().hex[:10].upper()
        run = self.step_runs.get(execution_id)  # the same execution again: same run, same token
        if run is None:
            run = StepRun(
                execution_id=execution_id,
                callback_id=callback_id,
                inputs=dict(inputs),
                token="xwfp-" + uuid.uuid4().hex + "-not-real",
            )
            self.step_runs[execution_id] = run
            self._touch()
        event: JSON = {
            "type": "function_executed",
            "function": {
                "id": "Fn" + uuid.uuid5(uuid.NAMESPACE_URL, callback_id).hex[:10].upper(),
                "callback_id": callback_id,
                "title": STEP_TITLES.get(callback_id, callback_id),
                "type": "app",
                "app_id": APP_ID,
            },
            "inputs": dict(inputs),
            "function_execution_id": execution_id,
            "workflow_execution_id": "Wx" + uuid.uuid4().hex[:10].upper(),
            "event_ts": f"{time.time():.6f}",
            "bot_access_token": run.token,
        }
        return run, event

    def _step_run(self, params: JSON) -> StepRun:
        run = self.step_runs.get(as_str(params.get("function_execution_id")))
        if run is None:
            raise Refused("function_execution_not_found")
        if run.state != "running":
            run.refused += 1
            self._touch()
            raise Refused("execution_not_in_running_state")
        return run

    def _functions_complete_success(self, params: JSON) -> JSON:
        run = self._step_run(params)
        outputs = params.get("outputs")
        if isinstance(outputs, str):
            try:
                outputs = json.loads(outputs)
            except ValueError:
                outputs = None
        if not isinstance(outputs, dict):
            raise Refused("invalid_arguments")
        run.state, run.outputs, run.completions = "completed", outputs, run.completions + 1
        self._touch()
        return {"ok": True}

    def _functions_complete_error(self, params: JSON) -> JSON:
        run = self._step_run(params)
        error = params.get("error")
        if not isinstance(error, str) or not error:
            raise Refused("invalid_arguments")
        run.state, run.error, run.completions = "failed", error, run.completions + 1
        self._touch()
        return {"ok": True}

    def snapshot(self, calls: int = 200) -> JSON:
        return super().snapshot(calls) | {
            "step_runs": [r.to_dict() for r in self.step_runs.values()]
        }
