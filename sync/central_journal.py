"""The sync tables of central's database (SQLite or PostgreSQL): down outbox, up inbox, cursors.

All SQL touching central's `sync_*` tables lives here. Central's store creates these tables
with its own (``metadata.create_all``) and calls :func:`emit` inside the same transaction as
the domain change (e.g. releasing a fulfillment order to a site).
"""
from __future__ import annotations

import json

from sqlalchemy import (Column, Integer, MetaData, String, Table, Text, UniqueConstraint, insert, select,
                        update)
from sqlalchemy.engine import Connection

from sync.core.envelope import SCHEMA_VERSION, Envelope, new_event_id, utc_now_iso
from sync.core.events import DOWN, stream_of, validate_body

metadata = MetaData()

# Next seq per (site, stream). One conditional UPDATE allocates a seq; the row lock serialises
# writers for one site on PostgreSQL, and a seq is never reused (retiring rows never lowers it).
sync_seq = Table(
    "sync_seq", metadata,
    Column("site_id", String(16), primary_key=True),
    Column("stream", String(4), primary_key=True),
    Column("next_seq", Integer, nullable=False),
)

sync_outbox = Table(
    "sync_outbox", metadata,
    Column("site_id", String(16), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("merchant_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", String(40), nullable=False),
    Column("body", Text, nullable=False),
)

sync_inbox = Table(
    "sync_inbox", metadata,
    Column("site_id", String(16), primary_key=True),
    Column("epoch", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String(36), nullable=False),
    Column("type", String(64), nullable=False),
    Column("applied_at", String(40), nullable=False),
    UniqueConstraint("event_id", name="uq_sync_inbox_event"),
)


def _next_seq(conn: Connection, site_id: str, stream: str) -> int:
    row = conn.execute(
        update(sync_seq).where(sync_seq.c.site_id == site_id, sync_seq.c.stream == stream)
        .values(next_seq=sync_seq.c.next_seq + 1).returning(sync_seq.c.next_seq)
    ).first()
    if row is None:
        conn.execute(insert(sync_seq).values(site_id=site_id, stream=stream, next_seq=1))
        return 1
    return row[0]


def emit(conn: Connection, site_id: str, event_type: str, body: dict, *, merchant_id: str) -> Envelope:
    """Append a down-stream event for ``site_id`` inside the caller's open transaction.

    Raises ``sync.core.events.BodyError`` when the body breaks the contract (nothing written).
    """
    if stream_of(event_type) != DOWN:
        raise ValueError(f"{event_type} is not a down-stream event")
    validate_body(event_type, body)
    seq = _next_seq(conn, site_id, DOWN)
    event_id = new_event_id()
    occurred_at = utc_now_iso()
    conn.execute(insert(sync_outbox).values(
        site_id=site_id, seq=seq, event_id=event_id, merchant_id=merchant_id, type=event_type,
        occurred_at=occurred_at, body=json.dumps(body, separators=(",", ":"))))
    return Envelope(SCHEMA_VERSION, event_id, merchant_id, site_id, DOWN, seq, "central", event_type, occurred_at, body)


def pending_for_site(conn: Connection, site_id: str, after_seq: int = 0, limit: int = 1000) -> list[Envelope]:
    rows = conn.execute(
        select(sync_outbox).where(sync_outbox.c.site_id == site_id, sync_outbox.c.seq > after_seq)
        .order_by(sync_outbox.c.seq).limit(limit)
    ).mappings().all()
    return [Envelope(SCHEMA_VERSION, r["event_id"], r["merchant_id"], site_id, DOWN, r["seq"], "central", r["type"],
                     r["occurred_at"], json.loads(r["body"])) for r in rows]
