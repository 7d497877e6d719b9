"""The roles a member holds in an organization, ordered: each may do what those below may.

Its own module so the policy rules (bot/core/policy.py) and the org model both use it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

Groups = Mapping[str, frozenset[str]]
"""Slack user groups whose members are known (id → user ids); a group not in it is unknown yet."""


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
