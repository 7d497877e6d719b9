"""Block Kit as pure functions of a request, so every card and message can be tested as data."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from bot.core import ids
from bot.core.deliveries import mention
from bot.core.models import STEP_FILED, Action, Outcome, Request, Status, TargetState
from bot.core.text import visible
from bot.slack.refusals import explain

Block = dict[str, Any]

STEP_NOTICE = f"⚠️ {STEP_FILED.capitalize()}, so it needs one approval more than the policy's"

APPROVE = "sfvopi_approve"
DENY = "sfvopi_deny"
CANCEL = "sfvopi_cancel"
BUTTONS = (APPROVE, DENY, CANCEL)

SECTION_LIMIT = 2900
TARGETS_SHOWN = 40

STATUS_LINE = {
    Status.PENDING: ":hourglass_flowing_sand: Waiting for approval",
    Status.EXECUTING: ":gear: Approved, running now",
    Status.SUCCEEDED: ":white_check_mark: Done",
    Status.FAILED: ":x: Failed",
    Status.UNKNOWN: ":grey_question: Outcome unknown",
    Status.DENIED: ":no_entry: Denied",
    Status.CANCELLED: ":heavy_multiplication_x: Cancelled",
    Status.EXPIRED: ":alarm_clock: Expired",
}

OUTCOME_ICON = {
    Outcome.DONE: ":white_check_mark:",
    Outcome.ALREADY_ABSENT: ":ballot_box_with_check:",
    Outcome.FAILED: ":x:",
    Outcome.UNKNOWN: ":grey_question:",
}

VERB = {Action.UNLINK: "Unlink", Action.DELETE: "Delete"}

USAGE = """*Usage* — `/sfvopi <command>`
• `unlink <+E.164 number> [more numbers] <app_id> <reason…>` — unlink numbers from an app
• `delete <app_id> [more app ids] <reason…>` — delete apps (permanent)
• `status <request>` — one request, e.g. `status 17`
• `pending` — requests waiting for approval
• `history` — recent requests
• `cancel <request> [why…]` — withdraw your own pending request
• `whoami` — your organizations and roles
• `help` — this message
Add `--org NAME` right after `/sfvopi` (or after the command) when you belong to several \
organizations. The reason is everything after the targets; if it starts with something that \
looks like a number or an app id, put `--` before it. A target already waiting in a pending \
request is refused; add `--again` right after the command to file another anyway. Where your \
org's policy allows your role, `--break-glass INC-4411` right after the targets runs it at once, \
without approval, citing the incident; an approver reviews it afterwards.
Example: `/sfvopi unlink +918000000001 app_abc123 fraud on this DID, INC-4411`"""

_CHANNEL_LINK = re.compile(r"&lt;#([CG][A-Z0-9]{2,40})&gt;")


def escape(text: str) -> str:
    """Neutralises user text in mrkdwn, so a reason cannot ping @channel or fake a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inert(text: str) -> str:
    """User text on one line, without the invisible characters that could disguise it."""
    return " ".join(visible(text).split())


def quoted(text: str) -> str:
    """User text for mrkdwn, as inline code: no bold, italics, strike, quotes, emoji codes,
    links or mentions take effect, however it was typed."""
    flat = escape(inert(text)).replace("`", "'")
    return f"`{flat}`" if flat else "``"


def plain(text: str) -> Block:
    """A plain_text object for user text: Slack renders it exactly as typed."""
    return {"type": "plain_text", "text": inert(text)[:SECTION_LIMIT] or " ", "emoji": False}


def user(user_id: str) -> str:
    """A person as a mention; an HTTP API client's service identity (`api:…`) as itself."""
    return f"`{user_id}`" if ids.is_service(user_id) else f"<@{user_id}>"


def when(epoch: float) -> str:
    """A time each reader sees in their own zone, with a UTC fallback."""
    fallback = dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} {{time}}|{fallback}>"


