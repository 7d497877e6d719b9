"""The `/sfvopi` grammar: text in, a typed command out, or a message saying what is wrong."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Any

from bot.core import ids
from bot.core.break_glass import incident_id, looks_like_incident
from bot.core.models import Action, Target
from bot.core.windows import parse_at
from bot.errors import InvalidId, InvalidRequest, ParseError

MAX_TEXT = 4000


@dataclass(frozen=True)
class Command:
    name: str
    org: str | None = None
    action: Action | None = None
    targets: tuple[Target, ...] = field(default_factory=tuple)
    reason: str = ""
    request_id: int | None = None
    again: bool = False
    break_glass: str | None = None  # an incident id, "" for none given, None: not break-glass
    at: str | None = None  # --at: not run before this time (checked by the workflow)


SIMPLE = {"help", "pending", "history", "whoami"}
BY_ID = {"status", "cancel"}
COMMANDS = (*sorted(SIMPLE), *sorted(BY_ID), "unlink", "delete", "undo", "policy")
END_OF_TARGETS = "--"
AGAIN = "--again"
BREAK_GLASS = "--break-glass"
AT = "--at"  # run no earlier than: `--at 2026-12-08T02:00+05:30`
NUMBER_PUNCTUATION = str.maketrans("", "", "-().")


def parse(text: str) -> Command:
    """`[--org NAME] command [--again] [--org NAME] targets… [--] reason…`: options stand
    before the targets or nowhere; the reason starts at the first word that is not a target,
    or after `--`, and from there on everything is reason, whatever it looks like.
    `--break-glass [INCIDENT]` may stand with the options or right after the targets."""
    if len(text) > MAX_TEXT:
        raise ParseError(f"that command is too long ({len(text)} characters; at most {MAX_TEXT})")
    tokens = text.split()
    org, tokens = _take_org(tokens)
    if not tokens:
        return Command("help", org=org)
    name, args = tokens[0].lower(), tokens[1:]
    if org is None:
        org, args = _take_org(args)
    if name == "policy":
        return _policy(args, org)
    if name in SIMPLE:
        if args:
            raise ParseError(f"`{name}` takes no arguments")
        return Command(name, org=org)
    if name in BY_ID:
        # `cancel` may say why after the number (a policy may require it); `status` takes none
        if not args or (len(args) != 1 and name != "cancel"):
            raise ParseError(f"`{name}` needs one request number, e.g. `{name} 17`")
        try:
            request_id = ids.request_id(args[0])
        except InvalidId as exc:
            raise ParseError(exc.message) from None
        return Command(name, org=org, request_id=request_id, reason=" ".join(args[1:]))
    if name == "undo":
        return _undo(args, org)
    if name in ("unlink", "delete"):
        again, glass, at = False, None, None
        while args:
            if args[0] == AGAIN and not again:
                again, args = True, args[1:]
            elif glass is None and _is_glass(args[0]):
                glass, args = _take_glass(args)
            elif _is_at(args[0]):
                if at is not None:
                    raise ParseError(f"`{AT}` is given twice")
                at, args = _take_at(args)
            elif org is None and (args[0] == "--org" or args[0].startswith("--org=")):
                org, args = _take_org(args)
            else:
                break
        parsed = _targeted(name, args, org)
        if glass is not None and parsed.break_glass is not None:
            raise ParseError(f"`{BREAK_GLASS}` is given twice")
        glass = glass if glass is not None else parsed.break_glass
        if at is not None and parsed.at is not None:
            raise ParseError(f"`{AT}` is given twice")
        return replace(parsed, again=again, break_glass=glass, at=at or parsed.at)
    close = difflib.get_close_matches(name, COMMANDS, n=1, cutoff=0.6)
    hint = f"; did you mean `{close[0]}`?" if close else "; `/sfvopi help` lists them"
    raise ParseError(f"unknown command `{_shown(tokens[0])}`{hint}")


def _take_org(tokens: list[str]) -> tuple[str | None, list[str]]:
    """`--org NAME` or `--org=NAME` as the first words; anywhere else it is not an option."""
    if not tokens:
        return None, tokens
    first = tokens[0]
    if first == "--org":
        if len(tokens) < 2:
            raise ParseError("`--org` needs an organization name")
        return tokens[1], tokens[2:]
    if first.startswith("--org="):
        name = first.split("=", 1)[1]
        if not name:
            raise ParseError("`--org` needs an organization name")
        return name, tokens[1:]
    return None, tokens


def _is_glass(token: str) -> bool:
    return token == BREAK_GLASS or token.startswith(BREAK_GLASS + "=")


def _take_glass(tokens: list[str]) -> tuple[str, list[str]]:
    """`--break-glass INC-4411`, `--break-glass=INC-4411`, or `--break-glass` alone (no
    incident id: the org's policy says whether one is needed)."""
    first, rest = tokens[0], tokens[1:]
    if first.startswith(BREAK_GLASS + "="):
        typed = first.split("=", 1)[1]
    elif rest and looks_like_incident(rest[0]):
        typed, rest = rest[0], rest[1:]
    else:
        typed = ""
    try:
        return incident_id(typed), rest
    except InvalidRequest as exc:
        raise ParseError(exc.message) from None


def _numbers(rest: list[str]) -> list[str]:
    """Numbers in E.164, each starting with `+`; spaces, dashes, dots and brackets inside one
    (`+91 8000-000 002`) are allowed and dropped."""
    numbers: list[str] = []
    while rest and (rest[0].startswith("+") or rest[0][:1].isdigit()):
        words = [rest.pop(0)]
        while rest and rest[0][:1] in "0123456789(" and not rest[0].startswith("+"):
            words.append(rest.pop(0))
        typed = " ".join(words)
        number = typed.replace(" ", "").translate(NUMBER_PUNCTUATION)
        if not number.startswith("+"):
            raise ParseError(
                f"`{_shown(typed)}` is not a phone number in E.164 form: start it with `+` and "
                "the country code, like `+918000000001`"
            )
        try:
            numbers.append(ids.phone_number(number))
        except InvalidId:
            raise ParseError(
                f"`{_shown(typed)}` is not a phone number in E.164 form: expected `+`, the "
                "country code and 7 to 15 digits in all, like `+918000000001`"
            ) from None
    return numbers


def _policy(args: list[str], org: str | None) -> Command:
    """`policy` (the org's rules) or `policy unlink|delete TARGETS…` (which rule applies)."""
    if not args:
        return Command("policy", org=org)
    rest = list(args[1:])
    action = args[0].lower()
    if action == "unlink":
        targets = _unlink_targets(rest)
    elif action == "delete":
        targets = _delete_targets(rest)
    else:
        raise ParseError(
            "`policy` lists your organization's rules, or says which applies to a request: "
            "`policy delete sfv_app_abc123` or `policy unlink +918000000001 app_abc123`"
        )
    if rest:
        raise ParseError(
            f"`policy {action}` takes only the targets (no reason, no options); "
            f"`{_shown(rest[0])}` is not one"
        )
    return Command("policy", org=org, action=Action(action), targets=targets)


def _targeted(name: str, args: list[str], org: str | None) -> Command:
    """`unlink` or `delete`: its targets, then what follows them (`_tail`)."""
    rest = list(args)
    targets = _unlink_targets(rest) if name == "unlink" else _delete_targets(rest)
    return Command(name, org=org, action=Action(name), targets=targets, **_tail(rest, name))


def _unlink_targets(rest: list[str]) -> tuple[Target, ...]:
    """The numbers, then the app id, taken from the front of `rest`."""
    numbers = _numbers(rest)
    if not numbers:
        raise ParseError(
            "`unlink` needs at least one phone number in E.164 form, like `+918000000001`"
        )
    if not rest or rest[0] == END_OF_TARGETS:
        raise ParseError("`unlink` needs the app id after the numbers")
    try:
        app = ids.app_id(rest.pop(0))
    except InvalidId as exc:
        raise ParseError(exc.message) from None
    return tuple(Target(app, n) for n in numbers)


def _delete_targets(rest: list[str]) -> tuple[Target, ...]:
    """The app ids, taken from the front of `rest`."""
    apps: list[str] = []
    while rest and ids.looks_like_app_id(rest[0]):
        try:
            apps.append(ids.app_id(rest.pop(0)))
        except InvalidId as exc:
            raise ParseError(exc.message) from None
    if not apps:
        if rest and rest[0] != END_OF_TARGETS:
            raise ParseError(
                f"`{_shown(rest[0])}` is not an app id: `delete` takes app ids like "
                "`sfv_app_abc123xyz456`, then a reason"
            )
        raise ParseError("`delete` needs at least one app id, then a reason")
    return tuple(Target(a) for a in apps)


def _undo(args: list[str], org: str | None) -> Command:
    """`undo 17 [--break-glass [INCIDENT]] [reason…]`: the reason is optional (the undo names
    the request it takes back)."""
    if not args:
        raise ParseError("`undo` needs the number of the request to undo, e.g. `undo 17`")
    try:
        request_id = ids.request_id(args[0])
    except InvalidId as exc:
        raise ParseError(exc.message) from None
    rest, glass = args[1:], None
    if rest and _is_glass(rest[0]):
        glass, rest = _take_glass(rest)
    if rest and rest[0] == END_OF_TARGETS:
        rest = rest[1:]
    return Command("undo", org=org, request_id=request_id, reason=" ".join(rest), break_glass=glass)


def _tail(rest: list[str], name: str) -> dict[str, Any]:
    """What follows the targets: `--break-glass [INCIDENT]` and `--at TIME`, in either order,
    then the reason."""
    glass: str | None = None
    at: str | None = None
    while rest and ((glass is None and _is_glass(rest[0])) or (at is None and _is_at(rest[0]))):
        if _is_at(rest[0]):
            at, rest = _take_at(rest)
        else:
            glass, rest = _take_glass(rest)
    if rest and _is_at(rest[0]):
        raise ParseError(f"`{AT}` is given twice")
    return {"reason": _reason(rest, name), "break_glass": glass, "at": at}


def _is_at(token: str) -> bool:
    return token == AT or token.startswith(AT + "=")


def _take_at(tokens: list[str]) -> tuple[str, list[str]]:
    """`--at 2026-12-08T02:00+05:30` or `--at=…`: a date, a time and its offset (a bare time
    would be read in whose zone?); whether it may be asked is the workflow's to say."""
    first, rest = tokens[0], tokens[1:]
    if first.startswith(AT + "="):
        typed = first.split("=", 1)[1]
    elif rest:
        typed, rest = rest[0], rest[1:]
    else:
        typed = ""
    if parse_at(typed) is None:
        raise ParseError(
            f"`{AT}` needs a time like 2026-12-08T02:00+05:30 (a date, a time and its offset "
            f"from UTC, or Z), not `{_shown(typed)}`"
            if typed
            else f"`{AT}` needs a time like 2026-12-08T02:00+05:30"
        )
    return typed, rest


def _reason(rest: list[str], name: str) -> str:
    if rest and rest[0] == END_OF_TARGETS:
        rest = rest[1:]
    reason = " ".join(rest)
    if not reason:
        raise ParseError(f"`{name}` needs a reason at the end, e.g. the incident or ticket number")
    return reason


def _shown(token: str) -> str:
    return ids.shown(token, 30)
