"""A request whose preview drifts: acme's app with three numbers, and a fourth number another
SFVoPI user links to it behind the bot's back (the emulator's control, over HTTP)."""

from __future__ import annotations

import httpx

from bot.core.workflow import Workflow
from bot.sandbox.emulator import Emulator
from tests.support.emulator import ACME_KEY

__all__ = ["APP", "DELETE", "KEY", "NEW", "THREE", "file_delete", "link_behind", "seed"]

KEY = ACME_KEY
APP = "sfv_app_three0000001"
THREE = ("+918100000001", "+918100000002", "+918100000003")
NEW = "+918100000009"
DELETE = f"delete {APP} decommissioned, CHG-12"  # acme: two approvals


def seed(emulator: Emulator) -> None:
    """The app with its three numbers, and NEW in the account, linked nowhere yet."""
    emulator.add_app(KEY, APP, THREE)
    emulator.add_numbers(KEY, [NEW])


async def link_behind(emulator: Emulator, number: str, app: str = APP) -> None:
    """Another SFVoPI user links `number` to the app (the emulator's control, over HTTP)."""
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{emulator.control_url}/link",
            json={"org": "acme", "app_id": app, "voip_number": number},
        )
    assert answer.status_code == 200, answer.text


async def file_delete(workflow: Workflow, emulator: Emulator) -> int:
    """The app seeded and its delete filed by Alice through the Python API: its id."""
    seed(emulator)
    request = await workflow.request(
        requester="U0ALICE", action="delete", targets=[APP], reason="decommission, INC-9"
    )
    return request.id
