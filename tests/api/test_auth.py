"""A bearer token is matched against every client's, in constant time, and only exactly."""

from __future__ import annotations

import hmac

import pytest
from pydantic import SecretStr

from bot.api.auth import authenticate, bearer
from bot.core.org import ApiClient, Role

TOKENS = ("test-api-token-first-not-real-000001", "test-api-token-second-not-real-00002")
CLIENTS = [
    ApiClient("first", "acme", SecretStr(TOKENS[0]), "A", "U0ALICE"),
    ApiClient("second", "acme", SecretStr(TOKENS[1]), "B", "api:second", Role.REQUESTER),
]


def test_only_the_exact_token_of_a_client_names_it() -> None:
    assert authenticate(CLIENTS, f"Bearer {TOKENS[1]}") is CLIENTS[1]
    assert authenticate(CLIENTS, f"bearer  {TOKENS[0]} ") is CLIENTS[0]
    for header in (
        None,
        "",
        TOKENS[0],
        f"Basic {TOKENS[0]}",
        f"Bearer {TOKENS[0][:-1]}",
        f"Bearer {TOKENS[0]}0",
        f"Bearer {TOKENS[0].upper()}",
        f"Bearer {TOKENS[0]} {TOKENS[1]}",
        "Bearer " + "x" * 10_000,
    ):
        assert authenticate(CLIENTS, header) is None, header


def test_every_client_is_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: the time taken does not say which client (or whether any) matched."""
    compared: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(len(a))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    for header in (f"Bearer {TOKENS[0]}", f"Bearer {TOKENS[1]}", "Bearer nope", None):
        compared.clear()
        authenticate(CLIENTS, header)
        assert compared == [32, 32]  # every client, always over same-length digests


def test_the_token_is_taken_from_a_bearer_header_only() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("Token abc") is None and bearer("Bearer") is None
