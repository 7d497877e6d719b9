"""Workflow Builder steps ("Unlink numbers", "Delete apps"): a step files a request through
the same workflow as `/sfvopi`, and is completed (`functions.completeSuccess` / `completeError`)
when that request reaches a final state — maybe hours later, on another replica.

What completing needs (the execution id, the request, the execution's bot token) is in the
store (bot/store/function_runs.py); each completion is taken under a lease and recorded once
Slack took it, so every replica's sweep may try and exactly one step completion is made.
A step the bot cannot take in at all (no run stored) is failed straight from its event, once.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, replace
from typing import Any

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import ids
from bot.core.models import Action, Outcome, Request, Status, Target
from bot.core.workflow import Deferral, Workflow
from bot.errors import InvalidId, InvalidRequest, ParseError, Refusal
from bot.slack import blocks, grammar
from bot.slack.after_ack import Background
from bot.slack.sealing import Sealer
from bot.store.function_runs import FunctionRun, dedupe_key
from bot.store.roles import StepRunStore

log = logging.getLogger(__name__)

# callback_id (manifest.yml `functions`) → what the step asks for
STEPS: Mapping[str, Action] = {"unlink_numbers": Action.UNLINK, "delete_apps": Action.DELETE}
EXECUTION_ID_MAX = 64
CALLBACK_ID_MAX = 64  # function_runs.callback_id
SENDABLE_ID = re.compile(r"[!-~]{1,255}")  # an execution id worth naming to Slack
UNREAD = "the bot could not read this step's event; run the step again"
BROKE = "the bot failed while taking this step in; run the step again"
UNRECORDABLE = "the bot cannot take this step in: its execution id is not one it can record"
FILING_BROKE = "could not file the request: the bot failed while filing it; run the step again"
MAX_ERROR = 1000  # what a failed step says, clipped
MAX_RESULTS = 3000
MAX_ATTEMPTS = 20  # Slack refusals before a step is given up (its token dropped)
MAX_RETRY_SECONDS = 900.0
# Slack no longer has the execution: completing it again cannot succeed
GONE = frozenset({"execution_not_in_running_state", "function_execution_not_found"})
OUTCOME_WORDS = {
    Outcome.DONE: "done",
    Outcome.ALREADY_ABSENT: "already absent",
    Outcome.FAILED: "failed",
    Outcome.UNKNOWN: "unknown",
}


@dataclass(frozen=True)
class StepInputs:
    """A step's inputs, checked: as untrusted as any typed command."""

    action: Action
    org: str | None
    targets: tuple[Target, ...]
    reason: str
    requester: str
    break_glass: str | None  # no longer in manifest.yml; an old workflow's is refused, not dropped


def read_inputs(callback_id: str, inputs: object) -> StepInputs:
    """The step's inputs as a request to file; InvalidRequest says what is wrong with them."""
    action = STEPS.get(callback_id)
    if action is None:
        raise InvalidRequest(f"unknown step `{ids.shown(callback_id)}`")
    if not isinstance(inputs, dict):
        raise InvalidRequest("the step has no inputs")
    org = _text(inputs, "org") or None
    requester = _text(inputs, "requester")
    reason = _text(inputs, "reason")
    incident = _text(inputs, "break_glass") or None
    try:
        ids.user_id(requester)
    except InvalidId:
        why = "the step's requester must be a person picked in the workflow"
        raise InvalidRequest(why) from None
    return StepInputs(
        action, org, _targets(action, _text(inputs, "targets")), reason, requester, incident
    )


def _text(inputs: dict[str, Any], name: str) -> str:
    value = inputs.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"the step's `{name}` input must be text")
    if len(value) > grammar.MAX_TEXT:
        raise InvalidRequest(f"the step's `{name}` input is too long")
    return value.strip()


def _targets(action: Action, text: str) -> tuple[Target, ...]:
    """The targets in the forms `/sfvopi` takes: for unlink numbers then one app id, for
    delete app ids; nothing else (an option or a stray word is refused, not dropped)."""
    words = text.split()
    if not words:
        raise InvalidRequest(f"the step needs targets: {_forms(action)}")
    stray = next((w for w in words if w.startswith("--")), None)
    if stray is not None:
        raise InvalidRequest(f"`{ids.shown(stray, 30)}` is not a target: {_forms(action)}")
    sentinel = "end-of-targets"
    try:
        parsed = grammar.parse(f"{action.value} {text} {grammar.END_OF_TARGETS} {sentinel}")
    except ParseError as exc:
        raise InvalidRequest(exc.message) from None
    if parsed.reason != sentinel:
        extra = parsed.reason.split()[0]
        raise InvalidRequest(f"`{ids.shown(extra, 30)}` is not a target: {_forms(action)}")
    return parsed.targets


