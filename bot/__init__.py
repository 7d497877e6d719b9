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
    from bot.errors import (
        AlreadyPending,
        ApiNotFound,
        ApiProblem,
        ApiServerError,
        AppNotFound,
        AuditSinkError,
        BotError,
        Busy,
        ConfigError,
        Conflict,
        InvalidId,
        InvalidKey,
        InvalidRequest,
        KeyReused,
        LostClaim,
        MembershipPending,
        NotAllowed,
        NumberNotLinked,
        OrgFileError,
        OverLimit,
        ParseError,
        PreviewChanged,
        RecordingDelayed,
        Refusal,
        RejectedRequest,
        RequestNotFound,
        SchemaTooNew,
        SfvopiError,
        StartupError,
        StoreError,
        TransportFailure,
        Unauthorized,
        UnexpectedResponse,
    )
    from bot.runtime import open_workflow
    from bot.sfvopi import SfvopiClient
    from bot.store import Store

__all__ = [
    "Action",
    "AlreadyPending",
    "ApiNotFound",
    "ApiProblem",
    "ApiServerError",
    "AppNotFound",
    "Approval",
    "AuditSinkError",
    "BotError",
    "BreakGlass",
    "Busy",
    "ConfigError",
    "Conflict",
    "Event",
    "InvalidId",
    "InvalidKey",
    "InvalidRequest",
    "KeyReused",
    "LostClaim",
    "MembershipPending",
    "Need",
    "NotAllowed",
    "NumberNotLinked",
    "Org",
    "OrgDirectory",
    "OrgFileError",
    "Outcome",
    "OverLimit",
    "ParseError",
    "Policy",
    "PreviewChanged",
    "RecordingDelayed",
    "Refusal",
    "RejectedRequest",
    "Request",
    "RequestNotFound",
    "Review",
    "Role",
    "SchemaTooNew",
    "Settings",
    "SfvopiClient",
    "SfvopiError",
    "StartupError",
    "Status",
    "Store",
    "StoreError",
    "Target",
    "TargetState",
    "TransportFailure",
    "Unauthorized",
    "UnexpectedResponse",
    "Workflow",
    "load_orgs",
    "open_workflow",
    "parse_orgs",
]

# Loaded on first use, so `import bot.core.ids` (or the sandbox) does not pull in the store,
# the HTTP client and the rest; `from bot import Workflow` works as usual.
_HOME: dict[str, str] = {
    "AlreadyPending": "bot.errors",
    "Action": "bot.core.models",
    "ApiNotFound": "bot.errors",
    "ApiProblem": "bot.errors",
    "ApiServerError": "bot.errors",
    "AppNotFound": "bot.errors",
    "Approval": "bot.core.models",
    "AuditSinkError": "bot.errors",
    "BotError": "bot.errors",
    "Busy": "bot.errors",
    "BreakGlass": "bot.core.org",
    "ConfigError": "bot.errors",
    "Conflict": "bot.errors",
    "Event": "bot.core.models",
    "InvalidId": "bot.errors",
    "InvalidKey": "bot.errors",
    "InvalidRequest": "bot.errors",
    "KeyReused": "bot.errors",
    "LostClaim": "bot.errors",
    "MembershipPending": "bot.errors",
    "Need": "bot.core.org",
    "NotAllowed": "bot.errors",
    "NumberNotLinked": "bot.errors",
    "Org": "bot.core.org",
    "OrgDirectory": "bot.core.org",
    "OrgFileError": "bot.errors",
    "Outcome": "bot.core.models",
    "OverLimit": "bot.errors",
    "ParseError": "bot.errors",
    "PreviewChanged": "bot.errors",
    "Policy": "bot.core.org",
    "RecordingDelayed": "bot.errors",
    "Refusal": "bot.errors",
    "RejectedRequest": "bot.errors",
    "Request": "bot.core.models",
    "RequestNotFound": "bot.errors",
    "Review": "bot.core.models",
    "Role": "bot.core.org",
    "SchemaTooNew": "bot.errors",
    "Settings": "bot.config.settings",
    "SfvopiClient": "bot.sfvopi",
    "SfvopiError": "bot.errors",
    "StartupError": "bot.errors",
    "Status": "bot.core.models",
    "Store": "bot.store",
    "StoreError": "bot.errors",
    "Target": "bot.core.models",
    "TargetState": "bot.core.models",
    "TransportFailure": "bot.errors",
    "Unauthorized": "bot.errors",
    "UnexpectedResponse": "bot.errors",
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
