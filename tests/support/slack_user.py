"""Acting as people in Slack: type a command, click a card's button, read what the bot said.

Every helper goes through the stand-in, so what they send is signed and sent as Slack sends it.
"""

from __future__ import annotations

import re
from typing import Protocol

from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import Message, SubmitResult, View
from tests.support.bot import RunningBot

APPROVALS = "C0APPROVALS"
OUTCOMES = "C0OPSLOG"
OPS = "C0OPS"
UNLINK = "unlink +918000000001 sfv_app_abc123xyz456 fraud on this DID, INC-4411"


# -- helpers that act like people in Slack -------------------------------------------------


async def ask(
    slack: SlackStandin, bot: RunningBot, user: str, text: str, channel: str = OPS
) -> str:
    """Types a command, waits for the work it started, and returns what the user saw."""
    result = await slack.command(user, text, channel=channel)
    assert result.status == 200, result.body
    await bot.settle()
    assert result.ephemeral is not None
    return result.ephemeral.text


async def ours_and_another_orgs(slack: SlackStandin, bot: RunningBot) -> tuple[int, int]:
    """Alice's request in acme and Gina's in globex, for forms forged to name the other."""
    ours = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    other = request_id_in(
        await ask(slack, bot, "U0GINA", "delete app_glx0001 tidy up", channel="C0GLX")
    )
    return ours, other


def request_id_in(reply: str) -> int:
    match = re.search(r"#(\d+)", reply)
    assert match, reply
    return int(match.group(1))


def card(slack: SlackStandin, request_id: int) -> Message:
    for message in slack.messages(APPROVALS):
        if f"request #{request_id}" in message.text:
            return message
    raise AssertionError(f"no card for #{request_id} in {APPROVALS}")


async def click(
    slack: SlackStandin, bot: RunningBot, user: str, request_id: int, button: str
) -> None:
    """Clicks a card's button and, if the bot asks to confirm in a form without a field (as it
    does for Approve and Deny, to whoever may decide), confirms."""
    found = card(slack, request_id)
    result = await slack.click(user, APPROVALS, found.ts, f"sfvopi_{button}")
    assert result.status == 200
    await bot.settle()
    await confirm_if_asked(slack, bot, user)


async def confirm_if_asked(slack: SlackStandin, bot: Settles, user: str) -> None:
    """Presses submit on the form the bot opened after a click if it only asks to confirm (no
    text field), as the person who clicked Approve means to."""
    modal = slack.modal_of(user)
    if modal is not None and not any(b.get("type") == "input" for b in modal.view["blocks"]):
        await slack.submit_view(user)
        await bot.settle()


async def confirm(slack: SlackStandin, user: str, timeout: float = 10.0) -> SubmitResult:
    """Waits for the form the bot opens after a click on Approve or Deny and presses its
    submit button (for bots whose after-ack work a test cannot settle)."""
    await slack.wait_for(lambda: slack.modal_of(user), timeout=timeout)
    return await slack.submit_view(user)


class Settles(Protocol):
    """A running bot (HTTP or Socket Mode) whose after-ack work can be waited for."""

    async def settle(self, timeout: float = 10.0) -> None: ...


async def click_for_reason(
    slack: SlackStandin, bot: Settles, user: str, request_id: int, button: str
) -> View:
    """Clicks a card's button that asks why (Deny, Cancel, or Approve with a note) and returns
    the modal Slack opened in front of the clicker."""
    found = card(slack, request_id)
    result = await slack.click(user, APPROVALS, found.ts, f"sfvopi_{button}")
    assert result.status == 200
    await bot.settle()
    modal = slack.modal_of(user)
    assert modal is not None, f"no modal opened for {user}; told: {told(slack, user)}"
    return modal


async def type_and_submit(slack: SlackStandin, bot: Settles, user: str, text: str) -> SubmitResult:
    """Types `text` into the open modal and presses its submit button."""
    result = await slack.submit_view(user, text)
    assert result.status == 200, result
    await bot.settle()
    return result


async def deny_with_reason(
    slack: SlackStandin, bot: Settles, user: str, request_id: int, reason: str
) -> SubmitResult:
    """Clicks Deny on the card, types why, and submits."""
    await click_for_reason(slack, bot, user, request_id, "deny")
    return await type_and_submit(slack, bot, user, reason)


async def open_home(slack: SlackStandin, bot: Settles, user: str) -> View:
    """Opens the bot's Home tab and returns what the bot published there."""
    result = await slack.open_home(user)
    assert result.ok, result
    await bot.settle()
    return await slack.wait_for(lambda: slack.homes.get(user), timeout=10)


def home_text(slack: SlackStandin, user: str) -> str:
    """The user's Home tab as one string (its blocks), to look for what it shows."""
    return str(slack.homes[user].view["blocks"])


async def click_on_home(
    slack: SlackStandin, bot: Settles, user: str, request_id: int, button: str
) -> None:
    """Clicks Approve, Deny or Cancel for one request on the user's Home tab (confirming, as
    `click` does)."""
    result = await slack.click_home(user, f"sfvopi_{button}", value=str(request_id))
    assert result.status == 200
    await bot.settle()
    await confirm_if_asked(slack, bot, user)


def told(slack: SlackStandin, user: str) -> list[str]:
    """What the bot told this user privately after their command was acked."""
    return [e.text for e in slack.ephemerals(user) if not e.from_ack]


def dms(slack: SlackStandin, user: str) -> list[str]:
    """What the bot told this user in a direct message (durable: outcome notices)."""
    return [m.text for m in slack.dms(user)]


def thread(slack: SlackStandin, request_id: int) -> list[str]:
    """What was said in the thread under a request's card, oldest first."""
    return [m.text for m in slack.thread(APPROVALS, card(slack, request_id).ts)]


def channel_texts(slack: SlackStandin, channel: str) -> list[str]:
    """The top-level messages of a channel, as its members read them."""
    return [m.text for m in slack.messages(channel)]


def card_text(message: Message) -> str:
    return str(message.blocks)


ACK_BOUND = 1.0  # seconds: a behavioural bound far under Slack's 3 s, not a benchmark
# Every path the bot may ever call on SFVoPI: one valid app id, maybe one encoded E.164 number.
SFVOPI_PATH = re.compile(
    r"/superfone/sfvopi/apps/(?:sfv_)?app_[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
    r"(?:/numbers(?:/%2B[1-9][0-9]{6,14})?)?"
)


def api_paths_are_strict(emulator: Emulator) -> None:
    for call in emulator.calls:
        assert call.method in ("GET", "DELETE"), call  # a preview's reads, the change itself
        assert SFVOPI_PATH.fullmatch(call.raw_path), call.raw_path


def quick_retries(running: RunningBot) -> RunningBot:
    """The same retry handlers and counts, with 10 ms between retries instead of 0.5 s, 1 s…

    (the 429 handler sleeps what Retry-After says, plus up to 1 s of jitter, whatever this says)
    """
    handlers = running.services.slack.retry_handlers
    assert handlers, "slack_client() configures retry handlers"
    for handler in handlers:
        handler.interval_calculator = FixedValueRetryIntervalCalculator(0.01)
    return running