def _forms(action: Action) -> str:
    if action is Action.UNLINK:
        return "numbers in E.164 form, then the app id, like `+918000000001 sfv_app_abc123xyz456`"
    return "app ids, like `sfv_app_abc123xyz456 sfv_app_def789ghi012`"


def results_text(request: Request) -> str:
    """One line per target; an API message in it escaped, as a later step may post it as
    mrkdwn (where `<!channel>` would ping)."""
    lines = []
    for state in request.targets:
        t = state.target
        what = f"{t.number} on {t.app_id}" if t.number else t.app_id
        word = OUTCOME_WORDS[state.outcome] if state.outcome else "not run"
        said = state.message if state.outcome in (Outcome.FAILED, Outcome.UNKNOWN) else None
        why = f" ({blocks.escape(one_line(said))})" if said else ""
        lines.append(f"{what}: {word}{why}")
    text = "\n".join(lines)
    return blocks.clip(text, MAX_RESULTS)


def one_line(text: str) -> str:
    """Text someone else wrote (a note, an API message), on one line, nothing invisible in it."""
    return blocks.inert(text)[:200]


def outputs(request: Request) -> dict[str, object]:
    """The step's outputs (manifest.yml `output_parameters`)."""
    return {
        "request_number": request.id,
        "final_state": request.status.value,
        "results": results_text(request),
    }


def failure(request: Request) -> str:
    """Why a step failed, from its request's final state."""
    by = f" by {request.decided_by}" if request.decided_by else ""
    note = f": {one_line(request.decision_note)}" if request.decision_note else ""
    what = {
        Status.DENIED: f"request #{request.id} was denied{by}{note}",
        Status.CANCELLED: f"request #{request.id} was cancelled{by}{note}",
        Status.EXPIRED: f"request #{request.id} expired before enough approvals",
        Status.FAILED: f"request #{request.id} ran and failed",
        Status.UNKNOWN: f"request #{request.id} ran, but SFVoPI never said whether it worked",
    }.get(request.status, f"request #{request.id} {request.status.phrase}")
    if request.status.ran:
        what += "\n" + results_text(request)
    return _clip(what)


def _clip(text: str) -> str:
    return blocks.clip(text, MAX_ERROR)


