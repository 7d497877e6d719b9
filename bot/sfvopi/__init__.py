"""The SFVoPI HTTP client; it knows nothing of approvals."""

from bot.sfvopi.client import *  # noqa: F403
