"""The sync tables of an edge's SQLite database: up-stream outbox, down-stream inbox, cursors.

All SQL touching the `sync_*` tables of an edge database lives here. The edge store calls
:func:`migrate` from its own migrations and :func:`emit` inside the same transaction as the
domain change the event describes (outbox pattern), on its single writer connection. The sync
runtime (``sync.edge_node``) reads the outbox on a reader connection and does everything else
(inbox rows, cursors, retiring acknowledged rows) through the store's writer.
"""
from __future__ import annotations

import json
import sqlite3

from sync import crashpoints
from sync.core.envelope import SCHEMA_VERSION, Envelope, new_event_id, utc_now_iso
from sync.core.events import UP, stream_of, validate_body

SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- AUTOINCREMENT: a seq is never reused, even after rows are retired or a crash.
CREATE TABLE IF NOT EXISTS sync_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL,
    type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    body TEXT NOT NULL
);
-- one row per down envelope consumed: applied, or parked (valid but its effect was refused)
CREATE TABLE IF NOT EXISTS sync_inbox (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
);
-- envelopes kept but not applied: written by a newer protocol version, or refused by the handler
CREATE TABLE IF NOT EXISTS sync_parked (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    seq INTEGER,
    event_id TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    raw TEXT NOT NULL,
    at TEXT NOT NULL
);
"""

_INBOX_EXTRA = (("epoch", "TEXT"), ("status", "TEXT NOT NULL DEFAULT 'applied'"), ("detail", "TEXT"))


def migrate(conn: sqlite3.Connection, site_id: str) -> None:
    conn.executescript(SCHEMA)
    have = {r[1] for r in conn.execute("PRAGMA table_info(sync_inbox)")}
    for col, decl in _INBOX_EXTRA:
        if col not in have:
            conn.execute(f"ALTER TABLE sync_inbox ADD COLUMN {col} {decl}")
    conn.execute("INSERT OR IGNORE INTO sync_meta(key, value) VALUES ('site_id', ?)", (site_id,))
    conn.execute("INSERT OR IGNORE INTO sync_meta(key, value) VALUES ('epoch', ?)", (new_event_id(),))
    conn.execute("INSERT OR IGNORE INTO sync_meta(key, value) VALUES ('epoch_base', '0')")
    conn.execute("INSERT OR IGNORE INTO sync_meta(key, value) VALUES ('session', '0')")
    conn.execute("INSERT OR IGNORE INTO sync_meta(key, value) VALUES ('down_applied', '0')")


def meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM sync_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO sync_meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, str(value)))


def emit(conn: sqlite3.Connection, event_type: str, body: dict, *, merchant_id: str) -> Envelope:
    """Append an up-stream event inside the caller's open transaction; returns its envelope.

    Raises ``sync.core.events.BodyError`` when the body breaks the contract (nothing written).
    """
    if stream_of(event_type) != UP:
        raise ValueError(f"{event_type} is not an up-stream event")
    validate_body(event_type, body)
    event_id = new_event_id()
    occurred_at = utc_now_iso()
    cur = conn.execute(
        "INSERT INTO sync_outbox(event_id, merchant_id, type, occurred_at, body) VALUES (?, ?, ?, ?, ?)",
        (event_id, merchant_id, event_type, occurred_at, json.dumps(body, separators=(",", ":"))),
    )
    crashpoints.hit("before_commit")
    return Envelope(SCHEMA_VERSION, event_id, merchant_id, meta(conn, "site_id") or "", UP, cur.lastrowid,
                    meta(conn, "epoch") or "", event_type, occurred_at, body)


def new_epoch(conn: sqlite3.Connection) -> str:
    """Start a new epoch (call after restoring or rebuilding the database, in a transaction).

    Pending outbox rows are re-sent under the new epoch; central dedups them on event_id.
    """
    epoch = new_event_id()
    row = conn.execute("SELECT min(seq) FROM sync_outbox").fetchone()
    base = (row[0] - 1) if row and row[0] is not None else last_seq(conn)
    set_meta(conn, "epoch", epoch)
    set_meta(conn, "epoch_base", str(base))
    return epoch


# ------------------------------------------------------------------ outbox (read side + retire)

def outbox_from(conn: sqlite3.Connection, from_seq: int, limit: int) -> list[Envelope]:
    site, epoch = meta(conn, "site_id") or "", meta(conn, "epoch") or ""
    rows = conn.execute("SELECT seq, event_id, merchant_id, type, occurred_at, body FROM sync_outbox WHERE seq >= ? "
                        "ORDER BY seq LIMIT ?", (from_seq, limit)).fetchall()
    return [Envelope(SCHEMA_VERSION, r[1], r[2], site, UP, r[0], epoch, r[3], r[4], json.loads(r[5])) for r in rows]


def outbox_stats(conn: sqlite3.Connection) -> dict:
    row = conn.execute("SELECT count(*), min(seq), max(seq) FROM sync_outbox").fetchone()
    oldest = None
    if row[1] is not None:
        oldest = conn.execute("SELECT occurred_at FROM sync_outbox WHERE seq = ?", (row[1],)).fetchone()[0]
    return {"depth": row[0], "min_seq": row[1], "max_seq": row[2], "oldest_at": oldest, "last_seq": last_seq(conn)}


def last_seq(conn: sqlite3.Connection) -> int:
    """The highest seq ever allocated (retired rows included)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'sync_outbox'").fetchone()
    return int(row[0]) if row else 0