@dataclass(eq=False, repr=False)
class WorkflowSteps:
    """Files the request a step asks for, and completes the step when that request ends."""

    store: StepRunStore
    workflow: Workflow
    slack: AsyncWebClient
    background: Background
    sealer: Sealer
    _: KW_ONLY
    lease_seconds: float = 60.0
    clock: Callable[[], float] = time.time

    # -- a step starts ------------------------------------------------------------------

    async def start(
        self,
        execution_id: str,
        callback_id: str,
        token: SecretStr | None,
        inputs: object,
        after_ack: Deferral | None = None,
    ) -> Request | None:
        """Takes the run in (once per execution, however often Slack delivers it) and files
        its request; a refusal is recorded, and the step fails with it right after the ack
        (`after_ack`: the event's, whose work waits for it; None starts it now)."""
        if not _execution_id_ok(execution_id):
            log.warning("a function_executed event with an execution id the bot cannot record")
            work = self.fail_untaken(execution_id, token, UNRECORDABLE)
            self.background.spawn(work, name="step-unrecorded", after_ack=after_ack)
            return None
        sealed = self.sealer.seal(token) if token is not None else None
        taken = callback_id[:CALLBACK_ID_MAX]  # an unknown one is refused below, by its whole name
        await self.store.add_function_run(execution_id, taken, sealed, self.clock())
        run = await self.store.function_run(execution_id)
        if run is None or run.completed_at is not None or run.error is not None:
            return None
        request: Request | None = None
        if run.request_id is None:
            try:
                filing = self.workflow.answering(after_ack)
                request = await self._file(filing, execution_id, callback_id, inputs)
            except Refusal as exc:
                log.info("step %s refused at filing: %s", execution_id, exc.message)
                await self.store.settle_function_run(
                    execution_id, error=_clip(f"could not file the request: {exc.message}")
                )
            except Exception as exc:
                request = await self._filing_failed(execution_id, exc)
            else:
                await self.store.settle_function_run(execution_id, request_id=request.id)
        completing = self.complete(execution_id)
        self.background.spawn(completing, name=f"step-{execution_id}", after_ack=after_ack)
        return request

    async def _filing_failed(self, execution_id: str, exc: Exception) -> Request | None:
        """Filing raised (a bug, a blip): a request it filed after all is waited on like any;
        else the step fails right after the ack, not a lease later by the sweep."""
        log.error("step %s: filing the request failed (%s)", execution_id, type(exc).__name__)
        found = await self.store.function_run_request(execution_id)
        if found is not None:
            return await self.store.get(found)
        await self.store.settle_function_run(execution_id, error=FILING_BROKE)
        return None

    async def _file(
        self, workflow: Workflow, execution_id: str, callback_id: str, inputs: object
    ) -> Request:
        """Files the request as a step's: never break-glass (the workflow refuses it), so
        it waits for a second person like any other."""
        asked = read_inputs(callback_id, inputs)
        filed = await workflow.file(
            requester=asked.requester,
            action=asked.action,
            targets=asked.targets,
            reason=asked.reason,
            org=asked.org,
            dedupe_key=dedupe_key(execution_id),
            break_glass=asked.break_glass,
            by_step=True,
        )
        return filed.request

    # -- a step the bot could not take in ------------------------------------------------

    def unhandled(self, body: object, status: int | None, after_ack: Deferral | None) -> None:
        """A signed delivery the bot did not handle (Bolt could not route it, no listener took
        it, or the listener raised: `status` is Bolt's): if it is a step's `function_executed`,
        the step fails right after the ack, saying so, instead of staying in progress."""
        execution = _execution_in(body)
        if execution is not None:
            work = self._fail_unhandled(*execution, BROKE if status == 500 else UNREAD)
            self.background.spawn(work, name="step-unhandled", after_ack=after_ack)

    async def _fail_unhandled(self, execution_id: str, token: SecretStr | None, why: str) -> None:
        """A run the store took in is completed by its own path (or a sweep); only a step with
        no stored run is failed here."""
        if _execution_id_ok(execution_id):
            with contextlib.suppress(Exception):  # the store unreadable: fail it from here
                if await self.store.function_run(execution_id) is not None:
                    return
        await self.fail_untaken(execution_id, token, why)

    async def fail_untaken(self, execution_id: str, token: SecretStr | None, why: str) -> None:
        """Fails a step the store holds no run of (so no sweep ever will): once, best effort,
        with the execution's token; an id too odd to name to Slack is only logged."""
        if not SENDABLE_ID.fullmatch(execution_id):
            log.warning("a step event without an execution id to complete: nothing to fail")
            return
        try:
            await self._client(token).functions_completeError(
                function_execution_id=execution_id, error=why
            )
        except SlackApiError as exc:
            problem = str(exc.response.get("error"))
            log.warning("a step the bot could not take in: Slack refused failing it (%s)", problem)
        except Exception as exc:
            log.warning(
                "a step the bot could not take in: failing it failed (%s)", type(exc).__name__
            )
        else:
            log.info("a step the bot could not take in was failed: %s", why)

    # -- a request ends -----------------------------------------------------------------

    def changed(self, request: Request, after_ack: Deferral | None) -> None:
        """The workflow's listener: a request that ended completes the steps waiting on it."""
        if request.status.final:
            work = self.complete_for(request.id)
            self.background.spawn(work, name=f"steps-{request.id}", after_ack=after_ack)

    async def complete_for(self, request_id: int) -> None:
        for execution_id in await self.store.function_runs_of(request_id):
            await self.complete(execution_id)

    async def sweep(self) -> None:
        """Completes what a crash, a restart or a Slack refusal left waiting; on every replica."""
        due = await self.store.function_runs_due(self.clock(), filing_grace=self.lease_seconds)
        for execution_id in due:
            try:
                await self.complete(execution_id)
            except Exception:
                log.exception("step %s: could not complete it", execution_id)

    async def complete(self, execution_id: str) -> bool:
        """Completes a step whose request is final (or whose filing was refused), once: the
        lease picks one completer; Slack's answer is recorded before the lease is let go."""
        run = await self.store.function_run(execution_id)
        if run is None or run.completed_at is not None:
            return False
        request = await self.store.get(run.request_id) if run.request_id is not None else None
        if run.error is None and request is None:
            if self.clock() - run.created_at < self.lease_seconds:
                return False  # its filing may still be under way
            found = await self.store.function_run_request(execution_id)
            request = await self.store.get(found) if found is not None else None
            if request is None:
                run = _refused(run, "the bot stopped while filing the request; run the step again")
        if request is not None and not request.status.final:
            return False
        if not await self.store.claim_function_run(execution_id, self.clock(), self.lease_seconds):
            return False
        state = request.status.value if request is not None else "refused"
        success = request is not None and request.status is Status.SUCCEEDED
        detail: dict[str, object] = {"state": state}
        error = run.error or (failure(request) if request is not None else "")
        try:
            await self._tell_slack(run, request if success else None, error)
        except SlackApiError as exc:
            return await self._refused_by_slack(run, str(exc.response.get("error")), detail)
        except Exception as exc:  # a timeout, a dropped connection: retried later
            return await self._refused_by_slack(run, type(exc).__name__, detail)
        outcome = "success" if success else "error"
        await self.store.complete_function_run(execution_id, outcome, self.clock(), detail)
        log.info("step %s completed (%s)", execution_id, outcome)
        return True

    async def _tell_slack(self, run: FunctionRun, succeeded: Request | None, error: str) -> None:
        client = self._client(self._token(run))
        if succeeded is not None:
            await client.functions_completeSuccess(
                function_execution_id=run.execution_id, outputs=outputs(succeeded)
            )
        else:
            await client.functions_completeError(
                function_execution_id=run.execution_id, error=error
            )

    async def _refused_by_slack(
        self, run: FunctionRun, error: str, detail: dict[str, object]
    ) -> bool:
        """Slack did not take the completion: gone for good, or retried later (backing off),
        until MAX_ATTEMPTS, when the step is given up and its token dropped."""
        now = self.clock()
        if error in GONE:
            log.warning("step %s: Slack no longer has it (%s)", run.execution_id, error)
            await self.store.complete_function_run(
                run.execution_id, "gone", now, detail | {"error": error}
            )
            return False
        retry_in = min(self.lease_seconds * 2 ** min(run.attempts, 10), MAX_RETRY_SECONDS)
        attempts = await self.store.note_function_problem(run.execution_id, error, now, retry_in)
        log.warning(
            "step %s: Slack refused its completion (%s), attempt %d",
            run.execution_id,
            error,
            attempts,
        )
        if attempts >= MAX_ATTEMPTS:
            await self.store.complete_function_run(
                run.execution_id, "abandoned", now, detail | {"error": error}
            )
        return False

    def _token(self, run: FunctionRun) -> SecretStr | None:
        if run.sealed_token is None:
            return None
        token = self.sealer.open(run.sealed_token)
        if token is None:
            log.warning(
                "step %s: its token was sealed under another key (a rotated secret); "
                "completing it with the bot token",
                run.execution_id,
            )
        return token

    def _client(self, token: SecretStr | None) -> AsyncWebClient:
        """A client speaking with the execution's own token (the bot's if Slack sent none),
        sharing the bot client's retries and call counting."""
        if token is None:
            return self.slack
        return AsyncWebClient(
            token=token.get_secret_value(),
            base_url=self.slack.base_url,
            timeout=self.slack.timeout,
            retry_handlers=self.slack.retry_handlers,
        )


def _refused(run: FunctionRun, why: str) -> FunctionRun:
    return replace(run, error=why)


def _execution_in(body: object) -> tuple[str, SecretStr | None] | None:
    """The execution id and token of a `function_executed` event body, read defensively."""
    event = body.get("event") if isinstance(body, dict) else None
    if not isinstance(event, dict) or event.get("type") != "function_executed":
        return None
    execution_id, token = event.get("function_execution_id"), event.get("bot_access_token")
    if not isinstance(execution_id, str):
        return None
    return execution_id, SecretStr(token) if isinstance(token, str) and token else None


def _execution_id_ok(execution_id: str) -> bool:
    return (
        0 < len(execution_id) <= EXECUTION_ID_MAX
        and execution_id.isascii()
        and execution_id.isalnum()
    )
