"""events: a hash chain for the tamper-evident audit log, and the live sink's cursor.

Every event gains `uid` (a stable id consumers de-duplicate on), `prev_hash` and `hash`
(bot/audit/chain.py: one chain per request), and `txid` (the writing transaction on
PostgreSQL, 0 elsewhere and for old rows), which orders the live sink. Existing rows are chained
here, request by request in id order, so an old database verifies like a new one.
`audit_cursor` remembers how far each live sink has delivered, and which replica holds the
delivery lease.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.audit.chain import GENESIS, event_hash, new_uid

revision = "0006"
down_revision: str | None = "0005"

BATCH = 1000


def upgrade() -> None:
    op.add_column("events", sa.Column("uid", sa.String(36), nullable=True))
    op.add_column("events", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("events", sa.Column("hash", sa.String(64), nullable=True))
    op.add_column("events", sa.Column("txid", sa.BigInteger, nullable=False, server_default="0"))
    _chain_existing_rows()
    with op.batch_alter_table("events") as batch:
        batch.alter_column("uid", existing_type=sa.String(36), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
    op.create_index("ix_events_uid", "events", ["uid"], unique=True)
    op.create_index("ix_events_txid_id", "events", ["txid", "id"])
    op.create_table(
        "audit_cursor",
        sa.Column("sink", sa.String(64), primary_key=True),
        sa.Column("last_txid", sa.BigInteger, nullable=False),
        sa.Column("last_event_id", sa.Integer, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
    )


def _chain_existing_rows() -> None:
    """Hashes every existing event, each over the one before it of the same request."""
    conn = op.get_bind()
    events = sa.table(
        "events",
        sa.column("id", sa.Integer),
        sa.column("request_id", sa.Integer),
        sa.column("at", sa.Float),
        sa.column("actor", sa.String),
        sa.column("kind", sa.String),
        sa.column("detail", sa.Text),
        sa.column("uid", sa.String),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    update = (
        events.update()
        .where(events.c.id == sa.bindparam("row_id"))
        .values(
            uid=sa.bindparam("new_uid"),
            prev_hash=sa.bindparam("new_prev"),
            hash=sa.bindparam("new_hash"),
        )
    )
    last: dict[int, str] = {}  # each request's latest hash so far
    last_id = None
    while True:
        query = sa.select(
            events.c.id,
            events.c.request_id,
            events.c.at,
            events.c.actor,
            events.c.kind,
            events.c.detail,
        ).order_by(events.c.id)
        if last_id is not None:
            query = query.where(events.c.id > last_id)
        rows = conn.execute(query.limit(BATCH)).all()
        if not rows:
            return
        values = []
        for row in rows:
            uid, prev = new_uid(), last.get(row.request_id, GENESIS)
            digest = event_hash(
                uid=uid,
                request_id=row.request_id,
                at=row.at,
                actor=row.actor,
                kind=row.kind,
                detail=row.detail,
                prev_hash=prev,
            )
            values.append({"row_id": row.id, "new_uid": uid, "new_prev": prev, "new_hash": digest})
            last[row.request_id], last_id = digest, row.id
        conn.execute(update, values)


def downgrade() -> None:
    op.drop_table("audit_cursor")
    op.drop_index("ix_events_txid_id", table_name="events")
    op.drop_index("ix_events_uid", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("txid")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("uid")