def retire(conn: sqlite3.Connection, upto_seq: int) -> int:
    """Delete outbox rows the receiver acknowledged as applied (seq <= upto_seq)."""
    return conn.execute("DELETE FROM sync_outbox WHERE seq <= ?", (upto_seq,)).rowcount


# ------------------------------------------------------------------ inbox (down stream)

def inbox_cursor(conn: sqlite3.Connection) -> tuple[str | None, int]:
    return meta(conn, "down_epoch"), int(meta(conn, "down_applied") or 0)


def set_inbox_cursor(conn: sqlite3.Connection, epoch: str, seq: int) -> None:
    set_meta(conn, "down_epoch", epoch)
    set_meta(conn, "down_applied", str(seq))


def retired_down_epochs(conn: sqlite3.Connection) -> set[str]:
    raw = meta(conn, "down_retired_epochs")
    return set(json.loads(raw)) if raw else set()


def retire_down_epoch(conn: sqlite3.Connection, epoch: str) -> None:
    epochs = retired_down_epochs(conn) | {epoch}
    set_meta(conn, "down_retired_epochs", json.dumps(sorted(epochs)))


def inbox_record(conn: sqlite3.Connection, env: Envelope, status: str = "applied", detail: str = "") -> bool:
    """Record a consumed down envelope; False when its event_id was already consumed (duplicate)."""
    try:
        conn.execute("INSERT INTO sync_inbox(stream, seq, event_id, type, applied_at, epoch, status, detail) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (env.stream, env.seq, env.event_id, env.type, utc_now_iso(), env.epoch, status, detail[:500]))
        return True
    except sqlite3.IntegrityError:
        return False


def inbox_rows(conn: sqlite3.Connection, stream: str = "down", limit: int = 100_000) -> list[dict]:
    rows = conn.execute("SELECT seq, event_id, type, status, detail, epoch FROM sync_inbox WHERE stream = ? "
                        "ORDER BY rowid LIMIT ?", (stream, limit)).fetchall()
    return [dict(zip(("seq", "event_id", "type", "status", "detail", "epoch"), r)) for r in rows]


def park(conn: sqlite3.Connection, stream: str, seq: int | None, event_id: str | None, reason: str, detail: str,
         raw) -> None:
    conn.execute("INSERT INTO sync_parked(stream, seq, event_id, reason, detail, raw, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (stream, seq, event_id, reason, detail[:500], json.dumps(raw, default=str)[:100_000], utc_now_iso()))


def parked(conn: sqlite3.Connection, limit: int = 50) -> list[dict]:
    rows = conn.execute("SELECT id, stream, seq, event_id, reason, detail, at FROM sync_parked ORDER BY id DESC LIMIT ?",
                        (limit,)).fetchall()
    return [dict(zip(("id", "stream", "seq", "event_id", "reason", "detail", "at"), r)) for r in rows]


def next_session(conn: sqlite3.Connection) -> int:
    session = int(meta(conn, "session") or 0) + 1
    set_meta(conn, "session", str(session))
    return session