def title(request: Request) -> str:
    noun = "number" if request.action is Action.UNLINK else "app"
    count = len(request.targets)
    what = f"{count} {noun}{'s' if count != 1 else ''}"
    return f"{VERB[request.action]} {what} — request #{request.id}"


def target_line(state: TargetState) -> str:
    t = state.target
    what = f"`{t.number}` from `{t.app_id}`" if t.number else f"`{t.app_id}`"
    if state.outcome is None:
        return f"• {what}"
    icon = OUTCOME_ICON[state.outcome]
    label = {
        Outcome.DONE: "done",
        Outcome.ALREADY_ABSENT: "already absent",
        Outcome.FAILED: "failed",
        Outcome.UNKNOWN: "unknown",
    }[state.outcome]
    message = (
        f": {escape(inert(state.message))}"
        if state.message and state.outcome is not Outcome.DONE
        else ""
    )
    return f"{icon} {what} — {label}{message}"


def targets_text(targets: Sequence[TargetState], limit: int = TARGETS_SHOWN) -> str:
    lines = [target_line(t) for t in targets[:limit]]
    if len(targets) > limit:
        lines.append(f"… and {len(targets) - limit} more (see the thread)")
    return _clip("\n".join(lines))


def approvals_text(request: Request) -> str:
    have = len(request.approvals)
    by = ", ".join(user(a) for a in request.approvers)
    return f"{have} of {request.approvals_needed}" + (f" ({by})" if by else "")


def card(
    request: Request, *, escalates_at: float | None = None, escalate_to: Sequence[str] = ()
) -> list[Block]:
    """The approval card: everything an approver needs to decide, and buttons while pending
    (with when, undecided, it is escalated and to whom, if the policy says)."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(request)[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{STATUS_LINE[request.status]}*"},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Requested by*\n{user(request.requester)}"},
                {"type": "mrkdwn", "text": f"*Organization*\n{escape(request.org)}"},
                {"type": "mrkdwn", "text": f"*Action*\n{request.action.value}"},
                {"type": "mrkdwn", "text": f"*Approvals*\n{approvals_text(request)}"},
            ],
        },
        *([_context(STEP_NOTICE)] if request.filed_by_step else []),
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*Targets*\n{targets_text(request.targets)}"},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Reason*"}},
        {"type": "section", "text": plain(request.reason)},
    ]
    if any(a.note for a in request.approvals):
        lines = "\n".join(notes(request))
        blocks.append(_section(f"*Approval notes*\n{lines}"))
    if request.status is Status.PENDING:
        blocks.append(decision_buttons(request))
        blocks.append(
            _context(
                f"Request #{request.id} · expires {when(request.expires_at)}"
                " · the requester cannot approve it"
            )
        )
        if escalates_at is not None and escalate_to:
            blocks.append(_context(escalation_line(escalates_at, escalate_to)))
    else:
        blocks.append({"type": "divider"})
        blocks.append(_context(_decision(request)))
    return blocks


def escalation_line(at: float, to: Sequence[str]) -> str:
    """When an undecided request is escalated, and to whom (ids from the org file)."""
    return f":rotating_light: Undecided by {when(at)}: escalated to {mentions(to)}"


def mentions(ids: Sequence[str]) -> str:
    """User groups, channels and people (ids from the org file), as Slack mentions them."""
    return ", ".join(mention(i) for i in ids)


def _missing(request: Request) -> str:
    left = max(request.approvals_needed - len(request.approvals), 1)
    return f"{left} more approval{'s' if left != 1 else ''}"


def _card_link(link: str | None) -> str:
    return f"<{link}|Open the card>" if link else "Open the card in its approval channel"


def reminder_thread(request: Request, approvers: Sequence[str], groups: Sequence[str]) -> str:
    """The reminder in the card's thread: what is missing and who can give it."""
    who = mentions([*groups, *approvers]) or "nobody listed (ask an admin)"
    return (
        f":bell: Request #{request.id} is still waiting for {_missing(request)}. "
        f"Who can approve: {who}"
    )


