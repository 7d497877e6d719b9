"""The respx fixtures of the client's unit tests (tests/support/sfvopi_wire.py)."""

from tests.support.sfvopi_wire import *  # noqa: F403
