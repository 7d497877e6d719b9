"""A worker process the recovery tests kill with SIGKILL while it executes a request."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.config.orgfile import load_orgs
from bot.core.workflow import Workflow
from bot.sfvopi import SfvopiClient
from bot.store import Store


async def main(db_url: str, schema: str, api_url: str, orgs_file: str, request_id: int) -> None:
    options = {"connect_args": {"server_settings": {"search_path": schema}}} if schema else {}
    store = Store(db_url, engine_options=options)
    await store.start()
    async with SfvopiClient(api_url, timeout=30, tries=1) as client:
        workflow = Workflow(store, load_orgs(Path(orgs_file)), client, lease_seconds=1.0)
        print("approving", flush=True)
        await workflow.approve(request_id, approver="U0BOB")


if __name__ == "__main__":
    db, schema, api, orgs, rid = sys.argv[1:6]
    asyncio.run(main(db, schema, api, orgs, int(rid)))
