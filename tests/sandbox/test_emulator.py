"""The SFVoPI emulator's reads, links and creates through the real client over loopback: the
documented answers, one state kept consistent by every call (an app's deletion frees its
numbers), and the controls that change it behind the bot's back."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from bot.core.models import Action, Target
from bot.core.preview import changes, read_preview
from bot.errors import AppNotFound, Unauthorized
from bot.sandbox.emulator import ApiFault, Emulator
from bot.sfvopi import (
    AppFields,
    Created,
    CreateUnknown,
    Linked,
    LinkRefusal,
    LinkRefused,
    SfvopiClient,
)
from tests.support.emulator import ACME_KEY, GLOBEX_KEY

ACME = SecretStr(ACME_KEY)
APP = "sfv_app_abc123xyz456"
EMPTY = "sfv_app_empty0000001"
SPARE = "+918000000005"
FIELDS = AppFields("Support line", "https://voice.example.com/answer", "POST")


@pytest_asyncio.fixture
async def client(emulator: Emulator) -> AsyncIterator[SfvopiClient]:
    emulator.add_numbers(ACME_KEY, [SPARE])
    async with SfvopiClient(emulator.base_url, timeout=2.0, backoff=0.001) as c:
        yield c


async def test_reads_answer_the_state(client: SfvopiClient, emulator: Emulator) -> None:
    links = await client.list_app_numbers(ACME, APP)
    assert [(link.app_id, link.voip_number, link.status) for link in links] == [
        (APP, "+918000000001", "ACTIVE"),
        (APP, "+918000000002", "ACTIVE"),
    ]
    assert await client.list_app_numbers(ACME, EMPTY) == []
    app = await client.get_app(ACME, APP)
    assert (app.app_id, app.status, app.answer_method) == (APP, "ACTIVE", "POST")
    assert app.org_id == links[0].org_id
    apps = await client.list_apps(ACME)
    assert {a.app_id for a in apps} == set(emulator.apps(ACME_KEY))
    assert [n.voip_number for n in await client.available_numbers(ACME)] == [SPARE]


async def test_unknown_apps_with_each_documented_message(client: SfvopiClient) -> None:
    with pytest.raises(AppNotFound, match=r"^App not found$"):
        await client.list_app_numbers(ACME, "sfv_app_nosuchapp000")
    with pytest.raises(AppNotFound, match=r"^SFVoPI app not found$"):
        await client.get_app(ACME, "sfv_app_nosuchapp000")
    with pytest.raises(AppNotFound):  # another org's app is not found either
        await client.get_app(SecretStr(GLOBEX_KEY), APP)
    with pytest.raises(Unauthorized):
        await client.list_apps(SecretStr("test-key-wrong-not-real"))


async def test_link_moves_a_number_out_of_available(
    client: SfvopiClient, emulator: Emulator
) -> None:
    done = await client.link_number(ACME, EMPTY, SPARE)
    assert isinstance(done, Linked) and done.link.voip_number == SPARE and not done.found_linked
    assert emulator.numbers(ACME_KEY, EMPTY) == {SPARE}
    assert emulator.available(ACME_KEY) == set()
    assert emulator.effective[("link", EMPTY, SPARE)] == 1
    (call,) = [c for c in emulator.calls if c.method == "POST"]
    assert call.raw_path == f"/superfone/sfvopi/apps/{EMPTY}/numbers" and call.status == 200


async def test_link_refusals(client: SfvopiClient, emulator: Emulator) -> None:
    elsewhere = await client.link_number(ACME, EMPTY, "+918000000003")
    assert isinstance(elsewhere, LinkRefused)
    assert (elsewhere.refusal, elsewhere.status_code) == (LinkRefusal.LINKED_ELSEWHERE, 409)
    foreign = await client.link_number(ACME, EMPTY, "+918000000009")  # globex holds it
    assert isinstance(foreign, LinkRefused) and foreign.refusal is LinkRefusal.NOT_IN_ORG
    missing = await client.link_number(ACME, "sfv_app_nosuchapp000", SPARE)
    assert isinstance(missing, LinkRefused) and missing.refusal is LinkRefusal.APP_NOT_FOUND
    assert missing.message == "SFVoPI app not found"
    assert emulator.numbers(ACME_KEY, EMPTY) == set() and not emulator.effective


async def test_a_link_already_made_is_found_not_refused(
    client: SfvopiClient, emulator: Emulator
) -> None:
    done = await client.link_number(ACME, APP, "+918000000001")
    assert isinstance(done, Linked) and done.found_linked
    emulator.script(ApiFault.APPLY_THEN_DROP, match="/numbers")
    again = await client.link_number(ACME, EMPTY, SPARE)
    assert isinstance(again, Linked) and again.found_linked
    assert emulator.effective[("link", EMPTY, SPARE)] == 1
    assert [c.method for c in emulator.calls[-2:]] == ["POST", "GET"]


async def test_a_bad_link_body_is_invalid(emulator: Emulator) -> None:
    async with httpx.AsyncClient() as http:
        for body in [b"not json", b'{"voip_number": 5}', b"[]", b'{"voip_number": "+0"}']:
            response = await http.post(
                f"{emulator.base_url}/sfvopi/apps/{EMPTY}/numbers",
                content=body,
                headers={"X-API-Key": ACME_KEY},
            )
            assert (response.status_code, response.json()) == (
                400,
                {"message": "Invalid request body"},
            )


async def test_create_issues_a_new_id(client: SfvopiClient, emulator: Emulator) -> None:
    created = await client.create_app(ACME, FIELDS)
    assert isinstance(created, Created)
    new = created.app.app_id
    assert new.startswith("sfv_app_") and len(new) == len("sfv_app_") + 12
    assert created.app.fields.name == "Support line" and created.app.status == "ACTIVE"
    assert (await client.list_apps(ACME))[0].app_id == new  # newest first
    assert emulator.numbers(ACME_KEY, new) == set()
    assert emulator.effective[("create", new, None)] == 1


async def test_a_create_that_may_have_applied_is_not_repeated(
    client: SfvopiClient, emulator: Emulator
) -> None:
    before = set(emulator.apps(ACME_KEY))
    emulator.script(ApiFault.APPLY_THEN_SERVER_ERROR, match="/apps")
    assert isinstance(await client.create_app(ACME, FIELDS), CreateUnknown)
    assert len(set(emulator.apps(ACME_KEY)) - before) == 1  # one app, not two


async def test_delete_and_unlink_return_numbers_to_available(
    client: SfvopiClient, emulator: Emulator
) -> None:
    await client.delete_app(ACME, "sfv_app_def789ghi012")
    await client.unlink_number(ACME, APP, "+918000000002")
    free = {n.voip_number for n in await client.available_numbers(ACME)}
    assert free == {SPARE, "+918000000002", "+918000000003", "+918000000004"}
    relinked = await client.link_number(ACME, EMPTY, "+918000000003")
    assert isinstance(relinked, Linked)
    with pytest.raises(AppNotFound):
        await client.list_app_numbers(ACME, "sfv_app_def789ghi012")


async def test_controls_seed_and_change_links_behind_the_bots_back(
    client: SfvopiClient, emulator: Emulator
) -> None:
    async with httpx.AsyncClient(base_url=emulator.control_url) as http:
        seeded = await http.post(
            "/seed",
            json={
                "org": "acme",
                "apps": {"sfv_app_seeded000001": ["+918000000006"]},
                "held": ["+918000000007"],
            },
        )
        linked = await http.post(
            "/link", json={"org": "acme", "app_id": APP, "voip_number": "+918000000007"}
        )
        moved = await http.post(
            "/link", json={"org": "acme", "app_id": APP, "voip_number": "+918000000006"}
        )
        unlinked = await http.post(
            "/unlink", json={"org": "acme", "app_id": APP, "voip_number": "+918000000001"}
        )
        numbers = (await http.get("/numbers")).json()
        refused = [
            await http.post("/link", json={"org": "nope", "app_id": APP, "voip_number": SPARE}),
            await http.post("/link", json={"org": "acme", "app_id": "x/y", "voip_number": SPARE}),
            await http.post("/link", json={"org": "acme", "app_id": APP, "voip_number": "1"}),
            await http.post("/seed", content=b"[]"),
            await http.post(
                "/link",
                json={"org": "acme", "app_id": "sfv_app_nosuchapp000", "voip_number": SPARE},
            ),
        ]
    assert [r.status_code for r in (seeded, linked, moved, unlinked)] == [200] * 4
    assert [r.status_code for r in refused] == [400] * 5
    assert emulator.numbers(ACME_KEY, "sfv_app_seeded000001") == set()
    now = {link.voip_number for link in await client.list_app_numbers(ACME, APP)}
    assert now == {"+918000000002", "+918000000006", "+918000000007"}
    assert numbers["acme"]["available"] == [SPARE]
    assert ACME_KEY not in str(numbers)
    assert not emulator.effective  # none of it was the bot's doing


async def test_a_link_behind_the_bots_back_shows_as_drift(
    client: SfvopiClient, emulator: Emulator
) -> None:
    filed = await read_preview(client, ACME, Action.DELETE, [Target(APP)])
    assert filed.apps[0].numbers == ("+918000000001", "+918000000002")
    emulator.link_behind("acme", APP, SPARE)
    before_running = await read_preview(client, ACME, Action.DELETE, [Target(APP)])
    assert changes(filed, before_running) == [f"{SPARE} is now linked to {APP}"]
    assert before_running.fingerprint() != filed.fingerprint()
    with socket.socket() as s:  # SFVoPI down: the preview says so, nothing is raised
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    async with SfvopiClient(f"http://127.0.0.1:{closed}/superfone", backoff=0.001) as down:
        unread = await read_preview(down, ACME, Action.DELETE, [Target(APP)])
    assert unread.unreadable == "could not connect" and unread.apps == ()
