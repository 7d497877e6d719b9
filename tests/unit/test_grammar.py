"""The `/sfvopi` grammar as a user meets it: what each text means, and what each mistake says."""

from __future__ import annotations

import re

import pytest

from bot.core.models import Action, Target
from bot.errors import InvalidRequest, ParseError
from bot.slack.grammar import MAX_TEXT, Command, parse

NUMBER = "+918000000001"
OTHER_NUMBER = "+918000000002"
APP = "sfv_app_abc123xyz456"
OTHER_APP = "app_def789"


def refused(text: str) -> str:
    """The message a user is shown for `text`."""
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert caught.value.message == str(caught.value)
    return caught.value.message


# -- the simple commands -----------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\t\n", "help", "HELP", "  Help  "])
def test_nothing_or_help_means_help(text: str) -> None:
    assert parse(text) == Command("help")


@pytest.mark.parametrize("name", ["pending", "history", "whoami"])
def test_commands_without_arguments(name: str) -> None:
    assert parse(name) == Command(name)
    assert parse(name.upper()) == Command(name)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("help me", "`help` takes no arguments"),
        ("pending 17", "`pending` takes no arguments"),
        ("History all", "`history` takes no arguments"),
        ("whoami --verbose", "`whoami` takes no arguments"),
    ],
)
def test_commands_without_arguments_refuse_extra_words(text: str, message: str) -> None:
    assert refused(text) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frobnicate", "unknown command `frobnicate`; `/sfvopi help` lists them"),
        ("approve 17", "unknown command `approve`; `/sfvopi help` lists them"),
        ("--ORG acme help", "unknown command `--ORG`; `/sfvopi help` lists them"),
        ("rm`-rf` x", "unknown command `rm'-rf'`; `/sfvopi help` lists them"),
        ("x" * 31, "unknown command `" + "x" * 29 + "…`; `/sfvopi help` lists them"),
        ("y" * 30, "unknown command `" + "y" * 30 + "`; `/sfvopi help` lists them"),
    ],
)
def test_unknown_commands_are_named_briefly(text: str, message: str) -> None:
    assert refused(text) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("statsu 17", "unknown command `statsu`; did you mean `status`?"),
        ("delet app_x r", "unknown command `delet`; did you mean `delete`?"),
        ("unlnk +918000000001", "unknown command `unlnk`; did you mean `unlink`?"),
        ("PENDNG", "unknown command `PENDNG`; did you mean `pending`?"),
    ],
)
def test_a_near_miss_suggests_the_command(text: str, message: str) -> None:
    assert refused(text) == message


# -- status and cancel take one request number --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status 17", Command("status", request_id=17)),
        ("status #17", Command("status", request_id=17)),
        ("STATUS 1", Command("status", request_id=1)),
        ("cancel 2147483647", Command("cancel", request_id=2147483647)),
        ("cancel #5", Command("cancel", request_id=5)),
        (
            "Cancel 3 because INC-7 was closed",
            Command("cancel", request_id=3, reason="because INC-7 was closed"),
        ),
    ],
)
def test_status_and_cancel_take_a_request_number(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status", "`status` needs one request number, e.g. `status 17`"),
        ("status 1 2", "`status` needs one request number, e.g. `status 17`"),
        ("cancel", "`cancel` needs one request number, e.g. `cancel 17`"),
        ("status 3 because", "`status` needs one request number, e.g. `status 17`"),
        ("cancel because 3", "`because` is not a request number: expected like `17` or `#17`"),
        ("status abc", "`abc` is not a request number: expected like `17` or `#17`"),
        ("status 0", "`0` is not a request number: expected like `17` or `#17`"),
        ("status 017", "`017` is not a request number: expected like `17` or `#17`"),
        ("status ##17", "`##17` is not a request number: expected like `17` or `#17`"),
        ("cancel -4", "`-4` is not a request number: expected like `17` or `#17`"),
        ("status 2147483648", "there is no request #2147483648"),
    ],
)
def test_status_and_cancel_mistakes(text: str, message: str) -> None:
    assert refused(text) == message


# -- unlink: numbers, then one app id, then a reason --------------------------------------


def test_unlink_one_number() -> None:
    assert parse(f"unlink {NUMBER} {APP} fraud on this DID, INC-4411") == Command(
        "unlink",
        action=Action.UNLINK,
        targets=(Target(APP, NUMBER),),
        reason="fraud on this DID, INC-4411",
    )


def test_unlink_several_numbers_from_one_app_keeps_their_order() -> None:
    command = parse(f"unlink {OTHER_NUMBER} {NUMBER} {OTHER_APP} INC-1")
    assert command.targets == (Target(OTHER_APP, OTHER_NUMBER), Target(OTHER_APP, NUMBER))
    assert command.action is Action.UNLINK
    assert command.reason == "INC-1"


