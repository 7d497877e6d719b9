"""requests.undoes and targets.new_app_id: undo (bot/core/undo.py).

An undo is a request like any other that names the request it takes back (`undoes`); undoing
a delete recreates the app, and the recreate target records the new app's id before any
number is linked to it, so a crash never leads to a second app.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision: str | None = "0015"


def upgrade() -> None:
    op.add_column("requests", sa.Column("undoes", sa.Integer(), nullable=True))
    op.create_index("ix_requests_undoes", "requests", ["undoes"])
    op.add_column("targets", sa.Column("new_app_id", sa.String(80), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMNs (SQLite 3.35+): batch mode would rebuild tables other tables'
    # foreign keys refer to
    op.drop_column("targets", "new_app_id")
    op.drop_index("ix_requests_undoes", table_name="requests")
    op.drop_column("requests", "undoes")
