"""Typed text as every door stores it (bot/core/text.py): one line, nothing invisible, and
never a lone surrogate, which neither database nor Slack can take."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import ids, text
from bot.errors import InvalidRequest

HIDDEN = frozenset(("Cc", "Cf", "Cs"))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("fraud\non  this\tDID", "fraud on this DID"),
        ("\u200b\u202e", ""),
        ("\u200b \u200e \u202e \u2066 \u2069 \ufeff \u00ad", ""),
        ("safe\u202etxt.exe", "safetxt.exe"),
        ("zero\u200bwidth", "zerowidth"),
        ("a\x00b", "a b"),
        ("line\u2028sep\u2029par", "line sep par"),
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f468\U0001f469\U0001f467"),
        ("\u05e9\u05dc\u05d5\u05dd\u200f INC-1", "\u05e9\u05dc\u05d5\u05dd INC-1"),
        ("", ""),
    ],
)
def test_typed_text_is_stored_on_one_line_without_invisible_characters(
    typed: str, stored: str
) -> None:
    assert text.one_line(typed) == stored


@pytest.mark.parametrize("typed", ["\ud800", "INC-1 \udfff", "a\ud83d", "\udc80\udc80"])
def test_text_that_is_not_valid_unicode_is_refused_naming_what(typed: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        text.one_line(typed, "the reason")
    assert caught.value.message == "the reason contains characters that are not valid text"


def test_a_pair_of_surrogates_is_not_a_character_python_keeps_split() -> None:
    assert text.one_line("\U0001f600 ok") == "\U0001f600 ok"


# any characters, with the hidden kinds and lone surrogates often (st.text leaves surrogates out)
ANY_TEXT = st.lists(
    st.one_of(
        st.characters(),
        st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs"]),
        st.characters(categories=["Cs"]),
    )
).map("".join)


@given(ANY_TEXT)
@settings(max_examples=300, deadline=None)
def test_stored_text_holds_no_control_format_or_surrogate_and_is_stable(typed: str) -> None:
    if any(unicodedata.category(c) == "Cs" for c in typed):
        with pytest.raises(InvalidRequest):
            text.one_line(typed)
        return
    stored = text.one_line(typed)
    assert not any(unicodedata.category(c) in HIDDEN for c in stored)
    assert stored == stored.strip() and "  " not in stored
    assert text.one_line(stored) == stored


@given(ANY_TEXT, st.integers(min_value=2, max_value=60))
@settings(max_examples=300, deadline=None)
def test_text_shown_in_a_message_is_always_encodable(value: str, limit: int) -> None:
    for shown in (text.visible(value), ids.shown(value, limit)):
        shown.encode("utf-8")
        assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in shown)
