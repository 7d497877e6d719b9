"""The chain's encoding is the one docs/audit.md documents (anyone can recompute a hash), and it
is stable: the same event hashes alike however its time was passed, and differently if any
hashed field changes."""

from __future__ import annotations

import hashlib
import json

import pytest

from bot.audit.chain import GENESIS, canonical, check_request, event_hash
from bot.audit.events import ChainLink

EVENT = {
    "uid": "6f1c2b1e-3d4a-4f5b-9c6d-7e8f9a0b1c2d",
    "request_id": 17,
    "at": 1714555800.123456,
    "actor": "U0BOB",
    "kind": "approved",
    "detail": '{"note": "ok \\u00e9"}',
    "prev_hash": GENESIS,
}


def test_the_hash_is_sha256_of_the_documented_encoding() -> None:
    documented = json.dumps(
        {
            "actor": "U0BOB",
            "at": 1714555800.123456,
            "detail": '{"note": "ok \\u00e9"}',
            "kind": "approved",
            "prev": GENESIS,
            "request": 17,
            "uid": EVENT["uid"],
            "v": 1,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()
    assert canonical(**EVENT) == documented
    assert event_hash(**EVENT) == hashlib.sha256(documented).hexdigest()


def test_a_time_given_as_an_integer_hashes_as_the_float_the_database_returns() -> None:
    whole = {**EVENT, "at": 1714555800}
    assert event_hash(**whole) == event_hash(**{**whole, "at": 1714555800.0})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("uid", "00000000-0000-4000-8000-000000000000"),
        ("request_id", 18),
        ("at", 1714555800.123457),
        ("actor", "U0MALLORY"),
        ("kind", "denied"),
        ("detail", '{"note":"ok \\u00e9"}'),  # the same data, other spacing
        ("prev_hash", "f" * 64),
    ],
)
def test_every_hashed_field_changes_the_hash(field: str, value: object) -> None:
    assert event_hash(**{**EVENT, field: value}) != event_hash(**EVENT)


def chain(count: int) -> list[ChainLink]:
    links, prev = [], GENESIS
    for seq in range(1, count + 1):
        fields = {**EVENT, "uid": f"uid-{seq}", "at": float(seq), "prev_hash": prev}
        digest = event_hash(**fields)
        links.append(
            ChainLink(
                seq,
                f"uid-{seq}",
                17,
                float(seq),
                "U0BOB",
                "approved",
                EVENT["detail"],
                prev,
                digest,
            )
        )
        prev = digest
    return links


def test_a_request_whose_first_event_is_gone_is_caught() -> None:
    """Deleting the first event leaves the second pointing at a hash no row carries."""
    (found,) = check_request(chain(3)[1:])
    assert (found.kind, found.seq) == ("deleted", 2)
    assert "follows the start of its request" in found.why
