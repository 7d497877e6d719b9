"""The preview as an approver sees it (pure, as data, at Slack's limits), and the rules that
bind an approval to it: which preview the approvals were given on, what stops a run, which
targets are already gone, what a preview owes Slack."""

from __future__ import annotations

import json
from typing import Any

from bot.config.orgfile import parse_orgs
from bot.core.bound import NUMBERS_SHOWN, approved_on, gone, owed_with, stops
from bot.core.deliveries import Kind, addressed, posted_with, preview_seq
from bot.core.models import Action, Request, Status, Target, TargetState
from bot.core.preview import AppPreview, LinkState, NumberPreview, Preview, Purpose, StoredPreview
from bot.slack import blocks
from bot.slack.blocks.preview import POSTS_MAX
from bot.slack.blocks.text import MESSAGE_LIMIT, SECTION_LIMIT
from tests.support.orgs import ORG_ENV, ORGS_YAML

APP = "sfv_app_abc123xyz456"


def _request(action: Action, targets: list[Target], **kw: object) -> Request:
    fields: dict[str, object] = {
        "id": 17,
        "org": "acme",
        "action": action,
        "requester": "U0ALICE",
        "reason": "INC-1",
        "status": Status.PENDING,
        "approvals_needed": 2,
        "created_at": 1_800_000_000.0,
        "expires_at": 1_800_003_600.0,
        "targets": tuple(TargetState(t) for t in targets),
    }
    return Request(**{**fields, **kw})  # type: ignore[arg-type]


def _stored(preview: Preview, seq: int = 1, purpose: Purpose = Purpose.FILED) -> StoredPreview:
    return StoredPreview(17, seq, purpose, 1_800_000_001.0, preview.fingerprint(), preview)


def _numbers(n: int, base: int = 0) -> tuple[str, ...]:
    return tuple(f"+9181{base + i:08d}" for i in range(n))


def _delete(apps: tuple[AppPreview, ...]) -> Preview:
    return Preview(Action.DELETE, apps=apps)


def _text(card: list[dict[str, Any]]) -> str:
    return json.dumps(card, ensure_ascii=False)


