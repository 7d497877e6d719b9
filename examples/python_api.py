"""File and approve a request from Python, without Slack: what an incident-response bot does.

Runs as is: it starts the SFVoPI emulator on loopback and keeps its database in a temp dir.
Against the real API, drop the emulator and pass your own base URL and org file.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from bot import Settings, Target, open_workflow
from bot.sandbox.emulator import Emulator  # the stand-in for SFVoPI; drop it for the real API

ORGS = """
organizations:
  acme:
    api_key_env: SFVOPI_API_KEY_ACME
    approval_channel: C0APPROVALS
    policy:
      unlink: {approvals: 1}
      delete: {approvals: 2}
    members:
      U0INCIDENTBOT: requester
      U0BOB: approver
      U0CAROL: approver
"""


async def main() -> None:
    os.environ.setdefault("SFVOPI_API_KEY_ACME", "example-key-not-real")
    async with Emulator() as emulator:
        emulator.add_key(os.environ["SFVOPI_API_KEY_ACME"], "acme")
        emulator.add_app(os.environ["SFVOPI_API_KEY_ACME"], "app_abc123", ["+918000000001"])
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "orgs.yml").write_text(ORGS)
            settings = Settings(
                base_url=emulator.base_url,
                database_url=f"sqlite:///{tmp}/sfvopi.db",
                orgs_file=Path(tmp) / "orgs.yml",
                _env_file=None,  # type: ignore[call-arg]
            )
            async with open_workflow(settings) as workflow:
                request = await workflow.request(
                    org="acme",
                    requester="U0INCIDENTBOT",
                    action="unlink",
                    targets=[Target("app_abc123", "+918000000001")],
                    reason="INC-4411: fraud on this DID",
                )
                print(f"request #{request.id}: {request.status}")

                done = await workflow.approve(request.id, approver="U0BOB")
                for t in done.targets:
                    print(f"request #{done.id}: {done.status}; {t.target}: {t.message}")


if __name__ == "__main__":
    asyncio.run(main())
