"""What the workflow answers: a filing or an approval as stored (with the claim to run it, for
the one caller that must), and one decision as a front door renders it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.models import Request
from bot.core.org import Need
from bot.core.preview import StoredPreview
from bot.errors import Refusal


@dataclass(frozen=True)
class ApprovalResult:
    request: Request
    counted: bool
    claim: str | None

    @property
    def claimed(self) -> bool:
        return self.claim is not None


@dataclass(frozen=True)
class Outcome:
    """One decision, answered once: the form to open, the refusal to tell, or what it did.

    `request` is as the org file in force shows it (None when the person may not see it);
    `may_refresh` says whether the person is someone its cards' buttons are for (an approver
    of its org, or its requester): nothing about its cards changes for anyone else's click.
    With `claim`, this caller runs the request (Workflow.execute, given `request`), once.
    With `need`, `preview` is what the form shows of SFVoPI (None: not read yet), the one an
    approval submitted through it is bound to."""

    request: Request | None = None
    need: Need | None = None
    refusal: Refusal | None = None
    may_refresh: bool = False
    counted: bool = False
    claim: str | None = None
    preview: StoredPreview | None = None
