"""Members: Slack user ids and user groups with their roles; and whether the policy can be met
by the people listed."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config.orgfile.problems import Checks, counted, kind_of, show
from bot.config.orgfile.undo_policy import written
from bot.config.orgfile.yaml_lines import Map
from bot.core import ids
from bot.core.org import Policy, Role

__all__ = ["MemberChecks"]


class MemberChecks(Checks):
    """An org's `members:` mapping, and the policy against it."""

    def members(self, where: str, body: Map) -> dict[str, Role] | None:
        raw = body.get("members")
        line = body.line_of("members")
        if raw is None:
            self.problem(
                line,
                f"{where}: members is missing: map Slack user ids to roles, like U0123ABCD: "
                "approver",
            )
            return None
        if not isinstance(raw, Map):
            self.problem(
                line, f"{where}: members must map Slack user ids to roles, not {kind_of(raw)}"
            )
            return None
        self.duplicate_keys(raw, f"{where}, member ", "listed more than once")
        before = len(self.problems)
        members: dict[str, Role] = {}
        for user, role_text in raw.items():
            member_line = raw.line_of(user)
            member = f"{where}, member {user}"
            if not isinstance(user, str) or not (
                ids.USER_ID.fullmatch(user) or ids.USERGROUP_ID.fullmatch(user)
            ):
                self.problem(
                    member_line,
                    f"{member}: {show(user)} is not a Slack user id (expected like U0123ABCD; "
                    "copy it from the person's profile: ⋮ → Copy member ID) nor a user group "
                    "id (like S0123ABCD)",
                )
                continue
            if not isinstance(role_text, str):
                self.problem(
                    member_line,
                    f"{member}: role must be one of "
                    f"{', '.join(r.label for r in Role)}, not {kind_of(role_text)}",
                )
                continue
            try:
                members[user] = Role.parse(role_text)
            except ValueError as exc:
                self.problem(member_line, f"{member}: {exc}")
        return members if len(self.problems) == before else None

    def satisfiable(
        self, where: str, body: Map, policy: Policy, members: Mapping[str, Role]
    ) -> None:
        """Report any action no request could ever get enough approvals for."""
        if any(ids.USERGROUP_ID.fullmatch(m) for m in members):
            return  # how many people a user group holds is Slack's to say, at run time
        approvers = [user for user, role in members.items() if role >= Role.APPROVER]
        requesters = [user for user, role in members.items() if role >= Role.REQUESTER]
        raw_policy = body.get("policy")
        for action in written(raw_policy):
            if not policy.count_reached(action):
                continue  # only its rules' counts apply, each checked (rules_satisfiable)
            needed = policy.approvals_needed(action)
            line = body.line_of("policy")
            if isinstance(raw_policy, Map):
                line = raw_policy.line_of(action.value)
            wanted = f"{where}: policy needs {counted(needed, 'approver')} for {action.value}"
            if needed > len(approvers):
                if approvers:
                    can = (
                        f"only {counted(len(approvers), 'member')} ({', '.join(approvers)}) "
                        f"can approve"
                    )
                else:
                    can = "no member can approve"
                self.problem(line, f"{wanted} but {can}")
            elif (
                not policy.self_approval
                and needed == len(approvers)
                and all(user in approvers for user in requesters)
            ):
                self.problem(
                    line,
                    f"{wanted} but a request can get at most {counted(needed - 1, 'approval')}: "
                    "self_approval is false and everyone who can request is one of the "
                    f"approvers ({', '.join(approvers)})",
                )
