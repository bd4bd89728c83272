"""The sync tables of an edge's SQLite database: up-stream outbox and down-stream inbox.

All SQL touching the `sync_*` tables of an edge database lives here. The edge store calls
:func:`migrate` from its own migrations and :func:`emit` inside the same transaction as the
domain change the event describes (outbox pattern), on its single writer connection.
"""
from __future__ import annotations

import json
import sqlite3

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
CREATE TABLE IF NOT EXISTS sync_inbox (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
);
"""


def migrate(conn: sqlite3.Connection, site_id: str) -> None:
    conn.executescript(SCHEMA)
    conn.execute("INSERT OR IGNORE INTO sync_meta(key, value) VALUES ('site_id', ?)", (site_id,))
    conn.execute("INSERT OR IGNORE INTO sync_meta(key, value) VALUES ('epoch', ?)", (new_event_id(),))


def meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM sync_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


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
    return Envelope(SCHEMA_VERSION, event_id, merchant_id, meta(conn, "site_id") or "", UP, cur.lastrowid,
                    meta(conn, "epoch") or "", event_type, occurred_at, body)
