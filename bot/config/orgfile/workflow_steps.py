"""Workflow Builder steps: off unless turned on, and whom they may name."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config.orgfile.problems import Checks, kind_of, show
from bot.config.orgfile.yaml_lines import Map
from bot.core import ids
from bot.core.org import Role, StepPolicy

__all__ = ["StepChecks"]

_STEP_KEYS = ("enabled", "requesters")


class StepChecks(Checks):
    """An org's `workflow_steps:` mapping."""

    def workflow_steps(
        self, where: str, body: Map, members: Mapping[str, Role] | None
    ) -> StepPolicy | None:
        """`workflow_steps: {enabled: true, requesters: [U0123ABCD, S0123ABCD]}`; absent or
        not enabled: no step files into the org."""
        say = f"{where}: workflow_steps"
        like = "{enabled: true, requesters: [U0123ABCD]}"
        raw = self.section(body, "workflow_steps", say, like, _STEP_KEYS)
        if raw is None:
            return None
        if "enabled" not in raw:
            self.problem(
                raw.line, f"{say} enabled is missing: say enabled: true to let steps file here"
            )
        enabled = self.true_or_false(where, raw, "enabled", "workflow_steps enabled", False)
        requesters = self.step_requesters(say, raw, members)
        return StepPolicy(requesters, line=raw.line) if enabled else None

    def step_requesters(
        self, say: str, raw: Map, members: Mapping[str, Role] | None
    ) -> tuple[str, ...]:
        """Whom a step may name: people who may ask for changes, and user groups (whose
        members' roles are Slack's to say, at run time; so are people's, once any group is)."""
        if "requesters" not in raw:
            return ()
        value, line = raw.get("requesters"), raw.line_of("requesters")
        if not isinstance(value, list) or not value:
            self.problem(
                line,
                f"{say} requesters must be a list like [U0123ABCD, S0123ABCD], not "
                f"{kind_of(value)} (leave it out to let steps name anyone with the requester role)",
            )
            return ()
        checked = members is not None and not any(ids.USERGROUP_ID.fullmatch(m) for m in members)
        found: list[str] = []
        for item in value:
            if not isinstance(item, str) or not (
                ids.USER_ID.fullmatch(item) or ids.USERGROUP_ID.fullmatch(item)
            ):
                self.problem(
                    line,
                    f"{say} requesters entry {show(item)} is not a Slack user id (like "
                    "U0123ABCD) nor a user group id (like S0123ABCD)",
                )
            elif (
                checked
                and ids.USER_ID.fullmatch(item)
                and (members or {}).get(item, Role.VIEWER) < Role.REQUESTER
            ):
                self.problem(
                    line,
                    f"{say} requesters entry {item} cannot ask for changes in this org: list "
                    "them under members as a requester (or above)",
                )
            elif item not in found:
                found.append(item)
        return tuple(found)
