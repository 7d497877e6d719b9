"""Fixtures are grouped by the real server or store they start; each lives in tests/support/."""

from tests.support.bot import *  # noqa: F403
from tests.support.database import *  # noqa: F403
from tests.support.emulator import *  # noqa: F403
from tests.support.memory_store import *  # noqa: F403
from tests.support.orgs import *  # noqa: F403
from tests.support.slack import *  # noqa: F403
