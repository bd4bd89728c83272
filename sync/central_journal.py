"""The sync tables of central's database (SQLite or PostgreSQL): down outbox, up inbox, cursors.

All SQL touching central's `sync_*` tables lives here. Central's store creates these tables
with its own (``metadata.create_all``) and calls :func:`emit` inside the same transaction as
the domain change (e.g. releasing a fulfillment order to a site).
"""
from __future__ import annotations

import json

from sqlalchemy import (Column, Integer, MetaData, String, Table, Text, UniqueConstraint, delete, func, insert,
                        select, update)
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
    Column("epoch", String(80), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String(80), nullable=False),
    Column("type", String(64), nullable=False),
    Column("applied_at", String(40), nullable=False),
    # applied, or parked: a valid envelope whose effect the handler refused (consumed, kept for ops)
    Column("status", String(10), nullable=False, server_default="applied"),
    Column("detail", Text, nullable=True),
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


# emit() runs once per released fulfillment order (the order-intake hot path): its statements go
# straight to the DBAPI connection of the caller's Connection (same transaction), skipping
# SQLAlchemy's per-call statement building. Same SQL on SQLite (qmark) and psycopg (%s).
_RAW_EMIT = {
    "seq": "UPDATE sync_seq SET next_seq = next_seq + 1 WHERE site_id = ? AND stream = ? RETURNING next_seq",
    "seq_new": "INSERT INTO sync_seq (site_id, stream, next_seq) VALUES (?, ?, 1)",
    # emit_many: a block of n seqs in one statement
    "seq_n": "UPDATE sync_seq SET next_seq = next_seq + ? WHERE site_id = ? AND stream = ? RETURNING next_seq",
    "seq_new_n": "INSERT INTO sync_seq (site_id, stream, next_seq) VALUES (?, ?, ?)",
    "outbox": "INSERT INTO sync_outbox (site_id, seq, event_id, merchant_id, type, occurred_at, body) "
              "VALUES (?, ?, ?, ?, ?, ?, ?)",
    # the up inbox's hot path (every applied run): inbox rows and the cursor
    "inbox": "INSERT INTO sync_inbox (site_id, epoch, seq, event_id, type, applied_at, status, detail) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "cursor": "UPDATE sync_cursor SET epoch = ?, seq = ?, updated_at = ? WHERE site_id = ? AND stream = ?",
}
_RAW_BY_DIALECT = {"sqlite": _RAW_EMIT, "postgresql": {k: v.replace("?", "%s") for k, v in _RAW_EMIT.items()}}
# PostgreSQL: seq allocation and outbox row in ONE statement (one round trip); no row = no seq row yet
_RAW_BY_DIALECT["postgresql"]["seq_outbox"] = (
    "WITH s AS (UPDATE sync_seq SET next_seq = next_seq + 1 WHERE site_id = %s AND stream = %s RETURNING next_seq) "
    "INSERT INTO sync_outbox (site_id, seq, event_id, merchant_id, type, occurred_at, body) "
    "SELECT %s, next_seq, %s, %s, %s, %s, %s FROM s RETURNING seq")


def _raw_sql(conn: Connection) -> dict | None:
    raw = _RAW_BY_DIALECT.get(conn.dialect.name)
    if raw is None or conn.dialect.driver not in ("pysqlite", "psycopg"):
        return None
    return raw


def _raw_exec(conn: Connection, raw: dict, name: str, params, *, many: bool = False):
    """One statement (``many``: executemany over a list of tuples) on the caller's transaction; returns
    the row of a seq allocation, else the row count. Driver errors surface as SQLAlchemy's (retry logic)."""
    from sqlalchemy.exc import DBAPIError

    if not conn.in_transaction():
        conn.begin()  # what conn.execute would do (autobegin), so the caller's commit covers these rows
    cur = conn.connection.dbapi_connection.cursor()
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        if many:
            cur.executemany(raw[name], params)
            return cur.rowcount
        cur.execute(raw[name], params)
        return cur.fetchone() if name in ("seq", "seq_n", "seq_outbox") else cur.rowcount
    except dbapi_error as exc:
        raise DBAPIError.instance(raw[name], params, exc, dbapi_error, dialect=conn.dialect) from exc
    finally:
        cur.close()