def reminder_dm(request: Request, link: str | None) -> str:
    """The reminder an approver gets privately, pointing at the card."""
    return (
        f":bell: Request #{request.id} in *{escape(request.org)}* ({title(request)}, asked by "
        f"{user(request.requester)}) is waiting for {_missing(request)}, and you can give "
        f"one. {_card_link(link)}."
    )


def escalation_thread(request: Request, to: Sequence[str], approvers: Sequence[str]) -> str:
    """The escalation in the card's thread, mentioning the groups and people it goes to."""
    can = f" Who can approve: {mentions(approvers)}." if approvers else ""
    return (
        f":rotating_light: Escalated to {mentions(to)}: request #{request.id} has waited since "
        f"{when(request.created_at)} and still needs {_missing(request)}.{can}"
    )


def escalation_post(request: Request, link: str | None) -> str:
    """The escalation as a message in a channel named in `escalate_to`."""
    return (
        f":rotating_light: Escalated: request #{request.id} in *{escape(request.org)}* "
        f"({title(request)}, asked by {user(request.requester)}) has waited since "
        f"{when(request.created_at)} and still needs {_missing(request)}. {_card_link(link)}."
    )


def card_text(request: Request) -> str:
    """The notification fallback: what a phone shows for the card."""
    return f"{title(request)}: {STATUS_LINE[request.status].split(' ', 1)[1].lower()}"


def decision_buttons(
    request: Request, *, approver: bool = True, requester: bool = True, block_id: str = ""
) -> Block:
    """The card's buttons (the App Home shows the same ones: same ids, same values, the same
    checks when clicked); `approver` and `requester` pick which are shown."""
    rid = str(request.id)
    elements: list[Block] = [
        {
            "type": "button",
            "action_id": APPROVE,
            "text": {"type": "plain_text", "text": "Approve"},
            "style": "primary",
            "value": rid,
            "confirm": _confirm(
                "Approve this request?",
                f"{title(request)}. This cannot be undone once it runs. "
                "(The requester cannot approve their own request.)",
                "Approve",
            ),
        },
        {
            "type": "button",
            "action_id": DENY,
            "text": {"type": "plain_text", "text": "Deny"},
            "style": "danger",
            "value": rid,
            "confirm": _confirm("Deny this request?", f"{title(request)} will not run.", "Deny"),
        },
        {
            "type": "button",
            "action_id": CANCEL,
            "text": {"type": "plain_text", "text": "Cancel (requester)"},
            "value": rid,
        },
    ]
    shown = {APPROVE: approver, DENY: approver, CANCEL: requester}
    return {
        "type": "actions",
        "block_id": block_id or card_block_id(request.id),
        "elements": [e for e in elements if shown[e["action_id"]]],
    }


def card_block_id(request_id: int) -> str:
    """The buttons' block id: it names the request, so a clicked message shows whose card it is."""
    return f"sfvopi_request_{request_id}"


def _confirm(heading: str, text: str, yes: str) -> Block:
    return {
        "title": {"type": "plain_text", "text": heading[:100]},
        "text": {"type": "mrkdwn", "text": text[:300]},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": "Back"},
    }


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text)}]}


def _decision(request: Request) -> str:
    by = user(request.decided_by) if request.decided_by and request.decided_by != "bot" else None
    parts = [f"Request #{request.id}"]
    if request.break_glass and request.status.ran:
        parts.append(f"broke glass: {user(request.requester)}, without approval")
    elif request.status.ran:
        parts.append(f"approved by {', '.join(user(a) for a in request.approvers)}")
    elif request.status is Status.DENIED and by:
        parts.append(f"denied by {by}")
    elif request.status is Status.CANCELLED and by:
        parts.append(f"cancelled by {by}")
    elif request.status is Status.CANCELLED:
        parts.append("cancelled by the bot")
    elif request.status is Status.EXPIRED:
        parts.append(f"no decision before {when(request.expires_at)}")
    if request.decision_note and request.status in (Status.DENIED, Status.CANCELLED):
        parts.append(f"why: {quoted(request.decision_note)}")
    if request.finished_at and request.status.final:
        parts.append(f"finished {when(request.finished_at)}")
    return " · ".join(parts)