@pytest.mark.parametrize(
    "typed",
    ["+91 8000-000 001", "+91 (800) 000.0001", "+91-800-000-0001", "+9180 0000 0001"],
)
def test_unlink_numbers_may_be_typed_with_spaces_and_punctuation(typed: str) -> None:
    command = parse(f"unlink {typed} {APP} fraud")
    assert command.targets == (Target(APP, NUMBER),)
    assert command.reason == "fraud"


def test_unlink_double_dash_ends_the_targets() -> None:
    command = parse(f"unlink {NUMBER} {APP} -- 42 calls from {OTHER_NUMBER}")
    assert command.targets == (Target(APP, NUMBER),)
    assert command.reason == f"42 calls from {OTHER_NUMBER}"


def test_unlink_the_word_after_the_app_starts_the_reason_whatever_it_looks_like() -> None:
    command = parse(f"unlink {NUMBER} {APP} {OTHER_NUMBER} {OTHER_APP} 42")
    assert command.targets == (Target(APP, NUMBER),)
    assert command.reason == f"{OTHER_NUMBER} {OTHER_APP} 42"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "unlink",
            "`unlink` needs at least one phone number in E.164 form, like `+918000000001`",
        ),
        (
            f"unlink {APP} fraud",
            "`unlink` needs at least one phone number in E.164 form, like `+918000000001`",
        ),
        (f"unlink {NUMBER}", "`unlink` needs the app id after the numbers"),
        (f"unlink {NUMBER} {OTHER_NUMBER}", "`unlink` needs the app id after the numbers"),
        (
            f"unlink {NUMBER} {APP}",
            "`unlink` needs a reason at the end, e.g. the incident or ticket number",
        ),
        (
            f"unlink 918000000001 {APP} fraud",
            "`918000000001` is not a phone number in E.164 form: start it with `+` and the "
            "country code, like `+918000000001`",
        ),
        (
            f"unlink {NUMBER} +91-800 {APP} fraud",
            "`+91-800` is not a phone number in E.164 form: expected `+`, the country code "
            "and 7 to 15 digits in all, like `+918000000001`",
        ),
        (
            f"unlink +91 800 {APP} fraud",
            "`+91 800` is not a phone number in E.164 form: expected `+`, the country code "
            "and 7 to 15 digits in all, like `+918000000001`",
        ),
        (f"unlink {NUMBER} -- fraud", "`unlink` needs the app id after the numbers"),
        (
            f"unlink {NUMBER} {APP} --",
            "`unlink` needs a reason at the end, e.g. the incident or ticket number",
        ),
        (
            f"unlink {NUMBER} myapp fraud",
            "`myapp` is not an app id: expected something like `sfv_app_abc123xyz456` "
            "(letters, digits, `_` and `-` after the prefix)",
        ),
    ],
)
def test_unlink_mistakes(text: str, message: str) -> None:
    assert refused(text) == message


# -- delete: app ids, then a reason -------------------------------------------------------


def test_delete_one_app() -> None:
    assert parse(f"delete {APP} retired customer, TICKET-9") == Command(
        "delete",
        action=Action.DELETE,
        targets=(Target(APP),),
        reason="retired customer, TICKET-9",
    )


def test_delete_several_apps_and_no_numbers() -> None:
    command = parse(f"Delete {APP} {OTHER_APP} churned")
    assert command.targets == (Target(APP), Target(OTHER_APP))
    assert all(target.number is None for target in command.targets)
    assert command.action is Action.DELETE


def test_delete_double_dash_lets_the_reason_start_with_an_app_id() -> None:
    command = parse(f"delete {APP} -- {OTHER_APP} replaces it")
    assert command.targets == (Target(APP),)
    assert command.reason == f"{OTHER_APP} replaces it"


def test_delete_only_the_first_double_dash_is_a_separator() -> None:
    assert parse(f"delete {APP} -- -- r").reason == "-- r"


