"""Alembic's entry point: runs the revisions on the connection that bot.store.migrate hands in.

Start-up passes its own connection (in its locked transaction) as config.attributes["connection"].
From a shell, for a new revision with --autogenerate, name a database with `-x url=sqlite:///x.db`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from bot.store.migrate import compare_type
from bot.store.schema import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=compare_type)
    with context.begin_transaction():  # a no-op inside start-up's own transaction
        context.run_migrations()


def main() -> None:
    shared: Connection | None = context.config.attributes.get("connection")
    if shared is not None:
        run_migrations(shared)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("name a database: alembic -x url=sqlite:///path/to.db ...")
    with create_engine(url).begin() as connection:
        run_migrations(connection)


main()