def notes(request: Request) -> list[str]:
    """What the deciders wrote: each approver's note, and why it was denied or cancelled."""
    lines = [f"• {user(a.approver)}: {quoted(a.note)}" for a in request.approvals if a.note]
    if request.decision_note and request.status in (Status.DENIED, Status.CANCELLED):
        lines.append(f"Why it was {request.status.value}: {quoted(request.decision_note)}")
    return lines


def outcome_summary(request: Request, *, asked_by: bool = True) -> str:
    """One line: the outcome channel's log entry, and the first line of the requester's notice."""
    done = sum(t.outcome in (Outcome.DONE, Outcome.ALREADY_ABSENT) for t in request.targets)
    total = len(request.targets)
    state = {
        Status.SUCCEEDED: f"succeeded ({done}/{total})",
        Status.FAILED: f"failed ({done}/{total} done)",
        Status.UNKNOWN: f"outcome unknown ({done}/{total} done; see the thread for what to check)",
    }.get(request.status, request.status.value)
    line = (
        f"{STATUS_LINE[request.status].split(' ', 1)[0]} #{request.id} "
        f"{request.action.value} {_short_targets(request)} in {escape(request.org)}"
    )
    if asked_by:
        line += f", asked by {user(request.requester)}"
    if request.break_glass:
        incident = f"`{escape(request.incident)}`" if request.incident else "none given"
        line += f", broke glass without approval (incident {incident})"
    elif request.approvers and request.status.ran:
        line += f", approved by {', '.join(user(a) for a in request.approvers)}"
    elif request.decided_by and request.decided_by != "bot":
        line += f", {request.status.value} by {user(request.decided_by)}"
    line = f"{line}: {state}. Reason: {quoted(request.reason)}"
    if request.decision_note and request.status in (Status.DENIED, Status.CANCELLED):
        line += f" Why it was {request.status.value}: {quoted(request.decision_note)}"
    return line


def _short_targets(request: Request) -> str:
    names = [f"`{t.target}`" for t in request.targets[:3]]
    if len(request.targets) > 3:
        names.append(f"+{len(request.targets) - 3} more")
    return ", ".join(names)


def thread_details(request: Request) -> list[str]:
    """The thread reply: the requester mentioned, and for a request that ran, every target
    with the API's answer, split to fit Slack's limits."""
    header = f"{user(request.requester)} *Request #{request.id} {request.status.value}.*"
    if request.decided_by and request.decided_by != "bot" and not request.approvers:
        header += f" ({request.status.value} by {user(request.decided_by)})"
    lines = [header, *notes(request)]
    ran = request.status.ran
    for state in request.targets if ran else ():
        line = target_line(state)
        if state.status_code is not None:
            tries = "try" if state.attempts == 1 else "tries"
            line += f" (HTTP {state.status_code}, {state.attempts} {tries})"
        lines.append(line)
    chunks: list[str] = []
    current = ""
    for line in lines:
        if len(current) + len(line) + 1 > SECTION_LIMIT:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    chunks.append(current)
    return chunks


def slack_problem_notice(request: Request, refusal: Any, step: str) -> str:
    """To the requester, at once: what Slack refused for their request and how to fix it."""
    what = {
        "card": "its approval card could not be posted",
        "update": "its approval card could not be updated",
        "thread": "the reply in its card's thread could not be posted",
        "outcome": "its outcome line could not be posted",
    }.get(step, "a message about it could not be posted")
    tail = (
        " It stays pending; the card is posted as soon as that is fixed."
        if step == "card"
        else " The bot tries again on its own."
    )
    return f":warning: Request #{request.id}: {what}: {refusal.fix}.{tail}"


