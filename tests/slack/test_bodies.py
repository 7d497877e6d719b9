"""Any text a user can type reaches the command handler, whatever it looks like to a parser.

Bolt guessed a body's shape from its text, so `/sfvopi … payload …` arrived as an empty dict
and was dropped with an empty 200: the user saw nothing. Texts here are built from Slack's own
field names, the form's punctuation, encodings and non-ASCII, and sent signed to the real
server; every one must come back as an ephemeral answer from the handler.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot
from tests.support.slack_user import OPS

SLACK_WORDS = [
    "payload",
    "payload=",
    "token",
    "token=",
    "type",
    "type=block_actions",
    "command",
    "command=/sfvopi",
    "text=",
    "user_id=U0EVE",
    "response_url",
    "trigger_id",
    "{",
    "}",
    '{"type":"block_actions"}',
    "=",
    "&",
    "%",
    "%26",
    "%3D",
    "%zz",
    "+",
    "++",
    '"',
    "'",
    "\\",
    "unlink",
    "delete",
    "status",
    "help",
    "--org",
    "--",
    "+918000000001",
    "app_abc123",
    "sfv_app_abc123xyz456",
    "ü",
    "日本",
    "🚀",
    "\u202e",
    "\u200b",
    "#1",
]

words = st.lists(
    st.one_of(st.sampled_from(SLACK_WORDS), st.text(min_size=1, max_size=8)),
    min_size=1,
    max_size=8,
)
texts = st.one_of(
    words.map(" ".join),
    words.map("".join),
    st.sampled_from(["payload", "payload=", "payload={}", 'payload={"a":1}', "{}", "{payload}"]),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=texts)
async def test_every_typed_text_reaches_the_command_handler(
    slack: SlackStandin, bot: RunningBot, text: str
) -> None:
    result = await slack.command("U0ALICE", text, channel=OPS)
    await bot.settle()
    assert result.status == 200
    assert result.ephemeral is not None and result.ephemeral.from_ack, text
    assert result.ephemeral.text.strip()


async def test_a_reason_that_says_payload_files_the_request(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """The case Bolt dropped: the word `payload` anywhere in the command's text."""
    result = await slack.command(
        "U0ALICE", "unlink +918000000001 sfv_app_abc123xyz456 bad payload=1 from INC-9"
    )
    await bot.settle()
    assert result.ephemeral is not None
    assert "is waiting for 1 approval" in result.ephemeral.text
    (stored,) = await bot.services.store.list_requests(orgs=["acme"])
    assert stored.reason == "bad payload=1 from INC-9"
