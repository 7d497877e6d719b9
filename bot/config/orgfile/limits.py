"""A policy's `limits:` list: each limit read with its line, every problem found at once
(an unknown key, a count or window that is not one, a limit that repeats another)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.config.orgfile.problems import kind_of, show
from bot.config.orgfile.rules import MAX_NAME, RuleChecks
from bot.config.orgfile.yaml_lines import Map
from bot.core.limits import Limit, Per, parse_duration
from bot.core.roles import Role

__all__ = ["LimitChecks"]

_LIMIT_KEYS = ("name", "action", "per", "targets", "requests", "within", "over")
_OVER = {"refuse": False, "needs_admin": True}
_EXAMPLE = "{action: unlink, per: requester, targets: 20, within: 1h}"
MAX_WINDOW = 31 * 86400


class LimitChecks(RuleChecks):
    """Reads `policy: limits:` (beside the rules, whose checks of a name and an action it
    shares); a limit with a problem is reported and left out."""

    def limits(self, where: str, policy: Map) -> tuple[Limit, ...]:
        raw = self.optional_list(policy, "limits", f"{where}: policy limits", f"like [{_EXAMPLE}]")
        found: list[Limit] = []
        for index, body in enumerate(raw, start=1):
            limit = self.limit(where, index, body, policy.line_of("limits"))
            if limit is None:
                continue
            same = next((f for f in found if _same(f, limit)), None)
            if same is not None:
                self.problem(
                    limit.line,
                    f"{where}: policy {limit.label} counts what {same.label} counts already; "
                    "keep the stricter one",
                )
                continue
            found.append(limit)
        return tuple(found)

    def limit(self, where: str, index: int, body: Any, list_line: int) -> Limit | None:
        say = f"{where}: policy limit {index}"
        if not isinstance(body, Map):
            self.problem(list_line, f"{say} must be a mapping like {_EXAMPLE}, not {kind_of(body)}")
            return None
        before = len(self.problems)
        self.known_keys(body, _LIMIT_KEYS, say)
        per = self._per(say, body)
        counted = [key for key in ("targets", "requests") if key in body]
        if len(counted) != 1:
            self.problem(
                body.line,
                f"{say} must count either targets or requests (like targets: 20), "
                + ("not both" if counted else "and says neither"),
            )
        most = self._most(say, body, counted[0]) if len(counted) == 1 else None
        within = parse_duration(body.get("within"))
        if within is None or within > MAX_WINDOW:
            self.problem(
                body.line_of("within"),
                f"{say}: within must be a window like 30m, 1h or 1d (at most 31d), not "
                + (show(body.get("within")) if "within" in body else "missing"),
            )
        actions = self._actions(say, body)
        name = self._text(say, body, "name", MAX_NAME)
        over = body.get("over", "refuse")
        if not isinstance(over, str) or over not in _OVER:
            self.problem(
                body.line_of("over"),
                f"{say}: over must be refuse (the default) or needs_admin, not {show(over)}",
            )
        if len(self.problems) > before or per is None or most is None or within is None:
            return None
        return Limit(
            index=index,
            per=per,
            most=most,
            within=within,
            requests=counted == ["requests"],
            actions=actions,
            name=name,
            line=body.line,
            needs_admin=_OVER[over],
        )

    def admins_for_limits(
        self, where: str, limits: tuple[Limit, ...], members: Mapping[str, Role]
    ) -> None:
        """A limit letting an admin approve what is over it, in an org where nobody can be an
        admin (no admin listed, no user group granted the role): over it, nothing could run."""
        if any(r is Role.ADMIN for r in members.values()):
            return
        for limit in limits:
            if limit.needs_admin:
                self.problem(
                    limit.line,
                    f"{where}: policy {limit.label} says over: needs_admin, but no member is "
                    "an admin: nobody could approve a request over it",
                )

    def _per(self, say: str, body: Map) -> Per | None:
        value = body.get("per")
        try:
            return Per(value) if isinstance(value, str) else Per("")
        except ValueError:
            self.problem(
                body.line_of("per"),
                f"{say}: per must be requester or org, not "
                + (show(value) if "per" in body else "missing"),
            )
            return None

    def _most(self, say: str, body: Map, key: str) -> int | None:
        value = body.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(
                body.line_of(key),
                f"{say}: {key} must be a whole number of at least 1, not {show(value)}",
            )
            return None
        return value


def _same(a: Limit, b: Limit) -> bool:
    """Whether two limits count the very same thing over the same window."""
    return (a.per, a.requests, a.actions, a.within) == (b.per, b.requests, b.actions, b.within)
