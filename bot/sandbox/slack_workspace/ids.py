"""The fake team's fixed identity and the id shapes Slack accepts."""

from __future__ import annotations

import re
from typing import Any

JSON = dict[str, Any]

TEAM_ID = "T0TEST"
TEAM_DOMAIN = "sfvopi-test"
TEAM_NAME = "SFVoPI Test"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0TEST"

CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
