"""What an app id, a phone number and a request number may look like, at their boundaries."""

from __future__ import annotations

import pytest

from bot.core import ids
from bot.errors import InvalidId, InvalidRequest

APP_ID_MESSAGE = (
    "is not an app id: expected something like `sfv_app_abc123xyz456` "
    "(letters, digits, `_` and `-` after the prefix)"
)
NUMBER_MESSAGE = (
    "is not a phone number in E.164 form: expected `+` and the country code, like `+918000000001`"
)


def rejected(validator: object, value: str) -> str:
    with pytest.raises(InvalidId) as caught:
        validator(value)  # type: ignore[operator]
    return caught.value.message


# -- app ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "sfv_app_abc123xyz456",
        "app_abc123",
        "app_x",
        "sfv_app_X",
        "app_9",
        "app_a-b_c",
        "app_a--",
        "app_" + "a" * 64,
        "sfv_app_" + "a" * 64,
    ],
)
def test_valid_app_ids_come_back_unchanged(value: str) -> None:
    assert ids.app_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "app_",
        "sfv_app_",
        "sfv_abc",
        "sfv_",
        "APP_abc",
        "Sfv_app_abc",
        "application_x",
        "abc123",
        "app__x",
        "app_-x",
        "app_" + "a" * 65,
        "sfv_app_" + "a" * 65,
        "app_a b",
        "app_a/b",
        "app_a%2Fb",
        "app_a.b",
        "app_../x",
        "app_é",
        "app_x\n",
        " app_x",
        "sfv_sfv_app_x",
    ],
)
def test_invalid_app_ids(value: str) -> None:
    assert rejected(ids.app_id, value).endswith(APP_ID_MESSAGE)


def test_app_id_message_names_the_value() -> None:
    assert rejected(ids.app_id, "oops") == f"`oops` {APP_ID_MESSAGE}"


@pytest.mark.parametrize(
    ("token", "looks"),
    [
        ("sfv_app_abc", True),
        ("app_abc", True),
        ("sfv_anything", True),
        ("app_", True),
        ("sfv_", True),
        ("app!", False),
        ("application", False),
        ("APP_abc", False),
        ("+918000000001", False),
        ("", False),
    ],
)
def test_looks_like_app_id_goes_by_prefix_only(token: str, looks: bool) -> None:
    assert ids.looks_like_app_id(token) is looks


# -- phone numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "+918000000001",
        "+1234567",  # 7 digits: the shortest
        "+123456789012345",  # 15 digits: the longest E.164 allows
        "+10000000",
    ],
)
def test_valid_numbers_come_back_unchanged(value: str) -> None:
    assert ids.phone_number(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "+",
        "+123456",  # 6 digits
        "+1234567890123456",  # 16 digits
        "918000000001",
        "+018000000001",
        "++918000000001",
        "+91 8000000001",
        "+91-8000000001",
        "+91800000000x",
        "+\uff19\uff11\uff18\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff11",  # fullwidth
        "+918000000001\n",
        " +918000000001",
        "00918000000001",
    ],
)
def test_invalid_numbers(value: str) -> None:
    assert rejected(ids.phone_number, value).endswith(NUMBER_MESSAGE)


def test_number_message_names_the_value() -> None:
    assert rejected(ids.phone_number, "+91") == f"`+91` {NUMBER_MESSAGE}"


# -- request numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("1", 1),
        ("17", 17),
        ("#17", 17),
        (" 17 ", 17),
        ("#1", 1),
        ("2147483647", 2147483647),
        ("#2147483647", 2147483647),
    ],
)
def test_valid_request_numbers(value: str, number: int) -> None:
    assert ids.request_id(value) == number


@pytest.mark.parametrize(
    "value",
    [
        "",
        "#",
        "0",
        "#0",
        "017",
        "##17",
        "# 17",
        "17#",
        "-1",
        "+17",
        "1e3",
        "1_000",
        "\u0661\u0667",
        "x",
    ],
)
def test_invalid_request_numbers(value: str) -> None:
    assert rejected(ids.request_id, value) == (
        f"`{value}` is not a request number: expected like `17` or `#17`"
    )


@pytest.mark.parametrize(
    "value",
    ["2147483648", "#2147483648", "999999999999999999"],  # the last has 18 digits, the most read
)
def test_numbers_past_the_store_column_do_not_exist(value: str) -> None:
    assert rejected(ids.request_id, value) == f"there is no request #{value.lstrip('#')}"


def test_more_than_eighteen_digits_are_not_a_request_number_at_all() -> None:
    assert rejected(ids.request_id, "1" * 19) == (
        "`1111111111111111111` is not a request number: expected like `17` or `#17`"
    )
    assert rejected(ids.request_id, "9" * 5000).startswith("`" + "9" * 39 + "…` is not")


def test_invalid_ids_are_invalid_requests() -> None:
    with pytest.raises(InvalidRequest):
        ids.request_id("nope")


# -- shown: untrusted text, bounded and on one line ---------------------------------------


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("abc", 40, "abc"),
        ("", 40, ""),
        ("a" * 40, 40, "a" * 40),
        ("a" * 41, 40, "a" * 39 + "…"),
        ("abcdef", 5, "abcd…"),
        ("abcde", 5, "abcde"),
        ("`rm -rf`", 40, "'rm -rf'"),
        ("one\ntwo\nthree", 40, "one two three"),
        ("```\n```", 40, "''' '''"),
        ("a\rb\tc", 40, "a b c"),
        ("evil\u202etxt.exe", 40, "evil txt.exe"),
        ("zero\u200bwidth", 40, "zero width"),
        ("line\u2028sep\u2029par", 40, "line sep par"),
        ("\x00\x1b[31m", 40, "  [31m"),
    ],
)
def test_shown(value: str, limit: int, expected: str) -> None:
    assert ids.shown(value, limit) == expected


def test_shown_defaults_to_forty_characters() -> None:
    assert ids.shown("b" * 100) == "b" * 39 + "…"
    assert ids.shown("b" * 40) == "b" * 40


def test_shown_flattens_before_it_counts() -> None:
    assert ids.shown("\n" * 50, 10) == " " * 9 + "…"


def test_error_messages_show_at_most_forty_characters_of_the_value() -> None:
    message = rejected(ids.app_id, "app_" + "x" * 200)
    assert message == "`app_" + "x" * 35 + "…` " + APP_ID_MESSAGE
