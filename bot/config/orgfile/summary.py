"""The organization file summarised for `check-config`: names key variables, never keys."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config.orgfile.problems import counted
from bot.core import ids
from bot.core.models import Action
from bot.core.org import BreakGlass, Org, OrgDirectory, Reminders, Role, StepPolicy

__all__ = ["summary"]


def summary(directory: OrgDirectory) -> str:
    """A human overview for `check-config`: names key variables, never keys."""
    lines: list[str] = []
    for org in directory.orgs.values():
        actions = ", ".join(
            f"{action.value} {counted(org.policy.approvals_needed(action), 'approval')}"
            for action in Action
        )
        self_approval = "allowed" if org.policy.self_approval else "not allowed"
        lines += [
            f"org {org.name}",
            f"  api key:          from {org.api_key_env}",
            f"  approval channel: {org.approval_channel}",
            f"  outcome channel:  {org.outcome_channel or 'none'}",
            f"  command channels: {', '.join(org.command_channels) or 'anywhere'}",
            f"  policy:           {actions}; requests expire after "
            f"{counted(org.policy.ttl_minutes, 'minute')}; self-approval {self_approval}",
            f"  decisions:        deny/cancel reason {org.policy.deny_reason.value}; "
            f"approve note {org.policy.approve_note.value}",
            *(
                f"  {action.value + ' reminders:':<18}"
                f"{_reminders(org.policy.reminders_for(action))}"
                for action in Action
            ),
            f"  break-glass:      {_break_glass(org.policy.break_glass)}",
            *(f"  {'rules:' if r.index == 1 else '':<18}{r.describe()}" for r in org.policy.rules),
            *(
                f"  {'limits:' if n == 0 else '':<18}{limit.describe()}"
                for n, limit in enumerate(org.policy.limits)
            ),
            f"  undo:             offered for {counted(org.policy.undo_window_hours, 'hour')} "
            "after a request ran",
            f"  members:          {_member_counts(org.members)}",
            f"  workflow steps:   {_steps(org.workflow_steps)}",
        ]
        if org.group_roles():
            lines.append(f"  user groups:      {_groups(org)}")
        if org.api_clients:
            lines.append(f"  api clients:      {_api_clients(org)}")
    return "\n".join(lines)


def _reminders(reminders: Reminders) -> str:
    remind, escalate = reminders.remind_after_minutes, reminders.escalate_after_minutes
    said = [f"remind after {counted(remind, 'minute')}"] if remind is not None else []
    if escalate is not None:
        said.append(
            f"escalate after {counted(escalate, 'minute')} to {', '.join(reminders.escalate_to)}"
        )
    return "; ".join(said) or "none"


def _api_clients(org: Org) -> str:
    """How many clients and who each acts as; never a token (only its variable's name)."""
    each = [
        f"{c.name} (token from {c.token_env}, as {c.acts_as}"
        + (f", {c.role.label})" if c.role is not None else ")")
        for c in org.api_clients
    ]
    return f"{len(each)}: {'; '.join(each)}"


def _break_glass(glass: BreakGlass | None) -> str:
    if glass is None:
        return "not allowed"
    roles = ", ".join(r.label for r in sorted(glass.roles))
    incident = "incident id required" if glass.require_incident else "incident id optional"
    return f"{roles}; {incident}; reviewed within {counted(glass.review_within_minutes, 'minute')}"


def _steps(steps: StepPolicy | None) -> str:
    if steps is None:
        return "off"
    return f"on; may name {', '.join(steps.requesters) or 'anyone with the requester role'}"


def _groups(org: Org) -> str:
    return ", ".join(f"{group} ({role})" for group, role in org.group_roles().items())


def _member_counts(everyone: Mapping[str, Role]) -> str:
    """People listed by id, by role (user groups are on a line of their own)."""
    members = {k: r for k, r in everyone.items() if not ids.USERGROUP_ID.fullmatch(k)}
    by_role = [
        counted(sum(1 for r in members.values() if r is role), role.label)
        for role in sorted(Role, reverse=True)
        if role in members.values()
    ]
    return f"{len(members)} ({', '.join(by_role)})" if by_role else "none"
