"""requests.needs_admin and linked_numbers: what the policy learns of a request after its rules
were read at filing (bot/core/policy.py).

`needs_admin` says why an admin must approve too (filed over a limit with `over: needs_admin`);
`linked_numbers` is how many numbers a delete would unlink, from the preview read after
filing, which rules bounding it select by.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision: str | None = "0017"


def upgrade() -> None:
    op.add_column("requests", sa.Column("needs_admin", sa.Text(), nullable=True))
    op.add_column("requests", sa.Column("linked_numbers", sa.Integer(), nullable=True))


def downgrade() -> None:
    # a pending request that needed an admin too would lose that need: it expires instead
    op.execute(
        "UPDATE requests SET status = 'expired', decision_note = 'the bot was downgraded "
        "while it waited for an admin''s approval' WHERE status = 'pending' "
        "AND needs_admin IS NOT NULL"
    )
    op.drop_column("requests", "linked_numbers")
    op.drop_column("requests", "needs_admin")