def requester_notice(request: Request) -> str:
    said = [f"{user(a.approver)}: {quoted(a.note)}" for a in request.approvals if a.note]
    more = f" Approval notes: {'; '.join(said)}" if said else ""
    return f"Your request {outcome_summary(request, asked_by=False)}{more}"


def request_line(request: Request) -> str:
    """A request in a list (`pending`, `history`): what, who, why, and when it was decided."""
    line = (
        f"• *#{request.id}* {request.action.value} {_short_targets(request)}"
        f" — {request.status.value}, {approvals_text(request)} approvals,"
        f" by {user(request.requester)} in {escape(request.org)}, filed {when(request.created_at)}"
    )
    if request.status is Status.PENDING:
        line += f", expires {when(request.expires_at)}"
    elif (
        request.decided_by
        and request.decided_by != "bot"
        and request.status
        in (
            Status.DENIED,
            Status.CANCELLED,
        )
    ):
        line += f", {request.status.value} by {user(request.decided_by)}"
    if request.finished_at is not None and request.status.final:
        line += f" {when(request.finished_at)}"
    if request.decision_note and request.status in (Status.DENIED, Status.CANCELLED):
        line += f", why: {quoted(request.decision_note)}"
    return f"{line}\n      reason: {quoted(request.reason)}"


def request_list(heading: str, requests: Sequence[Request]) -> list[Block]:
    if not requests:
        return [_section(f"*{heading}*\nNothing here.")]
    return [_section(_clip(f"*{heading}*\n" + "\n".join(request_line(r) for r in requests)))]


def retired_card(request: Request, where: str) -> list[Block]:
    """A duplicate card, without buttons, that sends its reader to the one kept up to date."""
    return [
        _section(f":link: This card for request #{request.id} was posted twice; see {where}."),
        _context(title(request)),
    ]


def status_blocks(request: Request) -> list[Block]:
    """`/sfvopi status`: the card as it stands, without buttons (and without the line about
    who may press them), and what Slack refused for it, if anything, with the fix."""
    shown = card(request)
    if request.status is Status.PENDING:
        shown = [b for b in shown if b["type"] not in ("actions", "context")]
        shown.append(_context(f"Request #{request.id} · expires {when(request.expires_at)}"))
    if request.slack_problem is not None:
        shown.append(_section(f":warning: {stuck_line(request)}"))
    return shown


def stuck_line(request: Request) -> str:
    """What Slack refused for this request and how to fix it, as status and /healthz say it."""
    assert request.slack_problem is not None
    return f"Request #{request.id}: {explain(request.slack_problem)}"


def error(message: str, *, usage: bool = False) -> list[Block]:
    """A refusal: its message is escaped whole, then our own channel links are let through
    (user text in a refusal sits in a code span, where a channel link cannot ping anyone)."""
    shown = _CHANNEL_LINK.sub(r"<#\1>", escape(message))
    blocks = [_section(f":warning: {shown}")]
    if usage:
        blocks.append(_context(USAGE))
    return blocks


def permalink(team_domain: str, channel: str, ts: str) -> str:
    """A message's address, as Slack's own permalinks read (no API call needed)."""
    return f"https://{team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"


def warning(message: str, link: str | None = None) -> Block:
    """A refusal with a link of ours after it (the message itself escaped, as in `error`)."""
    shown = _CHANNEL_LINK.sub(r"<#\1>", escape(message))
    more = f" <{link}|See its card.>" if link else ""
    return _section(f":warning: {shown}{more}")


def message_blocks(text: str) -> list[Block]:
    return [_section(text)]


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def _clip(text: str) -> str:
    return text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…"
