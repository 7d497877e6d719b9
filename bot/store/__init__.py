"""The only code that touches the database."""

from bot.store.store import *  # noqa: F403
