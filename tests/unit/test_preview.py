"""The preview as data: a fingerprint over what an approval depends on only, a faithful JSON
round trip, drift said in plain words, the pre-image an undo needs, and a read that never raises."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.core.models import Action, Target
from bot.core.preview import (
    AppPreview,
    LinkState,
    NumberPreview,
    PreImage,
    Preview,
    changes,
    read_preview,
)
from bot.errors import AppNotFound, TransportFailure
from bot.sfvopi import AppFields, AppInfo, NumberLink

KEY = SecretStr("test-key-unit-not-real")
APP = "sfv_app_abc123xyz456"
GONE = "sfv_app_gone00000001"
N1, N2, N3 = "+918000000001", "+918000000002", "+918000000003"
FIELDS = AppFields("Support line", "https://voice.example.com/answer", "POST", None, "POST")


def app(numbers: tuple[str, ...] = (N1, N2), **changed: object) -> AppPreview:
    values: dict[str, object] = {
        "app_id": APP,
        "found": True,
        "name": "Support line",
        "status": "ACTIVE",
        "numbers": numbers,
        "fields": FIELDS,
    }
    values.update(changed)
    return AppPreview(**values)  # type: ignore[arg-type]


def delete(*apps: AppPreview) -> Preview:
    return Preview(Action.DELETE, apps=apps)


def unlink(*states: tuple[str, str, LinkState]) -> Preview:
    return Preview(Action.UNLINK, numbers=tuple(NumberPreview(*s) for s in states))


# the fingerprint


def test_the_fingerprint_ignores_order_and_the_undo_only_fields() -> None:
    base = delete(app(), AppPreview(GONE, False))
    assert len(base.fingerprint()) == 64
    assert base.fingerprint() == delete(AppPreview(GONE, False), app((N2, N1))).fingerprint()
    other_url = AppFields("Support line", "https://elsewhere.example.com/", "GET")
    assert (
        base.fingerprint() == delete(app(fields=other_url), AppPreview(GONE, False)).fingerprint()
    )
    assert Preview(Action.DELETE, unreadable="timeout").fingerprint() == (
        Preview(Action.DELETE, unreadable="HTTP 500").fingerprint()
    )


@pytest.mark.parametrize(
    "changed",
    [
        delete(app((N1, N2, N3)), AppPreview(GONE, False)),
        delete(app((N1,)), AppPreview(GONE, False)),
        delete(app(status="INACTIVE"), AppPreview(GONE, False)),
        delete(app(name="Renamed"), AppPreview(GONE, False)),
        delete(app(), AppPreview(GONE, True, "Back", "ACTIVE")),
        delete(app()),
        Preview(Action.DELETE, unreadable="timeout"),
        Preview(Action.UNLINK, apps=(app(), AppPreview(GONE, False))),
    ],
)
def test_every_fact_that_matters_changes_the_fingerprint(changed: Preview) -> None:
    assert changed.fingerprint() != delete(app(), AppPreview(GONE, False)).fingerprint()


def test_the_fingerprint_is_pinned() -> None:
    """A stored fingerprint must still match after an upgrade: the canonical form is fixed."""
    preview = unlink((APP, N1, LinkState.LINKED))
    assert preview.facts() == {
        "action": "unlink",
        "readable": True,
        "apps": [],
        "numbers": [[APP, N1, "linked"]],
    }
    assert (
        preview.fingerprint() == "656ff8b1cb3d51cd3a2400409d52497eec68ccb171e9e775139f3c5d0eab1a96"
    )


# JSON


@pytest.mark.parametrize(
    "preview",
    [
        delete(app(), AppPreview(GONE, False)),
        unlink((APP, N1, LinkState.LINKED), (APP, N3, LinkState.NOT_IN_APP)),
        unlink((GONE, N1, LinkState.APP_NOT_FOUND)),
        Preview(Action.DELETE, unreadable="SFVoPI timed out"),
    ],
)
def test_json_round_trip(preview: Preview) -> None:
    again = Preview.from_json(preview.to_json())
    assert again == preview and again.fingerprint() == preview.fingerprint()


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "{}",
        '{"action": "explode"}',
        '{"action": "delete", "apps": [{"found": true}]}',
        '{"action": "unlink", "numbers": [{"app_id": "a", "number": "n", "state": "odd"}]}',
        '{"action": "delete", "apps": [{"app_id": "a", "found": true, "fields": {"name": 1}}]}',
    ],
)
def test_what_is_not_a_preview_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a stored preview|is not a valid"):
        Preview.from_json(text)


# drift in words


def test_no_drift_no_words() -> None:
    assert changes(delete(app()), delete(app((N2, N1)))) == []


def test_a_number_linked_to_the_app_since() -> None:
    assert changes(delete(app()), delete(app((N1, N2, N3)))) == [f"{N3} is now linked to {APP}"]


def test_the_app_gone_renamed_or_deactivated() -> None:
    assert changes(delete(app()), delete(AppPreview(APP, False))) == [f"app {APP} no longer exists"]
    assert changes(delete(app()), delete(app((N1,), status="INACTIVE", name="Old"))) == [
        f"app {APP} is now named 'Old' (was 'Support line')",
        f"app {APP} is now INACTIVE (was ACTIVE)",
        f"{N2} is no longer linked to {APP}",
    ]


def test_unlink_targets_that_moved() -> None:
    old = unlink((APP, N1, LinkState.LINKED), (APP, N2, LinkState.NOT_IN_APP))
    new = unlink((APP, N1, LinkState.NOT_IN_APP), (APP, N2, LinkState.LINKED))
    assert changes(old, new) == [
        f"{N1} is no longer linked to {APP}",
        f"{N2} is now linked to {APP}",
    ]
    gone = unlink((APP, N1, LinkState.APP_NOT_FOUND), (APP, N2, LinkState.APP_NOT_FOUND))
    assert changes(old, gone) == [f"app {APP} no longer exists"]


def test_unreadable_either_side() -> None:
    down = Preview(Action.DELETE, unreadable="timeout")
    assert changes(delete(app()), down) == ["SFVoPI could not be read: timeout"]
    assert "can be read now" in changes(down, delete(app()))[0]


# the pre-image


def test_pre_images() -> None:
    assert delete(app(), AppPreview(GONE, False)).pre_images() == (PreImage(APP, FIELDS, (N1, N2)),)
    preview = unlink(
        (APP, N1, LinkState.LINKED),
        (APP, N2, LinkState.NOT_IN_APP),
        ("app_abc123", N3, LinkState.LINKED),
    )
    assert preview.pre_images() == (
        PreImage(APP, None, (N1,)),
        PreImage("app_abc123", None, (N3,)),
    )


# reading


class Reader:
    """SFVoPI as a dict: app id → its numbers; `down` makes every call fail."""

    def __init__(self, apps: dict[str, tuple[str, ...]], down: Exception | None = None) -> None:
        self.apps = apps
        self.down = down
        self.calls: list[str] = []

    async def get_app(self, api_key: SecretStr, app_id: str) -> AppInfo:
        self.calls.append(f"get {app_id}")
        self._check(app_id, "SFVoPI app not found")
        return AppInfo(
            app_id,
            status="ACTIVE",
            hangup_url=None,
            fallback_answer_url=None,
            fallback_answer_method=None,
            **FIELDS.body(),
        )

    async def list_app_numbers(self, api_key: SecretStr, app_id: str) -> list[NumberLink]:
        self.calls.append(f"numbers {app_id}")
        self._check(app_id, "App not found")
        return [NumberLink(app_id, n, "ACTIVE") for n in self.apps[app_id]]

    def _check(self, app_id: str, missing: str) -> None:
        if self.down is not None:
            raise self.down
        if app_id not in self.apps:
            raise AppNotFound(missing, status_code=404)


async def test_reading_a_delete() -> None:
    reader = Reader({APP: (N2, N1)})
    preview = await read_preview(reader, KEY, Action.DELETE, [Target(APP), Target(GONE)])
    assert preview == delete(
        AppPreview(APP, True, "Support line", "ACTIVE", (N1, N2), FIELDS),
        AppPreview(GONE, False),
    )


async def test_reading_an_unlink_lists_each_app_once() -> None:
    reader = Reader({APP: (N1,)})
    targets = [Target(APP, N1), Target(APP, N2), Target(GONE, N3)]
    preview = await read_preview(reader, KEY, Action.UNLINK, targets)
    assert preview == unlink(
        (APP, N1, LinkState.LINKED),
        (APP, N2, LinkState.NOT_IN_APP),
        (GONE, N3, LinkState.APP_NOT_FOUND),
    )
    assert sorted(reader.calls) == [f"numbers {APP}", f"numbers {GONE}"]


@pytest.mark.parametrize(
    ("down", "said"),
    [
        (TransportFailure("timeout", attempts=3), "timeout"),
        (RuntimeError("bug"), "unexpected error: RuntimeError"),
    ],
)
async def test_sfvopi_down_is_unreadable_never_raised(down: Exception, said: str) -> None:
    reader = Reader({APP: (N1,)}, down=down)
    for action, target in [(Action.DELETE, Target(APP)), (Action.UNLINK, Target(APP, N1))]:
        preview = await read_preview(reader, KEY, action, [target])
        assert preview == Preview(action, unreadable=said)
