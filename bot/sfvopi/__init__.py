"""The SFVoPI HTTP client; it knows nothing of approvals."""

from bot.sfvopi.changes import (
    Created,
    CreateRefused,
    CreateUnknown,
    Linked,
    LinkRefusal,
    LinkRefused,
)
from bot.sfvopi.client import *  # noqa: F403
from bot.sfvopi.models import AppFields, AppInfo, AvailableNumber, NumberLink

__all__ = [  # noqa: F405
    "DEFAULT_BASE_URL",
    "AppFields",
    "AppInfo",
    "AvailableNumber",
    "CreateRefused",
    "CreateUnknown",
    "Created",
    "Deleted",
    "LinkRefusal",
    "LinkRefused",
    "Linked",
    "NumberLink",
    "SfvopiClient",
]