def _within_limits(card: list[dict[str, Any]]) -> None:
    assert len(card) <= 50
    for block in card:
        texts = [block["text"]] if isinstance(block.get("text"), dict) else []
        texts += [e for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
        texts += block.get("fields", [])
        assert all(len(t["text"]) <= 3000 for t in texts), block


def test_a_delete_card_says_which_numbers_deleting_unlinks() -> None:
    preview = _delete((AppPreview(APP, True, "Support line", "active", _numbers(3)),))
    card = blocks.card(_request(Action.DELETE, [Target(APP)]), preview=_stored(preview))
    shown = _text(card)
    assert "deleting it unlinks these 3 numbers" in shown
    assert all(n in shown for n in _numbers(3))
    assert "*Support line* (active)" in shown
    _within_limits(card)


def test_long_lists_are_summarised_and_the_thread_has_them_all() -> None:
    apps = tuple(
        AppPreview(f"sfv_app_{i:012d}", True, "x" * 50, "active", _numbers(500, i * 1000))
        for i in range(100)
    )
    targets = [Target(a.app_id) for a in apps]
    stored = _stored(_delete(apps))
    card = blocks.card(_request(Action.DELETE, targets), preview=stored)
    _within_limits(card)
    shown = _text(card)
    assert f"… and {500 - NUMBERS_SHOWN} more (see the thread)" in shown
    assert "… and 90 more apps (see the thread)" in shown
    posts = blocks.preview_thread(_request(Action.DELETE, targets), stored)
    assert len(posts) == POSTS_MAX
    assert all(len(p) <= MESSAGE_LIMIT for p in posts)
    assert "GET /api/v1/requests/17" in posts[-1]
    few = _delete((AppPreview(APP, True, "n", "active", _numbers(NUMBERS_SHOWN + 5)),))
    (post,) = blocks.preview_thread(_request(Action.DELETE, [Target(APP)]), _stored(few))
    assert all(n in post for n in _numbers(NUMBERS_SHOWN + 5))


def test_an_unlink_card_says_whether_each_number_is_linked_now() -> None:
    targets = [Target(APP, n) for n in _numbers(100)]
    states = [LinkState.LINKED, LinkState.NOT_IN_APP, LinkState.APP_NOT_FOUND]
    preview = Preview(
        Action.UNLINK,
        numbers=tuple(
            NumberPreview(APP, t.number or "", states[i % 3]) for i, t in enumerate(targets)
        ),
    )
    card = blocks.card(_request(Action.UNLINK, targets), preview=_stored(preview))
    _within_limits(card)
    shown = _text(card)
    assert f"`{_numbers(1)[0]}` is linked to `{APP}` now" in shown
    assert f"`{_numbers(2)[1]}` is not linked to `{APP}`: nothing to do" in shown
    assert f"… and {100 - NUMBERS_SHOWN} more numbers" in shown


def test_an_unreadable_preview_says_so_and_sfvopi_text_is_inert() -> None:
    down = Preview(Action.DELETE, unreadable="SFVoPI is down <!channel>")
    shown = _text(blocks.card(_request(Action.DELETE, [Target(APP)]), preview=_stored(down)))
    assert "Could not read SFVoPI:" in shown and "&lt;!channel&gt;" in shown
    ran = _stored(down, 2, Purpose.BEFORE_EXECUTION)
    ran_card = blocks.card(
        _request(Action.DELETE, [Target(APP)], status=Status.SUCCEEDED), preview=ran
    )
    assert "cannot be undone" in _text(ran_card)
    hostile = _delete((AppPreview(APP, True, "<@U0BOSS> *ok*", "<!here>", ()),))
    shown = _text(blocks.card(_request(Action.DELETE, [Target(APP)]), preview=_stored(hostile)))
    assert "<@U0BOSS>" not in shown and "<!here>" not in shown


def test_a_new_preview_gives_the_buttons_a_new_block_id() -> None:
    request = _request(Action.DELETE, [Target(APP)])
    preview = _delete((AppPreview(APP, True, "n", "active", ()),))
    ids = {
        next(b["block_id"] for b in blocks.card(request, preview=p) if b["type"] == "actions")
        for p in (None, _stored(preview, 1), _stored(preview, 3, Purpose.REBOUND))
    }
    assert len(ids) == 3
    assert all(blocks.is_card_block_id(i, 17) for i in ids)


def test_the_approvals_are_bound_to_the_last_preview_shown() -> None:
    one = _delete((AppPreview(APP, True, "n", "active", _numbers(2)),))
    two = _delete((AppPreview(APP, True, "n", "active", _numbers(3)),))
    filed, ran = _stored(one, 1), _stored(two, 2, Purpose.BEFORE_EXECUTION)
    assert approved_on([filed, ran]) == filed
    rebound = _stored(two, 3, Purpose.REBOUND)
    assert approved_on([filed, _stored(two, 2, Purpose.BEFORE_EXECUTION), rebound]) == rebound
    assert approved_on([]) is None
    assert stops(one, two, rebind=True) == [f"{_numbers(3)[2]} is now linked to {APP}"]
    assert stops(one, one, rebind=True) == []
    assert stops(one, two, rebind=False) == []
    assert stops(None, two, rebind=True) == []
    assert stops(one, Preview(Action.DELETE, unreadable="down"), rebind=True) == []


def test_targets_already_gone_are_told_to_the_requester() -> None:
    unlink = Preview(
        Action.UNLINK,
        numbers=(
            NumberPreview(APP, "+918000000001", LinkState.NOT_IN_APP),
            NumberPreview(APP, "+918000000002", LinkState.LINKED),
            NumberPreview("app_gone00001", "+918000000003", LinkState.APP_NOT_FOUND),
        ),
    )
    assert gone(unlink) == [
        f"+918000000001 is not linked to {APP}: nothing to do",
        "app app_gone00001 does not exist: nothing to unlink from it",
    ]
    person = _request(Action.UNLINK, [Target(APP, "+918000000001")])
    assert owed_with(person, unlink) == [(Kind.PREVIEW_GONE, "requester")]
    service = _request(Action.UNLINK, [Target(APP, "+918000000001")], requester="api:ci")
    assert owed_with(service, unlink) == []
    notice = blocks.gone_notice(person, _stored(unlink))
    assert "+918000000001 is not linked to" in notice and "#17" in notice
    long = _delete((AppPreview(APP, True, "n", "active", _numbers(NUMBERS_SHOWN + 1)),))
    assert owed_with(person, long) == [(Kind.PREVIEW_LISTED, "thread")]


def test_posts_owed_with_a_preview_name_it_and_post_where_their_recipient_does() -> None:
    key = posted_with("thread", 4)
    assert preview_seq(key) == 4 and preview_seq("thread") is None
    request = _request(Action.DELETE, [Target(APP)], card_channel="C0APPROVALS", card_ts="1.2")
    org = parse_orgs(ORGS_YAML, ORG_ENV).get("acme")
    assert org is not None
    to = addressed(key, request, org)
    assert to is not None and (to.key, to.channel, to.thread_ts) == ("thread", "C0APPROVALS", "1.2")


def test_the_drift_line_names_what_changed_and_stays_in_a_message() -> None:
    request = _request(Action.DELETE, [Target(APP)])
    line = blocks.drift_line(request, [f"{n} is now linked to {APP}" for n in _numbers(400)])
    assert len(line) <= MESSAGE_LIMIT
    assert "did not run" in line and line.endswith("for approval again.")
    assert len(blocks.drift_line(request, ["x"])) < SECTION_LIMIT