def test_delete_a_phone_number_after_the_apps_is_part_of_the_reason() -> None:
    command = parse(f"delete {APP} {NUMBER} was its only number")
    assert command.targets == (Target(APP),)
    assert command.reason == f"{NUMBER} was its only number"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("delete", "`delete` needs at least one app id, then a reason"),
        (
            f"delete {NUMBER} fraud",
            f"`{NUMBER}` is not an app id: `delete` takes app ids like "
            "`sfv_app_abc123xyz456`, then a reason",
        ),
        (
            "delete because I said so",
            "`because` is not an app id: `delete` takes app ids like "
            "`sfv_app_abc123xyz456`, then a reason",
        ),
        (
            f"delete {APP}",
            "`delete` needs a reason at the end, e.g. the incident or ticket number",
        ),
        ("delete -- fraud", "`delete` needs at least one app id, then a reason"),
        (
            f"delete {APP} --",
            "`delete` needs a reason at the end, e.g. the incident or ticket number",
        ),
        (
            f"delete {APP} {OTHER_APP}",
            "`delete` needs a reason at the end, e.g. the incident or ticket number",
        ),
        (
            f"delete {APP} sfv_oops churned",
            "`sfv_oops` is not an app id: expected something like `sfv_app_abc123xyz456` "
            "(letters, digits, `_` and `-` after the prefix)",
        ),
        (
            "delete app_bad/../x churned",
            "`app_bad/../x` is not an app id: expected something like "
            "`sfv_app_abc123xyz456` (letters, digits, `_` and `-` after the prefix)",
        ),
    ],
)
def test_delete_mistakes(text: str, message: str) -> None:
    assert refused(text) == message


def test_a_long_non_app_word_after_delete_is_shown_briefly() -> None:
    message = refused("delete " + "z" * 100 + " reason")
    assert message.startswith("`" + "z" * 29 + "…` is not an app id")


# -- reasons ----------------------------------------------------------------------------


def test_reason_whitespace_collapses_to_single_spaces() -> None:
    command = parse(f"delete {APP}   fraud\ton \n this   DID  ")
    assert command.reason == "fraud on this DID"


def test_reason_keeps_user_text_verbatim_for_the_card_to_escape() -> None:
    command = parse(f"delete {APP} <!channel> & <@U0BOB> `ok`")
    assert command.reason == "<!channel> & <@U0BOB> `ok`"


# -- --org, before or right after the command --------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"--org globex unlink {NUMBER} {APP} fraud",
        f"--org=globex unlink {NUMBER} {APP} fraud",
        f"unlink --org globex {NUMBER} {APP} fraud",
        f"unlink --org=globex {NUMBER} {APP} fraud",
    ],
)
def test_org_stands_before_or_right_after_the_command(text: str) -> None:
    assert parse(text) == Command(
        "unlink",
        org="globex",
        action=Action.UNLINK,
        targets=(Target(APP, NUMBER),),
        reason="fraud",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--org acme", Command("help", org="acme")),
        ("pending --org acme", Command("pending", org="acme")),
        ("status --org=acme #9", Command("status", org="acme", request_id=9)),
        ("whoami --org Acme-Corp", Command("whoami", org="Acme-Corp")),
        ("--org=a=b history", Command("history", org="a=b")),
    ],
)
def test_org_with_other_commands(text: str, expected: Command) -> None:
    assert parse(text) == expected


def test_org_in_the_reason_is_just_words() -> None:
    command = parse(f"delete --org acme {APP} moved --org globex")
    assert command.org == "acme"
    assert command.reason == "moved --org globex"
    command = parse(f"unlink {NUMBER} {APP} fraud --org=globex")
    assert command.org is None
    assert command.reason == "fraud --org=globex"


def test_org_among_the_targets_is_not_an_option() -> None:
    assert refused(f"unlink {NUMBER} --org globex {APP} fraud") == (
        "`--org` is not an app id: expected something like `sfv_app_abc123xyz456` "
        "(letters, digits, `_` and `-` after the prefix)"
    )


def test_only_one_org_is_taken() -> None:
    assert refused(f"--org acme unlink --org globex {NUMBER} {APP} r") == (
        "`unlink` needs at least one phone number in E.164 form, like `+918000000001`"
    )


@pytest.mark.parametrize("text", ["--org", "pending --org", "--org=", "--org= pending"])
def test_org_needs_a_name(text: str) -> None:
    assert refused(text) == "`--org` needs an organization name"


def test_without_org_the_command_has_none() -> None:
    assert parse(f"delete {APP} r").org is None


def test_an_org_flag_does_not_count_as_arguments() -> None:
    assert parse("help --org acme") == Command("help", org="acme")


# -- length limit -------------------------------------------------------------------------


def test_text_at_the_limit_is_parsed() -> None:
    prefix = f"delete {APP} "
    text = prefix + "r" * (MAX_TEXT - len(prefix))
    assert len(text) == 4000
    assert parse(text).reason == "r" * (4000 - len(prefix))


def test_text_over_the_limit_is_refused_before_anything_else() -> None:
    assert refused("x" * 4001) == "that command is too long (4001 characters; at most 4000)"
    assert refused(" " * 4001) == "that command is too long (4001 characters; at most 4000)"


