"""sfvopi-bot's Python API: file, approve and read requests under the same rules as Slack.

    async with open_workflow() as workflow:
        request = await workflow.request(requester=..., action="unlink", targets=[...], ...)
        done = await workflow.approve(request.id, approver=...)

Every refusal is a `Refusal` whose `.message` is fit to show a person; the whole error tree is
drawn in `bot.errors`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bot import errors
from bot.errors import *  # noqa: F403  (the error tree imports nothing: eager costs nothing)

if TYPE_CHECKING:
    from bot.config.orgfile import load_orgs, parse_orgs
    from bot.config.settings import Settings
    from bot.core.models import (
        Action,
        Approval,
        Event,
        Outcome,
        Request,
        Review,
        Status,
        Target,
        TargetState,
    )
    from bot.core.org import BreakGlass, Need, Org, OrgDirectory, Policy, Role
    from bot.core.workflow import Workflow
    from bot.runtime import open_workflow
    from bot.sfvopi import SfvopiClient
    from bot.store import Store

__all__ = [
    "Action",
    "Approval",
    "BreakGlass",
    "Event",
    "Need",
    "Org",
    "OrgDirectory",
    "Outcome",
    "Policy",
    "Request",
    "Review",
    "Role",
    "Settings",
    "SfvopiClient",
    "Status",
    "Store",
    "Target",
    "TargetState",
    "Workflow",
    "load_orgs",
    "open_workflow",
    "parse_orgs",
]
__all__ += errors.__all__  # the whole error tree, as bot.errors declares it
__all__.sort()

# Loaded on first use, so `import bot.core.ids` (or the sandbox) does not pull in the store,
# the HTTP client and the rest; `from bot import Workflow` works as usual.
_HOME: dict[str, str] = {
    "Action": "bot.core.models",
    "Approval": "bot.core.models",
    "BreakGlass": "bot.core.org",
    "Event": "bot.core.models",
    "Need": "bot.core.org",
    "Org": "bot.core.org",
    "OrgDirectory": "bot.core.org",
    "Outcome": "bot.core.models",
    "Policy": "bot.core.org",
    "Request": "bot.core.models",
    "Review": "bot.core.models",
    "Role": "bot.core.org",
    "Settings": "bot.config.settings",
    "SfvopiClient": "bot.sfvopi",
    "Status": "bot.core.models",
    "Store": "bot.store",
    "Target": "bot.core.models",
    "TargetState": "bot.core.models",
    "Workflow": "bot.core.workflow",
    "load_orgs": "bot.config.orgfile",
    "open_workflow": "bot.runtime",
    "parse_orgs": "bot.config.orgfile",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
