"""Fixtures are grouped by the real server or store they start; each lives in tests/fixtures/."""

from tests.fixtures.bot import *  # noqa: F403
from tests.fixtures.database import *  # noqa: F403
from tests.fixtures.emulator import *  # noqa: F403
from tests.fixtures.orgs import *  # noqa: F403
from tests.fixtures.slack import *  # noqa: F403