def test_parse_errors_are_invalid_requests() -> None:
    with pytest.raises(InvalidRequest):
        parse("status nope")


# -- break-glass ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"unlink {NUMBER} {APP} --break-glass INC-4411 fraud on this DID",
        f"unlink --break-glass INC-4411 {NUMBER} {APP} fraud on this DID",
        f"unlink {NUMBER} {APP} --break-glass=INC-4411 fraud on this DID",
        f"unlink {NUMBER} {APP} --break-glass inc-4411 -- fraud on this DID",
    ],
)
def test_break_glass_names_its_incident_with_the_options_or_after_the_targets(
    text: str,
) -> None:
    assert parse(text) == Command(
        "unlink",
        action=Action.UNLINK,
        targets=(Target(APP, NUMBER),),
        reason="fraud on this DID",
        break_glass="INC-4411",
    )


def test_break_glass_without_an_incident_leaves_it_to_the_policy() -> None:
    found = parse(f"delete {APP} --break-glass stale app, no ticket")
    assert (found.break_glass, found.reason) == ("", "stale app, no ticket")
    assert parse(f"delete {APP} stale app").break_glass is None


def test_break_glass_keeps_every_other_option() -> None:
    found = parse(f"--org acme delete --again --break-glass SEV1-22 {APP} {OTHER_APP} r")
    assert (found.org, found.again, found.break_glass) == ("acme", True, "SEV1-22")
    assert found.targets == (Target(APP), Target(OTHER_APP))
    found = parse(f"delete --break-glass PD-1 --org globex {APP} r")
    assert (found.org, found.break_glass) == ("globex", "PD-1")


def test_break_glass_after_the_reason_is_reason() -> None:
    found = parse(f"delete {APP} because --break-glass INC-1")
    assert (found.break_glass, found.reason) == (None, "because --break-glass INC-1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f"delete {APP} --break-glass=<@U0BOB> r",
            "`<@U0BOB>` is not an incident id: expected letters, a dash and a number, like "
            "`INC-4411`",
        ),
        (
            f"delete {APP} --break-glass INC-{'9' * 13} r",
            f"`INC-{'9' * 13}` is not an incident id: expected letters, a dash and a number, "
            "like `INC-4411`",
        ),
        (
            f"delete --break-glass INC-1 {APP} --break-glass INC-2 r",
            "`--break-glass` is given twice",
        ),
        (
            f"delete {APP} --break-glass INC-1",
            "`delete` needs a reason at the end, e.g. the incident or ticket number",
        ),
    ],
)
def test_a_bad_incident_is_refused(text: str, message: str) -> None:
    assert refused(text) == message


# -- scheduled execution ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "at", "glass", "reason"),
    [
        (
            f"unlink {NUMBER} {APP} --at 2026-12-08T02:00+05:30 fraud on this DID",
            "2026-12-08T02:00+05:30",
            None,
            "fraud on this DID",
        ),
        (
            f"unlink --at=2026-12-08T02:00+05:30 {NUMBER} {APP} fraud on this DID",
            "2026-12-08T02:00+05:30",
            None,
            "fraud on this DID",
        ),
        (
            f"unlink {NUMBER} {APP} --break-glass INC-4411 --at 2026-12-08T02:00Z fraud",
            "2026-12-08T02:00Z",
            "INC-4411",
            "fraud",
        ),
        (
            f"delete {APP} --at 2026-12-08T02:00+05:30 decommission",
            "2026-12-08T02:00+05:30",
            None,
            "decommission",
        ),
        (f"delete {APP} decommission --at 2026-12-08T02:00Z", None, None, None),
    ],
)
def test_at_is_read_as_an_option_never_as_the_reason(
    text: str, at: str | None, glass: str | None, reason: str | None
) -> None:
    """`--at` stands with the options or right after the targets; after the reason begins it
    is reason (everything there is), so only where an option may stand is it one."""
    command = parse(text)
    if reason is None:
        assert command.at is None and command.reason.endswith("--at 2026-12-08T02:00Z")
        return
    assert (command.at, command.break_glass, command.reason) == (at, glass, reason)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"delete {APP} --at tomorrow decommission", "needs a time like 2026-12-08T02:00+05:30"),
        (f"delete {APP} --at 2026-12-08T02:00 decommission", "its offset from UTC"),
        (f"delete {APP} --at", "needs a time"),
        (f"delete --at 2026-12-08T02:00Z {APP} --at 2026-12-09T02:00Z x", "given twice"),
    ],
)
def test_a_malformed_at_is_refused_and_nothing_is_filed(text: str, says: str) -> None:
    with pytest.raises(ParseError, match=re.escape(says)):
        parse(text)