def emit(conn: Connection, site_id: str, event_type: str, body: dict, *, merchant_id: str) -> Envelope:
    """Append a down-stream event for ``site_id`` inside the caller's open transaction.

    Raises ``sync.core.events.BodyError`` when the body breaks the contract (nothing written).
    """
    if stream_of(event_type) != DOWN:
        raise ValueError(f"{event_type} is not a down-stream event")
    validate_body(event_type, body)
    event_id = new_event_id()
    occurred_at = utc_now_iso()
    raw = _raw_sql(conn)
    if raw is None:  # another dialect: the portable (slower) statements
        seq = _next_seq(conn, site_id, DOWN)
        conn.execute(insert(sync_outbox).values(
            site_id=site_id, seq=seq, event_id=event_id, merchant_id=merchant_id, type=event_type,
            occurred_at=occurred_at, body=json.dumps(body, separators=(",", ":"))))
    else:
        body_json = json.dumps(body, separators=(",", ":"))
        row = None
        if "seq_outbox" in raw:   # PostgreSQL: seq + outbox row in one round trip
            row = _raw_exec(conn, raw, "seq_outbox", (site_id, DOWN, site_id, event_id, merchant_id, event_type,
                                                      occurred_at, body_json))
        if row is not None:
            seq = row[0]
        else:
            row = _raw_exec(conn, raw, "seq", (site_id, DOWN))
            if row is None:
                _raw_exec(conn, raw, "seq_new", (site_id, DOWN))
                seq = 1
            else:
                seq = row[0]
            _raw_exec(conn, raw, "outbox", (site_id, seq, event_id, merchant_id, event_type, occurred_at, body_json))
    return Envelope(SCHEMA_VERSION, event_id, merchant_id, site_id, DOWN, seq, "central", event_type, occurred_at, body)


def emit_many(conn: Connection, site_id: str, events: list[tuple[str, dict, str]]) -> list[Envelope]:
    """Append several down-stream events ``(type, body, merchant_id)`` for one site inside the caller's
    transaction, in order: one statement takes the block of seqs, one executemany writes the rows (the
    intake's batched group commit releases many fulfillment orders per site at once). Same guarantees
    as :func:`emit`; a body that breaks the contract raises ``BodyError`` before anything is written."""
    if not events:
        return []
    raw = _raw_sql(conn)
    if raw is None:
        return [emit(conn, site_id, t, b, merchant_id=m) for t, b, m in events]
    for event_type, body, _ in events:
        if stream_of(event_type) != DOWN:
            raise ValueError(f"{event_type} is not a down-stream event")
        validate_body(event_type, body)
    n = len(events)
    row = _raw_exec(conn, raw, "seq_n", (n, site_id, DOWN))
    if row is None:
        _raw_exec(conn, raw, "seq_new_n", (site_id, DOWN, n))
        last = n
    else:
        last = row[0]
    occurred_at = utc_now_iso()
    out, rows = [], []
    for i, (event_type, body, merchant_id) in enumerate(events):
        seq, event_id = last - n + 1 + i, new_event_id()
        rows.append((site_id, seq, event_id, merchant_id, event_type, occurred_at, json.dumps(body, separators=(",", ":"))))
        out.append(Envelope(SCHEMA_VERSION, event_id, merchant_id, site_id, DOWN, seq, "central", event_type,
                            occurred_at, body))
    _raw_exec(conn, raw, "outbox", rows, many=True)
    return out


def pending_for_site(conn: Connection, site_id: str, after_seq: int = 0, limit: int = 1000) -> list[Envelope]:
    rows = conn.execute(
        select(sync_outbox).where(sync_outbox.c.site_id == site_id, sync_outbox.c.seq > after_seq)
        .order_by(sync_outbox.c.seq).limit(limit)
    ).mappings().all()
    return [Envelope(SCHEMA_VERSION, r["event_id"], r["merchant_id"], site_id, DOWN, r["seq"], "central", r["type"],
                     r["occurred_at"], json.loads(r["body"])) for r in rows]


# ---------------------------------------------------------------------------- cursors, inbox, retire
# status of an inbox row: applied, or parked (a valid envelope whose effect the handler refused;
# consumed so the stream moves on, kept for ops to resolve)

