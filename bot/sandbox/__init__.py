"""The sandbox: a Slack stand-in, an SFVoPI emulator and a Slack-like page, all on loopback.

Never imported by the product's serving path (a test enforces it); `sfvopi-bot sandbox`
imports it lazily, and the Docker image leaves it out.
"""

from bot.sandbox.server import DEMO_APPS, Sandbox, SandboxUser, start_sandbox

__all__ = ["DEMO_APPS", "Sandbox", "SandboxUser", "start_sandbox"]
