"""requests.decision_note: why a request was denied or cancelled, shown where it was decided."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    op.add_column("requests", sa.Column("decision_note", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("decision_note")
