"""Problems in the organization file: collected with their lines, never the first alone, and
the words that describe a stranger's value in them (its kind, a short rendering)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from bot.config.orgfile.yaml_lines import Map

__all__ = ["ENV_VAR", "Checks", "counted", "kind_of", "not_channel", "show"]

ENV_VAR = re.compile(r"[A-Z_][A-Z0-9_]*")


class Checks:
    """What every part of the check shares: the problems found so far, and how keys are
    checked (unknown, duplicated, a whole number, true or false, an optional list)."""

    def __init__(self, source: str, environ: Mapping[str, str]) -> None:
        self.source = source
        self.environ = environ
        self.problems: list[tuple[int, str]] = []
        self.api_tokens: list[tuple[SecretStr, str, int]] = []  # (token, client, line)

    def problem(self, line: int, message: str) -> None:
        self.problems.append((line, message))

    def from_environment(
        self, where: str, body: Map, key: str, holds: tuple[str, str], example: str
    ) -> str | None:
        """The secret in the environment variable that `key` names (stripped): the file names
        the variable, never the secret (`holds`: what it is, and its short name). None, with
        the problem, when it cannot be had."""
        variable, line = body.get(key), body.line_of(key)
        if variable is None:
            self.problem(
                line,
                f"{where}: {key} is missing: name the environment variable that holds {holds[0]}",
            )
            return None
        if not isinstance(variable, str) or not ENV_VAR.fullmatch(variable):
            self.problem(
                line,
                f"{where}: {key} must name an environment variable, like {example} (upper-case "
                f"letters, digits and '_'), not hold the {holds[1]}",
            )
            return None
        value = (self.environ.get(variable) or "").strip()
        if variable not in self.environ:
            self.problem(line, f"{where}: {key} {variable} is not set")
            return None
        if not value:
            self.problem(line, f"{where}: {key} {variable} is set but empty")
            return None
        return value

    def unknown_keys(self, mapping: Map, known: tuple[str, ...], prefix: str, what: str) -> None:
        for key in mapping:
            if key in known:
                continue
            line = mapping.line_of(key)
            if key == "api_key":
                self.problem(
                    line,
                    f"{prefix}unknown key 'api_key': the key itself never goes in this file; "
                    "put it in an environment variable and name that variable with api_key_env",
                )
                continue
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"expected {', '.join(known)}"
            self.problem(line, f"{prefix}unknown {what} {show(key)} ({hint})")

    def duplicate_keys(self, mapping: Map, prefix: str, what: str) -> None:
        for key, line in mapping.duplicates:
            self.problem(line, f"{prefix}{key} {what} (first on line {mapping.line_of(key)})")

    def known_keys(self, body: Map, known: tuple[str, ...], say: str) -> None:
        """Says each key of `body` that is not one of `known`, or is given twice."""
        self.unknown_keys(body, known, f"{say}: ", "key")
        self.duplicate_keys(body, f"{say}: ", "given more than once")

    def section(
        self, body: Map, key: str, say: str, like: str, known: tuple[str, ...]
    ) -> Map | None:
        """The optional sub-mapping `key` of `body` with its keys checked (`say` names it in
        messages, `like` shows one); None when absent, or (said) when not a mapping."""
        if key not in body:
            return None
        raw = body.get(key)
        if not isinstance(raw, Map):
            self.problem(
                body.line_of(key), f"{say} must be a mapping like {like}, not {kind_of(raw)}"
            )
            return None
        self.unknown_keys(raw, known, f"{say}: ", "key")
        self.duplicate_keys(raw, f"{say} ", "given more than once")
        return raw

    def whole_number(
        self, where: str, mapping: Map, key: str, what: str, default: int, most: int | None = None
    ) -> int:
        value = mapping.get(key, default)
        line = mapping.line_of(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(line, f"{where}: {what} must be a whole number, not {show(value)}")
            return default
        if value < 1:
            self.problem(line, f"{where}: {what} must be at least 1, not {value}")
            return default
        if most is not None and value > most:
            self.problem(line, f"{where}: {what} must be at most {most}, not {value}")
            return default
        return value

    def true_or_false(self, where: str, mapping: Map, key: str, what: str, default: bool) -> bool:
        value = mapping.get(key, default)
        if not isinstance(value, bool):
            self.problem(
                mapping.line_of(key), f"{where}: {what} must be true or false, not {show(value)}"
            )
            return default
        return value

    def optional_list(self, body: Map, key: str, say: str, like: str) -> list[Any]:
        """`body[key]` as a list: empty when absent, or (said) when not a list."""
        value = body.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(body.line_of(key), f"{say} must be a list {like}, not {kind_of(value)}")
            return []
        return value


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def not_channel(value: Any) -> str:
    return (
        f"{show(value)} is not a Slack channel id (expected like C0123ABCD; channel names do "
        "not work: copy the id from the channel's details)"
    )


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def show(value: Any, limit: int = 40) -> str:
    """A short, single-line rendering of a value from the file, for messages."""
    text = repr(value) if isinstance(value, str) else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
