"""Organizations as the workflow sees them: members' roles and each org's approval policy.

Built by `bot.config.orgfile` from the YAML file; nothing here reads files or the environment.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pydantic import SecretStr

from bot.core.models import Action, Request, Status

DEFAULT_APPROVALS = 1
DEFAULT_TTL_MINUTES = 60
DEFAULT_SELF_APPROVAL = False


class Role(enum.IntEnum):
    """What a member may do; each role may do everything the roles below it may."""

    VIEWER = 1
    REQUESTER = 2
    APPROVER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    def __str__(self) -> str:
        return self.label

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named `text` (case aside); ValueError naming the choices otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown role {text!r} (expected {', '.join(r.label for r in cls)})"
            ) from None


@dataclass(frozen=True)
class Policy:
    """How many distinct approvers each action needs, and how long a request may wait.

    Unspecified values default to one approval per action, 60 minutes, and no self-approval.
    """

    approvals: Mapping[Action, int] = field(
        default_factory=lambda: dict.fromkeys(Action, DEFAULT_APPROVALS), hash=False
    )
    ttl_minutes: int = DEFAULT_TTL_MINUTES
    self_approval: bool = DEFAULT_SELF_APPROVAL

    def approvals_needed(self, action: Action) -> int:
        return self.approvals.get(action, DEFAULT_APPROVALS)


@dataclass(frozen=True)
class Org:
    name: str
    api_key: SecretStr
    api_key_env: str
    approval_channel: str
    outcome_channel: str | None = None
    command_channels: tuple[str, ...] = ()
    policy: Policy = field(default_factory=Policy)
    members: Mapping[str, Role] = field(default_factory=dict, hash=False)

    def role_of(self, user: str) -> Role | None:
        return self.members.get(user)

    def allows_channel(self, channel_id: str) -> bool:
        """Whether commands for this org may be given in `channel_id` (no list: anywhere)."""
        return not self.command_channels or channel_id in self.command_channels

    def approvers(self) -> tuple[str, ...]:
        """Members who may approve or deny, in file order."""
        return tuple(user for user, role in self.members.items() if role >= Role.APPROVER)


@dataclass(frozen=True)
class OrgDirectory:
    orgs: Mapping[str, Org] = field(hash=False)

    def get(self, name: str) -> Org | None:
        return self.orgs.get(name)

    def memberships(self, user: str) -> list[tuple[Org, Role]]:
        """Every org `user` belongs to, with the role held there, in file order."""
        found: list[tuple[Org, Role]] = []
        for org in self.orgs.values():
            role = org.role_of(user)
            if role is not None:
                found.append((org, role))
        return found


def eligible_approvers(org: Org, request: Request) -> frozenset[str]:
    """Who may count towards this request's quorum under the org file in force now."""
    return frozenset(
        user
        for user, role in org.members.items()
        if role >= Role.APPROVER and (org.policy.self_approval or user != request.requester)
    )


def in_force(request: Request, org: Org | None) -> Request:
    """A pending request as the org file in force now sees it: approvals only from people who
    still hold the role, and the larger of the approvals it was filed with and the policy's."""
    if org is None or request.status is not Status.PENDING:
        return request
    eligible = eligible_approvers(org, request)
    return replace(
        request,
        approvals=tuple(a for a in request.approvals if a.approver in eligible),
        approvals_needed=max(request.approvals_needed, org.policy.approvals_needed(request.action)),
    )
