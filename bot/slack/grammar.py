"""The `/sfvopi` grammar: text in, a typed command out, or a message saying what is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core import ids
from bot.core.models import Action, Target
from bot.errors import InvalidId, ParseError

MAX_TEXT = 4000


@dataclass(frozen=True)
class Command:
    name: str
    org: str | None = None
    action: Action | None = None
    targets: tuple[Target, ...] = field(default_factory=tuple)
    reason: str = ""
    request_id: int | None = None


SIMPLE = {"help", "pending", "history", "whoami"}
BY_ID = {"status", "cancel"}


def parse(text: str) -> Command:
    if len(text) > MAX_TEXT:
        raise ParseError(f"that command is too long ({len(text)} characters; at most {MAX_TEXT})")
    tokens = text.split()
    org, tokens = _take_org(tokens)
    if not tokens:
        return Command("help", org=org)
    name, args = tokens[0].lower(), tokens[1:]
    if name in SIMPLE:
        if args:
            raise ParseError(f"`{name}` takes no arguments")
        return Command(name, org=org)
    if name in BY_ID:
        if len(args) != 1:
            raise ParseError(f"`{name}` needs one request number, e.g. `{name} 17`")
        try:
            return Command(name, org=org, request_id=ids.request_id(args[0]))
        except InvalidId as exc:
            raise ParseError(str(exc)) from None
    if name == "unlink":
        return _unlink(args, org)
    if name == "delete":
        return _delete(args, org)
    raise ParseError(f"unknown command `{_shown(tokens[0])}`")


def _take_org(tokens: list[str]) -> tuple[str | None, list[str]]:
    """`--org NAME` (or `--org=NAME`) may stand anywhere; the first one counts."""
    for i, token in enumerate(tokens):
        if token == "--org":  # noqa: S105
            if i + 1 >= len(tokens):
                raise ParseError("`--org` needs an organization name")
            return tokens[i + 1], tokens[:i] + tokens[i + 2 :]
        if token.startswith("--org="):
            name = token.split("=", 1)[1]
            if not name:
                raise ParseError("`--org` needs an organization name")
            return name, tokens[:i] + tokens[i + 1 :]
    return None, tokens


def _unlink(args: list[str], org: str | None) -> Command:
    numbers: list[str] = []
    rest = list(args)
    while rest and (rest[0].startswith("+") or rest[0].isdigit()):
        try:
            numbers.append(ids.phone_number(rest.pop(0)))
        except InvalidId as exc:
            raise ParseError(str(exc)) from None
    if not numbers:
        raise ParseError(
            "`unlink` needs at least one phone number in E.164 form, like `+918000000001`"
        )
    if not rest:
        raise ParseError("`unlink` needs the app id after the numbers")
    try:
        app = ids.app_id(rest.pop(0))
    except InvalidId as exc:
        raise ParseError(str(exc)) from None
    reason = _reason(rest, "unlink")
    return Command(
        "unlink",
        org=org,
        action=Action.UNLINK,
        targets=tuple(Target(app, n) for n in numbers),
        reason=reason,
    )


def _delete(args: list[str], org: str | None) -> Command:
    apps: list[str] = []
    rest = list(args)
    while rest and ids.looks_like_app_id(rest[0]):
        try:
            apps.append(ids.app_id(rest.pop(0)))
        except InvalidId as exc:
            raise ParseError(str(exc)) from None
    if not apps:
        if rest:
            raise ParseError(
                f"`{_shown(rest[0])}` is not an app id: `delete` takes app ids like "
                "`sfv_app_abc123xyz456`, then a reason"
            )
        raise ParseError("`delete` needs at least one app id, then a reason")
    return Command(
        "delete",
        org=org,
        action=Action.DELETE,
        targets=tuple(Target(a) for a in apps),
        reason=_reason(rest, "delete"),
    )


def _reason(rest: list[str], name: str) -> str:
    reason = " ".join(rest)
    if not reason:
        raise ParseError(f"`{name}` needs a reason at the end, e.g. the incident or ticket number")
    return reason


def _shown(token: str) -> str:
    return ids.shown(token, 30)
