"""targets: an index on (app_id, number), for "is this target already pending?".

Every new request asks it before it is filed; without the index the answer read every pending
request's targets for the app, so a command cost more the more requests were waiting (issue 16).
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision: str | None = "0010"


def upgrade() -> None:
    op.create_index("ix_targets_app_number", "targets", ["app_id", "number"])


def downgrade() -> None:
    op.drop_index("ix_targets_app_number", table_name="targets")
