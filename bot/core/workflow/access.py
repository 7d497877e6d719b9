"""Which org a person acts in, and which requests they may see: another org's request does
not exist for them, and a role that may still come from an unread user group is
MembershipPending, never a refusal."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core import ids
from bot.core.models import Request
from bot.core.org import Groups, Org, Role
from bot.core.ports import RequestLookup
from bot.core.workflow.shared import Shared
from bot.errors import InvalidRequest, MembershipPending, NotAllowed, RequestNotFound
from bot.observability.context import bind


@dataclass(eq=False, repr=False)
class Access:
    """Memberships and visibility, from the org file in force and the user groups read."""

    shared: Shared
    store: RequestLookup

    def org_for(
        self, user: str, org: str | None, needs: Role, doing: str, groups: Groups | None = None
    ) -> Org:
        """The one org this user acts in, named or implied; refusals say what to do instead."""
        orgs = self.shared.orgs
        memberships = [(o, r) for o, r in orgs.memberships(user, groups) if r >= needs]
        if org is not None:
            for o, _role in memberships:
                if o.name == org:
                    return o
            known = orgs.get(org)
            role = known.role_of(user, groups) if known else None
            if known is not None:
                unless_pending(known, groups, needs)
            if role is None:
                raise NotAllowed(self.not_a_member(user, org))
            raise NotAllowed(f"you are a {role.label} in {org}; to {doing} you need {needs.label}")
        if not memberships:
            for some in orgs.orgs.values():
                unless_pending(some, groups, needs)
            raise NotAllowed(
                f"you are not a {needs.label} in any organization, so you cannot {doing}; "
                "ask an admin of your organization to add you"
            )
        if len(memberships) > 1:
            names = ", ".join(sorted(o.name for o, _ in memberships))
            raise InvalidRequest(f"you belong to several organizations ({names}): add --org NAME")
        return memberships[0][0]

    def not_a_member(self, user: str, org: str) -> str:
        """Names the user's own orgs (never others'), with the closest as a suggestion."""
        mine = [o.name for o, _ in self.shared.orgs.memberships(user)]
        message = f"you are not a member of an organization named `{ids.shown(org)}`"
        close = difflib.get_close_matches(org, mine, n=1, cutoff=0.6)
        if close:
            return f"{message}; did you mean `{close[0]}`?"
        if mine:
            return f"{message}; yours: {', '.join(mine)}"
        return message

    async def visible(
        self, request_id: int, user: str, needs: Role = Role.VIEWER, *, org: str | None = None
    ) -> tuple[Request, Org, Role]:
        """A request of one of this user's orgs (`org` only, for an API client); others'
        requests do not exist, as far as they know. Another org's request takes the very path
        of a missing one (the store is asked within the user's orgs), so nothing of that org,
        its user groups above all, is read. Within the user's own org, a role that may come
        from a user group not read yet is MembershipPending."""
        mine = await self.orgs_of(user, org)
        request = await self.store.get(request_id, orgs=mine.keys())
        found = mine.get(request.org) if request else None
        if request is None or found is None:
            raise RequestNotFound(f"there is no request #{request_id} in your organizations")
        groups = await self.shared.members([found])
        role = found.role_of(user, groups)
        if role is None or role < needs:
            unless_pending(found, groups, max(needs, role or Role.VIEWER))
        if role is None:  # a group just read no longer holds them
            raise RequestNotFound(f"there is no request #{request_id} in your organizations")
        bind(org=found.name)
        return request, found, role

    async def orgs_of(self, user: str, only: str | None = None) -> dict[str, Org]:
        """The orgs `user` belongs to (within `only`), decided from their side, whatever
        request they ask about: their own roles and the user groups already read. Someone
        who belongs nowhere yet waits briefly for groups never read (a group member just
        after a start) and, while one is still unread, is MembershipPending."""
        candidates = [o for o in self.shared.orgs.orgs.values() if only is None or o.name == only]
        found = _member_of(user, candidates, self.shared.known(candidates))
        if not found:
            groups = await self.shared.members(candidates)
            found = _member_of(user, candidates, groups)
            if not found:
                for some in candidates:
                    unless_pending(some, groups)
        return found

    def readable_orgs(self, user: str, org: str | None) -> Iterable[str]:
        """The orgs whose requests `user` may list (`org` alone, when named and theirs)."""
        orgs = self.shared.orgs
        groups = self.shared.known(orgs.orgs.values())
        names = [o.name for o, _ in orgs.memberships(user, groups)]
        if not names:
            for some in orgs.orgs.values():
                unless_pending(some, groups)
            raise NotAllowed("you are not a member of any organization")
        if org is not None:
            if org not in names:
                raise NotAllowed(self.not_a_member(user, org))
            return [org]
        return names


def unless_pending(org: Org, groups: Groups | None, needs: Role = Role.VIEWER) -> None:
    """MembershipPending when a user group of `org` granting `needs` is not read yet, so the
    answer may still change; its members are being read, so it works in a moment. (Neither
    the org nor the group is named: the person may belong to neither.)"""
    if org.unknown_groups(groups, needs):
        raise MembershipPending(
            "the bot is still reading Slack user groups' members, which roles may come from; "
            "try again in a moment"
        )


def _member_of(user: str, orgs: Iterable[Org], groups: Groups) -> dict[str, Org]:
    return {o.name: o for o in orgs if o.role_of(user, groups) is not None}
