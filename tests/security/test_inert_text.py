"""Whatever a requester types is shown as typed and does nothing: no formatting, links,
mentions, emoji codes, quotes, or bidi and zero-width tricks on the card approvers trust.
And a reason cannot change the request: no extra targets, no other org."""

from __future__ import annotations

import json
import logging

import pytest

from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot, SocketBot
from tests.support.slack_user import OUTCOMES, ask, card, click, request_id_in

HOSTILE_REASON = (
    "*APPROVED BY SECURITY* _urgent_ ~ignore~ ```rm -rf``` > quoted :tada: "
    "https://evil.example/x <https://evil.example|click> <!channel> "
    "safe\u202etxt.exe zero\u200bwidth\u2066iso\u2069"
)


def reason_blocks(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    found = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and "APPROVED BY SECURITY" in str(text.get("text")):
            found.append(text)
    return found


async def test_the_card_shows_the_reason_as_plain_text(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = request_id_in(
        await ask(slack, bot, "U0ALICE", f"delete sfv_app_abc123xyz456 {HOSTILE_REASON}")
    )
    (shown,) = reason_blocks(card(slack, request_id).blocks)
    assert shown["type"] == "plain_text" and shown["emoji"] is False
    text = str(shown["text"])
    assert "*APPROVED BY SECURITY*" in text  # shown, literally, not rendered bold
    for invisible in ("\u202e", "\u200b", "\u2066", "\u2069"):
        assert invisible not in text
    mrkdwn = [
        b for b in card(slack, request_id).blocks if b.get("text", {}).get("type") == "mrkdwn"
    ]
    assert mrkdwn and "evil.example" not in json.dumps(mrkdwn)


async def test_the_outcome_line_quotes_the_reason_in_a_code_span(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = request_id_in(
        await ask(
            slack,
            bot,
            "U0ALICE",
            f"unlink +918000000001 sfv_app_abc123xyz456 {HOSTILE_REASON}",
        )
    )
    await click(slack, bot, "U0BOB", request_id, "approve")
    (line,) = [m.text for m in slack.messages(OUTCOMES)]
    reason = line.split("Reason: ", 1)[1]
    assert reason.startswith("`") and reason.endswith("`") and reason.count("`") == 2
    assert "<!channel>" not in line and "<https://evil" not in line
    assert "\u202e" not in line and "\u200b" not in line


async def test_a_reason_of_only_invisible_characters_is_no_reason(
    slack: SlackStandin, bot: RunningBot
) -> None:
    said = await ask(slack, bot, "U0ALICE", "delete sfv_app_abc123xyz456 \u200b\u202e")
    assert "a reason is required" in said
    assert await bot.services.store.list_requests(orgs=["acme"]) == []
    kept = request_id_in(
        await ask(slack, bot, "U0ALICE", "delete sfv_app_abc123xyz456 zero\u200bwidth \u2066x")
    )
    stored = await bot.services.store.get(kept)
    assert stored is not None and stored.reason == "zerowidth x"


async def test_a_reason_that_is_not_valid_text_is_refused_over_socket_mode(
    slack: SlackStandin, socket_bot: SocketBot, caplog: pytest.LogCaptureFixture
) -> None:
    # Socket Mode carries the command as JSON, which can hold a lone surrogate
    result = await slack.command("U0ALICE", "delete sfv_app_abc123xyz456 INC-1 \ud800")
    assert result.transport == "socket" and result.ephemeral is not None
    await socket_bot.settle()
    assert "the reason contains characters that are not valid text" in result.ephemeral.text
    assert await socket_bot.services.store.list_requests(orgs=["acme"]) == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("text", "targets", "reason"),
    [
        (
            "delete sfv_app_abc123xyz456 -- app_migration_done per CHG-1",
            ["sfv_app_abc123xyz456"],
            "app_migration_done per CHG-1",
        ),
        (
            "unlink +918000000001 sfv_app_abc123xyz456 moved --org=globex by mistake",
            ["+918000000001 on sfv_app_abc123xyz456"],
            "moved --org=globex by mistake",
        ),
        (
            "unlink +918000000001 sfv_app_abc123xyz456 -- --org globex +918000000002",
            ["+918000000001 on sfv_app_abc123xyz456"],
            "--org globex +918000000002",
        ),
    ],
)
async def test_a_reason_cannot_change_the_request(
    slack: SlackStandin, bot: RunningBot, text: str, targets: list[str], reason: str
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", text))
    stored = await bot.services.store.get(request_id)
    assert stored is not None
    assert stored.org == "acme"
    assert [str(t.target) for t in stored.targets] == targets
    assert stored.reason == reason