# Per (site, stream): the current epoch and cursor. up: central's applied cursor of the edge's
# stream. down: the edge's acknowledged applied cursor of central's stream (rows <= it are retired).
sync_cursor = Table(
    "sync_cursor", metadata,
    Column("site_id", String(16), primary_key=True),
    Column("stream", String(4), primary_key=True),
    Column("epoch", String(80), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("updated_at", String(40), nullable=False),
)

# Every epoch a site's up stream has had; retired ones are refused forever (replays of a rebuilt edge).
sync_epochs = Table(
    "sync_epochs", metadata,
    Column("site_id", String(16), primary_key=True),
    Column("epoch", String(80), primary_key=True),
    Column("base_seq", Integer, nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("retired_at", String(40), nullable=True),
)

# Envelopes kept but not applied (a newer protocol version, or refused by the handler).
sync_parked = Table(
    "sync_parked", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(16), nullable=False, index=True),
    Column("stream", String(4), nullable=False),
    Column("seq", Integer, nullable=True),
    Column("event_id", String(80), nullable=True),
    Column("reason", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("at", String(40), nullable=False),
)

# Security events: a sender claiming another site, touching another tenant, or refused by the ACL.
sync_security = Table(
    "sync_security", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(16), nullable=False, index=True),
    Column("reason", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("at", String(40), nullable=False),
)


def get_cursor(conn: Connection, site_id: str, stream: str) -> tuple[str | None, int]:
    row = conn.execute(select(sync_cursor.c.epoch, sync_cursor.c.seq).where(
        sync_cursor.c.site_id == site_id, sync_cursor.c.stream == stream)).first()
    return (row[0], int(row[1])) if row else (None, 0)


def all_cursors(conn: Connection) -> dict[tuple[str, str], tuple[str, int]]:
    return {(r[0], r[1]): (r[2], int(r[3])) for r in conn.execute(
        select(sync_cursor.c.site_id, sync_cursor.c.stream, sync_cursor.c.epoch, sync_cursor.c.seq))}


def set_cursor(conn: Connection, site_id: str, stream: str, epoch: str, seq: int) -> None:
    now = utc_now_iso()
    raw = _raw_sql(conn)
    if raw is not None and _raw_exec(conn, raw, "cursor", (epoch, seq, now, site_id, stream)) == 1:
        return
    res = conn.execute(update(sync_cursor).where(sync_cursor.c.site_id == site_id, sync_cursor.c.stream == stream)
                       .values(epoch=epoch, seq=seq, updated_at=now))
    if res.rowcount == 0:
        conn.execute(insert(sync_cursor).values(site_id=site_id, stream=stream, epoch=epoch, seq=seq, updated_at=now))


def retired_epochs(conn: Connection, site_id: str) -> set[str]:
    return {r[0] for r in conn.execute(select(sync_epochs.c.epoch).where(
        sync_epochs.c.site_id == site_id, sync_epochs.c.retired_at.is_not(None)))}


def adopt_epoch(conn: Connection, site_id: str, epoch: str, base_seq: int) -> None:
    """A site's up stream starts a new epoch after ``base_seq``: retire the current one, move the cursor."""
    now = utc_now_iso()
    conn.execute(update(sync_epochs).where(sync_epochs.c.site_id == site_id, sync_epochs.c.retired_at.is_(None))
                 .values(retired_at=now))
    conn.execute(insert(sync_epochs).values(site_id=site_id, epoch=epoch, base_seq=base_seq, started_at=now))
    set_cursor(conn, site_id, "up", epoch, base_seq)


def inbox_record(conn: Connection, env: Envelope, status: str = "applied", detail: str = "") -> None:
    """Insert the inbox row (raises IntegrityError when the event_id or seq was already consumed)."""
    conn.execute(insert(sync_inbox).values(site_id=env.site_id, epoch=env.epoch, seq=env.seq, event_id=env.event_id,
                                           type=env.type, applied_at=utc_now_iso(), status=status,
                                           detail=detail[:500] if detail else None))


def inbox_count(conn: Connection, site_id: str | None = None, status: str | None = None) -> int:
    q = select(func.count()).select_from(sync_inbox)
    if site_id:
        q = q.where(sync_inbox.c.site_id == site_id)
    if status:
        q = q.where(sync_inbox.c.status == status)
    return int(conn.execute(q).scalar() or 0)


def inbox_rows(conn: Connection, site_id: str) -> list[dict]:
    rows = conn.execute(select(sync_inbox.c.epoch, sync_inbox.c.seq, sync_inbox.c.event_id, sync_inbox.c.type,
                               sync_inbox.c.status).where(sync_inbox.c.site_id == site_id)
                        .order_by(sync_inbox.c.applied_at, sync_inbox.c.seq)).all()
    return [dict(epoch=r[0], seq=r[1], event_id=r[2], type=r[3], status=r[4]) for r in rows]


def retire_down(conn: Connection, site_id: str, upto_seq: int) -> int:
    """Delete down rows the edge acknowledged as applied."""
    return conn.execute(delete(sync_outbox).where(sync_outbox.c.site_id == site_id, sync_outbox.c.seq <= upto_seq)
                        ).rowcount


def down_heads(conn: Connection) -> dict[str, int]:
    """site -> highest down seq ever allocated."""
    return {r[0]: int(r[1]) for r in conn.execute(
        select(sync_seq.c.site_id, sync_seq.c.next_seq).where(sync_seq.c.stream == DOWN))}


def down_stats(conn: Connection) -> dict[str, dict]:
    rows = conn.execute(select(sync_outbox.c.site_id, func.count(), func.min(sync_outbox.c.occurred_at))
                        .group_by(sync_outbox.c.site_id)).all()
    return {r[0]: {"depth": int(r[1]), "oldest_at": r[2]} for r in rows}


def park(conn: Connection, site_id: str, stream: str, seq: int | None, event_id: str | None, reason: str,
         detail: str, raw) -> None:
    conn.execute(insert(sync_parked).values(site_id=site_id, stream=stream, seq=seq, event_id=event_id, reason=reason,
                                            detail=detail[:1000], raw=json.dumps(raw, default=str)[:100_000],
                                            at=utc_now_iso()))


def parked(conn: Connection, limit: int = 50) -> list[dict]:
    rows = conn.execute(select(sync_parked.c.id, sync_parked.c.site_id, sync_parked.c.stream, sync_parked.c.seq,
                               sync_parked.c.reason, sync_parked.c.detail, sync_parked.c.at)
                        .order_by(sync_parked.c.id.desc()).limit(limit)).all()
    return [dict(r._mapping) for r in rows]


def record_security(conn: Connection, site_id: str, reason: str, detail: str) -> None:
    conn.execute(insert(sync_security).values(site_id=site_id[:16], reason=reason, detail=detail[:1000],
                                              at=utc_now_iso()))


def security_events(conn: Connection, limit: int = 50) -> list[dict]:
    rows = conn.execute(select(sync_security).order_by(sync_security.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def security_count(conn: Connection, site_id: str | None = None) -> int:
    q = select(func.count()).select_from(sync_security)
    if site_id:
        q = q.where(sync_security.c.site_id == site_id)
    return int(conn.execute(q).scalar() or 0)


def delete_inbox_row(conn: Connection, env: Envelope) -> None:
    conn.execute(delete(sync_inbox).where(sync_inbox.c.site_id == env.site_id, sync_inbox.c.epoch == env.epoch,
                                          sync_inbox.c.seq == env.seq))


def mark_parked(conn: Connection, env: Envelope, detail: str) -> None:
    conn.execute(update(sync_inbox).where(sync_inbox.c.site_id == env.site_id, sync_inbox.c.epoch == env.epoch,
                                          sync_inbox.c.seq == env.seq).values(status="parked", detail=detail[:500]))


def inbox_record_many(conn: Connection, envs: list[Envelope], status: str = "applied") -> None:
    """Inbox rows for a run of envelopes (raises IntegrityError when any event_id or seq was consumed)."""
    now = utc_now_iso()
    raw = _raw_sql(conn)
    if raw is not None:   # one executemany on the DBAPI cursor (the per-run hot path)
        _raw_exec(conn, raw, "inbox", [(e.site_id, e.epoch, e.seq, e.event_id, e.type, now, status, None)
                                       for e in envs], many=True)
        return
    conn.execute(insert(sync_inbox), [dict(site_id=e.site_id, epoch=e.epoch, seq=e.seq, event_id=e.event_id, type=e.type,
                                           applied_at=now, status=status, detail=None) for e in envs])
