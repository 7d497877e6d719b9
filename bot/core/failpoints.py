"""Named crash points, for the kill -9 tests (tests/reliability/test_kill9.py).

A crash test must stop the bot at an exact step (after the claim, before the API call; after
the API answered, before the result is stored; …), and a timer or a signal from outside cannot
land there reliably. So the code calls `reached("name")` at those steps, and a test starts the
bot with `SFVOPI_FAILPOINT=name`: on reaching that step the process kills itself with SIGKILL,
exactly as a power cut or the OOM killer would: no cleanup, no `finally`, no flush.

The variable is read once, at import: when it is unset (always, in production) `reached` is a
comparison with None and nothing else.
"""

from __future__ import annotations

import os
import signal

ENV = "SFVOPI_FAILPOINT"

_armed: str | None = os.environ.get(ENV) or None


def reached(name: str) -> None:
    """Dies at once (SIGKILL to this very process) if this is the armed failpoint."""
    if _armed is not None and _armed == name:
        os.kill(os.getpid(), signal.SIGKILL)
