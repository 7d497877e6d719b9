"""Who and what a log line is about (request id, org, actor), carried by a context variable.

Set where a command, a click or a sweep takes up a request; every line logged meanwhile, in
that task and the tasks it starts, carries them (see `bot.observability.logs`). Standard
library only, so `bot.core` may use it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Concatenate, ParamSpec, TypeVar

__all__ = ["FIELDS", "bind", "current", "log_context", "request_scope"]

FIELDS = ("request_id", "org", "actor")

_NONE: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("sfvopi_log_context", default=_NONE)

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")


def current() -> Mapping[str, str]:
    """The fields known here, e.g. {"request_id": "17", "org": "acme"}."""
    return _context.get()


def _merged(fields: Mapping[str, object | None]) -> dict[str, str]:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    merged = dict(_context.get())
    merged.update((k, str(v)) for k, v in fields.items() if v is not None and v != "")
    return merged


def bind(**fields: object | None) -> None:
    """Adds fields until the enclosing `log_context` ends (or, outside one, for this task)."""
    _context.set(_merged(fields))


@contextlib.contextmanager
def log_context(**fields: object | None) -> Iterator[None]:
    """Fields for the lines logged inside the block; whatever was bound within ends with it."""
    token = _context.set(_merged(fields))
    try:
        yield
    finally:
        _context.reset(token)


def request_scope(
    method: Callable[Concatenate[S, int, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, int, P], Coroutine[Any, Any, T]]:
    """For a method whose first argument is a request id: its lines carry that id."""

    @functools.wraps(method)
    async def scoped(self: S, request_id: int, /, *args: P.args, **kwargs: P.kwargs) -> T:
        with log_context(request_id=request_id):
            return await method(self, request_id, *args, **kwargs)

    return scoped
