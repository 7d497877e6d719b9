"""User groups (`S…`) and their members, as `usergroups.users.list` answers."""

from __future__ import annotations

from bot.sandbox.slack_standin.base import StandinBase
from bot.sandbox.slack_standin.params import Refused, as_str
from bot.sandbox.slack_workspace import JSON


class UserGroups(StandinBase):
    def __init__(self) -> None:
        super().__init__()
        self.usergroups: dict[str, list[str]] = {}  # user group id → its members' ids

    def reset(self) -> None:
        self.usergroups.clear()
        super().reset()

    def set_usergroup(self, group: str, users: list[str]) -> None:
        """A user group (`S…`) with these members, as `usergroups.users.list` answers; setting
        it again changes its members, as an admin editing the group does."""
        self.usergroups[group] = list(users)

    def delete_usergroup(self, group: str) -> None:
        """Gone: listing it is refused with `no_such_subteam`."""
        self.usergroups.pop(group, None)

    def _usergroups_users_list(self, params: JSON) -> JSON:
        group = as_str(params.get("usergroup"))
        if group not in self.usergroups:
            raise Refused("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group])}
