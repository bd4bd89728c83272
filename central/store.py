"""Central's database: SQLAlchemy 2 Core on SQLite (embedded default) or PostgreSQL (psycopg 3).

ALL of central's SQL lives here (the `sync_*` tables belong to ``sync.central_journal``).
Schema versions are numbered steps recorded in ``schema_migrations``; ``create_all`` applies
what is missing. SQLite runs in WAL mode with a busy timeout and takes the write lock at
``BEGIN IMMEDIATE`` so concurrent writers queue instead of deadlocking; PostgreSQL relies on
row locks taken in sorted (sku, site) order.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import secrets
import threading
import time
from typing import Any, Iterable, Iterator

from sqlalchemy import (BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, and_, create_engine, delete, event, func, insert, inspect, or_, select,
                        text, update)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from central.errors import StoreError

metadata = MetaData()
BigId = BigInteger().with_variant(Integer, "sqlite")

schema_migrations = Table(
    "schema_migrations", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("applied_at", String(32), nullable=False),
)

merchants = Table(
    "merchants", metadata,
    Column("merchant_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("routing_preference", String(20), nullable=False, server_default="speed"),
    Column("created_at", String(32), nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("key_id", String(32), primary_key=True),
    Column("merchant_id", String(64), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scope", String(10), nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)

skus = Table(
    "skus", metadata,
    Column("merchant_id", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("description", String(300), nullable=False, server_default=""),
    Column("weight_g", Integer, nullable=False, server_default="0"),
    Column("length_mm", Integer, nullable=False, server_default="0"),
    Column("width_mm", Integer, nullable=False, server_default="0"),
    Column("height_mm", Integer, nullable=False, server_default="0"),
    Column("lot_tracked", Boolean, nullable=False, server_default="0"),
    Column("expiry_tracked", Boolean, nullable=False, server_default="0"),
    Column("hazmat", Boolean, nullable=False, server_default="0"),
    Column("requires_qc", Boolean, nullable=False, server_default="0"),
    Column("updated_at", String(32), nullable=False),
)

sku_gtins = Table(
    "sku_gtins", metadata,
    Column("merchant_id", String(64), primary_key=True),
    Column("gtin", String(14), primary_key=True),
    Column("sku", String(64), nullable=False),
)

sites = Table(
    "sites", metadata,
    Column("site_id", String(12), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("line1", String(200), nullable=False, server_default=""),
    Column("city", String(100), nullable=False, server_default=""),
    Column("region", String(100), nullable=False, server_default=""),
    Column("postal_code", String(20), nullable=False, server_default=""),
    Column("country", String(2), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("cutoffs", Text, nullable=False, server_default="{}"),
    Column("holiday_country", String(2)),
    Column("holiday_subdivision", String(10)),
    Column("capabilities", Text, nullable=False, server_default="[]"),
    Column("service_regions", Text, nullable=False, server_default="[]"),
    Column("capacity_per_day", Integer, nullable=False, server_default="0"),
    Column("closures", Text, nullable=False, server_default="[]"),   # JSON list of "YYYY-MM-DD" (step 2)
    Column("active", Boolean, nullable=False, server_default="1"),
    # health, written by the sync runtime (heartbeats) and read by routing
    Column("stale", Boolean, nullable=False, server_default="0"),
    Column("sync_lag_s", Float, nullable=False, server_default="0"),
    Column("printers_ok", Boolean, nullable=False, server_default="1"),
    Column("last_heartbeat_at", String(40)),
    Column("health_detail", String(500), nullable=False, server_default=""),
    Column("updated_at", String(32), nullable=False),
)

merchant_sites = Table(
    "merchant_sites", metadata,
    Column("merchant_id", String(64), primary_key=True),
    Column("site_id", String(12), primary_key=True),
)

inventory = Table(
    "inventory", metadata,
    Column("merchant_id", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("site_id", String(12), primary_key=True),
    Column("on_hand", Integer, nullable=False, server_default="0"),
    Column("reserved", Integer, nullable=False, server_default="0"),
    Column("safety_stock", Integer, nullable=False, server_default="0"),
    Column("in_transit", Integer, nullable=False, server_default="0"),
    Column("quarantine", Integer, nullable=False, server_default="0"),
    Column("low_stock_threshold", Integer, nullable=False, server_default="0"),
    Column("updated_at", String(32), nullable=False),
)

ledger = Table(
    "ledger", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("merchant_id", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("site_id", String(12), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("cause", String(20), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("ref", String(120), nullable=False, server_default=""),
    Column("d_on_hand", Integer, nullable=False, server_default="0"),
    Column("d_reserved", Integer, nullable=False, server_default="0"),
    Column("d_in_transit", Integer, nullable=False, server_default="0"),
    Column("d_quarantine", Integer, nullable=False, server_default="0"),
    Column("on_hand_after", Integer, nullable=False),
    Column("reserved_after", Integer, nullable=False),
    Index("ix_ledger_key", "merchant_id", "sku", "site_id", "id"),
)

orders = Table(
    "orders", metadata,
    Column("order_id", String(40), primary_key=True),
    Column("merchant_id", String(64), nullable=False),
    Column("channel", String(40), nullable=False),
    Column("channel_order_id", String(120), nullable=False),
    Column("status", String(20), nullable=False),
    Column("held_from", String(20)),
    Column("service", String(20), nullable=False),
    Column("ship_to", Text, nullable=False),
    Column("ship_to_name", String(200), nullable=False, server_default=""),
    Column("gift_message", String(500)),
    Column("note", String(500)),
    Column("urgent", Boolean, nullable=False, server_default="0"),
    Column("replacement_of", String(40)),
    Column("request_hash", String(64), nullable=False),
    Column("units", Integer, nullable=False, server_default="0"),
    Column("promised_date", String(10)),
    Column("sites", String(200), nullable=False, server_default=""),
    Column("routing_log", Text, nullable=False, server_default="[]"),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("merchant_id", "channel", "channel_order_id", name="uq_orders_channel"),
    Index("ix_orders_list", "merchant_id", "created_at", "order_id"),
    Index("ix_orders_status", "merchant_id", "status", "created_at", "order_id"),
    Index("ix_orders_all", "created_at", "order_id"),
    Index("ix_orders_status_all", "status", "created_at"),
    Index("ix_orders_coid", "merchant_id", "channel_order_id"),
    Index("ix_orders_name", "merchant_id", "ship_to_name"),
)

order_lines = Table(
    "order_lines", metadata,
    Column("order_id", String(40), primary_key=True),
    Column("line_id", String(80), primary_key=True),
    Column("merchant_id", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("qty_allocated", Integer, nullable=False, server_default="0"),
    Column("qty_backordered", Integer, nullable=False, server_default="0"),
    Column("qty_shipped", Integer, nullable=False, server_default="0"),
    Column("qty_cancelled", Integer, nullable=False, server_default="0"),
)

fulfillment_orders = Table(
    "fulfillment_orders", metadata,
    Column("fo_id", String(40), primary_key=True),
    Column("order_id", String(40), nullable=False, index=True),
    Column("merchant_id", String(64), nullable=False),
    Column("site_id", String(12), nullable=False),
    Column("service", String(20), nullable=False),
    Column("carrier", String(40), nullable=False),
    Column("carrier_service", String(60), nullable=False, server_default=""),
    Column("tracking_number", String(60), nullable=False),
    Column("promised_date", String(10), nullable=False),
    Column("ship_by", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_fo_site", "site_id", "status"),
)

fo_lines = Table(
    "fo_lines", metadata,
    Column("fo_id", String(40), primary_key=True),
    Column("line_id", String(80), primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("qty_reserved", Integer, nullable=False),
    Column("qty_shipped", Integer, nullable=False, server_default="0"),
)

order_events = Table(
    "order_events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", String(40), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("from_status", String(20)),
    Column("to_status", String(20)),
    Column("reason", String(500), nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default="{}"),
    Index("ix_order_events_order", "order_id", "id"),
)

backorders = Table(
    "backorders", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("merchant_id", String(64), nullable=False),
    Column("order_id", String(40), nullable=False),
    Column("line_id", String(80), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("status", String(12), nullable=False),  # open, filled, cancelled
    Column("created_at", String(32), nullable=False),
    Index("ix_backorders_open", "merchant_id", "sku", "status", "id"),
)

transfers = Table(
    "transfers", metadata,
    Column("transfer_id", String(80), primary_key=True),
    Column("merchant_id", String(64), nullable=False, index=True),
    Column("from_site", String(12), nullable=False),
    Column("to_site", String(12), nullable=False),
    Column("status", String(12), nullable=False),  # created, shipped, received, cancelled
    Column("lines", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
)

webhooks = Table(
    "webhooks", metadata,
    Column("webhook_id", String(40), primary_key=True),
    Column("merchant_id", String(64), nullable=False, index=True),
    Column("url", String(500), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("events", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", String(32), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("delivery_id", String(40), nullable=False, unique=True),
    Column("webhook_id", String(40), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(12), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_status_code", Integer),
    Column("last_error", String(500), nullable=False, server_default=""),
    Column("created_at", String(32), nullable=False),
    Column("delivered_at", String(32)),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_hook", "webhook_id", "id"),
)

alerts = Table(
    "alerts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("merchant_id", String(64), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("site_id", String(12)),
    Column("sku", String(64)),
    Column("message", String(500), nullable=False),
    Column("detail", Text, nullable=False, server_default="{}"),
    Column("created_at", String(32), nullable=False),
    Column("resolved_at", String(32)),
    Index("ix_alerts_merchant", "merchant_id", "id"),
)

# Numbered schema steps. Step 1 creates the tables above; later steps append here.
MIGRATIONS: list[tuple[int, str]] = [(1, "initial schema"), (2, "sites.closures"), (3, "shipment_cartons")]
# DDL for steps after 1 on a database created before them (a fresh database gets the column from create_all).
_STEP_DDL = {2: ("sites", "closures", "ALTER TABLE sites ADD COLUMN closures TEXT NOT NULL DEFAULT '[]'")}


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """Time-ordered unique id (ULID layout, Crockford base32) with a readable prefix."""
    n = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_B32[n & 31])
        n >>= 5
    return prefix + "".join(reversed(chars))


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def is_retryable(exc: BaseException) -> bool:
    """Deadlock / serialization failure (PostgreSQL) or busy/locked (SQLite): retry the transaction."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None)
    if code in ("40P01", "40001"):
        return True
    msg = str(orig or exc).lower()
    return "database is locked" in msg or "database is busy" in msg


# ---------------------------------------------------------------------------------------------
# Hot-path statements as plain SQL (":name" parameters), run through ``exec_driver_sql`` so the
# intake path skips SQLAlchemy's statement building; the same text serves SQLite and PostgreSQL
# (converted once to psycopg's "%(name)s" style).
ORDER_COLS = ("order_id", "merchant_id", "channel", "channel_order_id", "status", "held_from", "service", "ship_to",
              "ship_to_name", "gift_message", "note", "urgent", "replacement_of", "request_hash", "units",
              "promised_date", "sites", "routing_log", "created_at", "updated_at")
INVENTORY_COLS = ("merchant_id", "sku", "site_id", "on_hand", "reserved", "safety_stock", "in_transit", "quarantine",
                  "low_stock_threshold", "updated_at")
_FAST_SQL = {
    "reserve": "UPDATE inventory SET reserved = reserved + :q WHERE merchant_id = :m AND sku = :sku AND "
               "site_id = :site AND on_hand - reserved - safety_stock >= :q "
               "RETURNING on_hand, reserved, safety_stock, low_stock_threshold",
    "ledger_insert": "INSERT INTO ledger (merchant_id, sku, site_id, ts, cause, actor, ref, d_on_hand, d_reserved, "
                     "d_in_transit, d_quarantine, on_hand_after, reserved_after) VALUES (:merchant_id, :sku, "
                     ":site_id, :ts, :cause, :actor, :ref, :d_on_hand, :d_reserved, :d_in_transit, :d_quarantine, "
                     ":on_hand_after, :reserved_after)",
    "order_by_channel": "SELECT order_id, request_hash FROM orders WHERE merchant_id = :m AND channel = :c AND "
                        "channel_order_id = :co",
    "order_insert": "INSERT INTO orders (" + ", ".join(ORDER_COLS) + ") VALUES (" +
                    ", ".join(":" + c for c in ORDER_COLS) + ")",
    "line_insert": "INSERT INTO order_lines (order_id, line_id, merchant_id, sku, qty, qty_allocated, qty_backordered, "
                   "qty_shipped, qty_cancelled) VALUES (:order_id, :line_id, :merchant_id, :sku, :qty, :qty_allocated, "
                   ":qty_backordered, 0, 0)",
    "line_alloc": "UPDATE order_lines SET qty_allocated = qty_allocated + :a, qty_backordered = qty_backordered + :b "
                  "WHERE order_id = :o AND line_id = :l",
    "event_insert": "INSERT INTO order_events (order_id, merchant_id, ts, actor, kind, from_status, to_status, reason, "
                    "detail) VALUES (:order_id, :merchant_id, :ts, :actor, :kind, :from_status, :to_status, :reason, "
                    ":detail)",
    "fo_insert": "INSERT INTO fulfillment_orders (fo_id, order_id, merchant_id, site_id, service, carrier, "
                 "carrier_service, tracking_number, promised_date, ship_by, status, created_at, updated_at) VALUES "
                 "(:fo_id, :order_id, :merchant_id, :site_id, :service, :carrier, :carrier_service, :tracking_number, "
                 ":promised_date, :ship_by, :status, :created_at, :updated_at)",
    "fo_line_insert": "INSERT INTO fo_lines (fo_id, line_id, sku, qty, qty_reserved, qty_shipped) VALUES "
                      "(:fo_id, :line_id, :sku, :qty, :qty_reserved, 0)",
    "backorder_insert": "INSERT INTO backorders (merchant_id, order_id, line_id, sku, qty, status, created_at) VALUES "
                        "(:m, :o, :l, :sku, :q, 'open', :ts)",
    "delta": "UPDATE inventory SET on_hand = on_hand + :a, reserved = reserved + :r, in_transit = in_transit + :t, "
             "quarantine = quarantine + :qq, updated_at = :ts WHERE merchant_id = :m AND sku = :sku AND site_id = :site "
             "RETURNING on_hand, reserved, safety_stock, in_transit, quarantine, low_stock_threshold",
    "inventory_ensure": "INSERT INTO inventory (merchant_id, sku, site_id, on_hand, reserved, safety_stock, in_transit, "
                        "quarantine, low_stock_threshold, updated_at) VALUES (:m, :sku, :site, 0, 0, 0, 0, 0, 0, :ts) "
                        "ON CONFLICT (merchant_id, sku, site_id) DO NOTHING",
    "backorders_open": "SELECT id, merchant_id, order_id, line_id, sku, qty, status, created_at FROM backorders "
                       "WHERE merchant_id = :m AND sku = :sku AND status = 'open' ORDER BY created_at, id",
    "webhooks_active": "SELECT webhook_id, events FROM webhooks WHERE merchant_id = :m AND active = :t",
    # checked for every up event the sync inbox applies (hot during catch-up)
    "site_merchants": "SELECT merchant_id FROM merchant_sites WHERE site_id = :site",
    "skus_weights": None,
}
for _n in range(1, 5):
    _FAST_SQL[f"inventory_{_n}"] = ("SELECT " + ", ".join(INVENTORY_COLS) + " FROM inventory WHERE merchant_id = :m "
                                    "AND sku IN (" + ", ".join(f":s{i}" for i in range(_n)) + ") ORDER BY sku, site_id")
_FAST_SQL.pop("skus_weights")
_PG_SQL = {k: re.sub(r":([a-z_0-9]+)", r"%(\1)s", v) for k, v in _FAST_SQL.items()}


# Batched intake (many orders per transaction) on PostgreSQL: statements of FIXED shape whatever the batch
# size, each batch's rows going in as ONE JSON parameter per table (``json_to_recordset``): psycopg prepares
# them once per connection, the rows are encoded by the json module's C encoder, and "$n" parameters
# through a RawCursor skip psycopg's query conversion (these statements are too long for its cache).
_PG_BATCH_SQL = {
    # LATERAL ... OFFSET 0: one index lookup per key (a join could hash the whole table). Rows tagged 0:
    # orders already stored (merchant, channel, channel_order_id, order_id, request_hash); 1: inventory rows.
    "intake_prefetch":
        "SELECT 0, k.m, k.c, k.co" + ", NULL" * (len(INVENTORY_COLS) - 3) + ", o.order_id, o.request_hash "
        "FROM json_to_recordset($1::json) AS k(m text, c text, co text) CROSS JOIN LATERAL (SELECT order_id, "
        "request_hash FROM orders WHERE merchant_id = k.m AND channel = k.c AND channel_order_id = k.co OFFSET 0) o "
        "UNION ALL (SELECT 1, " + ", ".join("i." + c for c in INVENTORY_COLS) + ", NULL, NULL FROM "
        "json_to_recordset($2::json) AS k(m text, sku text) CROSS JOIN LATERAL (SELECT * FROM inventory WHERE "
        "merchant_id = k.m AND sku = k.sku OFFSET 0) i ORDER BY i.merchant_id, i.sku, i.site_id)",
    # l: lock the rows one by one in sorted key order and read their latest balance; g: grant each row's requests in
    # order while the running total fits; u: one conditional UPDATE per row with the granted total
    # (its WHERE re-checks the guard on the row it updates).
    "reserve_requests":
        "WITH v AS (SELECT * FROM json_to_recordset($1::json) AS v(n int, m text, sku text, site text, q int)), "
        "l AS MATERIALIZED (SELECT i.* FROM (SELECT DISTINCT m, sku, site FROM v ORDER BY m, sku, site) k "
        "CROSS JOIN LATERAL (SELECT merchant_id, sku, site_id, on_hand, reserved, safety_stock, low_stock_threshold "
        "FROM inventory WHERE merchant_id = k.m AND sku = k.sku AND site_id = k.site FOR UPDATE) i), "
        "g AS MATERIALIZED (SELECT v.n, v.m, v.sku, v.site, v.q, "
        "sum(v.q) OVER (PARTITION BY v.m, v.sku, v.site ORDER BY v.n) <= l.on_hand - l.reserved - l.safety_stock "
        "AS ok FROM v JOIN l ON l.merchant_id = v.m AND l.sku = v.sku AND l.site_id = v.site), "
        "t AS (SELECT m, sku, site, sum(q) AS q FROM g WHERE ok GROUP BY m, sku, site), "
        "u AS (UPDATE inventory i SET reserved = i.reserved + t.q FROM t WHERE i.merchant_id = t.m AND "
        "i.sku = t.sku AND i.site_id = t.site AND i.on_hand - i.reserved - i.safety_stock >= t.q "
        "RETURNING i.merchant_id, i.sku, i.site_id) "
        "SELECT g.n, g.ok AND u.sku IS NOT NULL, l.on_hand, l.reserved, l.safety_stock, l.low_stock_threshold "
        "FROM g JOIN l ON l.merchant_id = g.m AND l.sku = g.sku AND l.site_id = g.site "
        "LEFT JOIN u ON u.merchant_id = g.m AND u.sku = g.sku AND u.site_id = g.site",
}


def _raw_cursor(conn: Connection):
    """The reusable psycopg RawCursor ("$n" parameters) of the DBAPI connection of ``conn``."""
    import psycopg

    info = conn.connection.info
    cur = info.get("fs_raw_cursor")
    if cur is None or cur.closed:
        cur = info["fs_raw_cursor"] = psycopg.RawCursor(conn.connection.dbapi_connection)
    return info, cur


def _x_raw(conn: Connection, sql: str, params, *, fetch: bool = False, prepare: bool | None = None):
    """One fixed PostgreSQL statement ("$n" parameters) on the reusable raw cursor of ``conn``."""
    info, cur = _raw_cursor(conn)
    try:
        cur.execute(sql, params, prepare=prepare)
        return cur.fetchall() if fetch else None
    except Exception as exc:
        info.pop("fs_raw_cursor", None)
        cur.close()
        raise _wrap_dbapi(exc, sql.split(" ", 1)[0]) from exc


def _jdump(rows) -> str:
    return json.dumps(rows, separators=(",", ":"))


class _Rows:
    __slots__ = ("cur",)

    def __init__(self, cur):
        self.cur = cur

    def first(self):
        return self.cur.fetchone()

    def __iter__(self):
        return iter(self.cur.fetchall())


def _cursor(conn: Connection):
    """Per DBAPI connection: one reusable cursor (results are read at once)."""
    info = conn.connection.info
    cur = info.get("fs_cursor")
    if cur is None or getattr(cur, "closed", False):
        cur = info["fs_cursor"] = conn.connection.dbapi_connection.cursor()
    return info, cur


def _x(conn: Connection, name: str, params) -> _Rows:
    """Run a hot-path statement on the DBAPI cursor of ``conn`` (same transaction, no SQL building)."""
    pg = conn.dialect.name == "postgresql"
    info, cur = _cursor(conn)
    try:
        if isinstance(params, list):
            if len(params) == 1:
                # psycopg's executemany goes through pipeline mode: costlier than one plain execute
                cur.execute(_PG_SQL[name] if pg else _FAST_SQL[name], params[0])
            elif 1 < len(params) <= 32 and name in _MULTI_OK:
                sql, flat = _multi_row(name, pg, params)   # one statement, one round trip
                cur.execute(sql, flat)
            elif params:
                cur.executemany(_PG_SQL[name] if pg else _FAST_SQL[name], params)
        else:
            cur.execute(_PG_SQL[name] if pg else _FAST_SQL[name], params)
    except Exception as exc:
        info.pop("fs_cursor", None)
        cur.close()
        raise _wrap_dbapi(exc, name) from exc
    return _Rows(cur)


_MULTI_OK = {"ledger_insert", "line_insert", "event_insert", "fo_line_insert", "order_insert"}
_MULTI_CACHE: dict[tuple[str, bool, int], str] = {}


def _multi_row(name: str, pg: bool, rows: list[dict]) -> tuple[str, dict]:
    """``INSERT ... VALUES (..), (..)`` for a few rows: parameters renamed ``name_i``."""
    key = (name, pg, len(rows))
    sql = _MULTI_CACHE.get(key)
    head, values = _FAST_SQL[name].split(" VALUES ", 1)
    names = re.findall(r":([a-z_0-9]+)", values)
    if sql is None:
        groups = []
        for i in range(len(rows)):
            g = re.sub(r":([a-z_0-9]+)", lambda m: f":{m.group(1)}_{i}", values)
            groups.append(g)
        sql = head + " VALUES " + ", ".join(groups)
        if pg:
            sql = re.sub(r":([a-z_0-9]+)", r"%(\1)s", sql)
        _MULTI_CACHE[key] = sql
    flat = {f"{n}_{i}": row[n] for i, row in enumerate(rows) for n in names}
    return sql, flat


_JSON_INSERT_CACHE: dict[tuple[str, ...], str] = {}
_JSON_VALUE_COLS = {("orders", "routing_log")}


def _pg_json_insert(names: tuple[str, ...]) -> str:
    """The hot-path INSERTs ``names`` as ONE PostgreSQL statement taking one JSON array of row objects per
    table (``INSERT ... SELECT ... FROM json_to_recordset($k)`` in data-modifying CTEs): the same text for
    any number of rows, so it is prepared once; a table with no rows gets "[]"."""
    sql = _JSON_INSERT_CACHE.get(names)
    if sql is not None:
        return sql
    pg_types = {Integer: "int8", BigInteger: "int8", Boolean: "bool", Float: "float8"}
    parts = []
    for k, name in enumerate(names):
        head, values = _FAST_SQL[name].split(" VALUES ", 1)
        table_name, cols = re.match(r"INSERT INTO (\w+) \((.*)\)$", head).groups()
        table = metadata.tables[table_name]
        select_list, record = [], []
        for col, expr in zip((c.strip() for c in cols.split(",")), (e.strip() for e in values.strip()[1:-1].split(","))):
            if (table_name, col) in _JSON_VALUE_COLS:   # a JSON value in the row, stored as its text
                record.append(f"{expr[1:]} json")
                select_list.append(f"u.{expr[1:]}::text")
            elif expr.startswith(":"):
                typ = next((t for cls, t in pg_types.items() if isinstance(table.c[col].type, cls)), "text")
                record.append(f"{expr[1:]} {typ}")
                select_list.append(f"u.{expr[1:]}")
            else:
                select_list.append(expr)
        parts.append(f"{head} SELECT {', '.join(select_list)} FROM json_to_recordset(${k + 1}::json) "
                     f"AS u({', '.join(record)})")
    sql = "WITH " + ", ".join(f"w{k} AS ({p})" for k, p in enumerate(parts[:-1])) + " " + parts[-1]
    _JSON_INSERT_CACHE[names] = sql
    return sql


def _wrap_dbapi(exc: Exception, name: str) -> Exception:
    """Raw driver errors become SQLAlchemy's (IntegrityError, OperationalError) so retry logic sees one family."""
    import sqlalchemy.exc as sa_exc

    kind = type(exc).__name__
    if "Integrity" in kind or "UniqueViolation" in kind:
        return sa_exc.IntegrityError(name, None, exc)
    if "Deadlock" in kind or "SerializationFailure" in kind or "Operational" in kind or "LockNotAvailable" in kind:
        return sa_exc.OperationalError(name, None, exc)
    return sa_exc.DBAPIError(name, None, exc)



class CentralQueries:
    """Every central query, as methods taking the caller's open ``Connection`` (no engine needed).

    ``CentralStore`` adds the engine, transactions and schema management; sync handlers that get
    a bare connection from the sync runtime use a plain ``CentralQueries()``.
    """

    @staticmethod
    def _insert(conn: Connection, table):
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert
            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        return sqlite_insert(table)

    # ---------------------------------------------------------------- merchants + keys
    def upsert_merchant(self, conn: Connection, merchant_id: str, name: str) -> None:
        stmt = self._insert(conn, merchants).values(merchant_id=merchant_id, name=name, created_at=now_iso())
        conn.execute(stmt.on_conflict_do_update(index_elements=["merchant_id"], set_={"name": name}))

    def get_merchant(self, conn: Connection, merchant_id: str) -> dict | None:
        row = conn.execute(select(merchants).where(merchants.c.merchant_id == merchant_id)).mappings().first()
        return dict(row) if row else None

    def list_merchants(self, conn: Connection) -> list[dict]:
        return [dict(r) for r in conn.execute(select(merchants).order_by(merchants.c.merchant_id)).mappings()]

    def create_api_key(self, conn: Connection, merchant_id: str, scope: str, label: str = "") -> tuple[str, str]:
        key_id = secrets.token_hex(6)
        key = f"fsk_{key_id}_{secrets.token_urlsafe(24)}"
        conn.execute(insert(api_keys).values(key_id=key_id, merchant_id=merchant_id, key_hash=hash_key(key),
                                             scope=scope, label=label, created_at=now_iso()))
        return key_id, key

    def find_api_key(self, conn: Connection, key: str) -> dict | None:
        row = conn.execute(select(api_keys).where(api_keys.c.key_hash == hash_key(key))).mappings().first()
        return dict(row) if row else None

    def revoke_api_key(self, conn: Connection, key_id: str) -> bool:
        res = conn.execute(update(api_keys).where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                           .values(revoked_at=now_iso()))
        return res.rowcount == 1

    def list_api_keys(self, conn: Connection, merchant_id: str | None = None) -> list[dict]:
        q = select(api_keys.c.key_id, api_keys.c.merchant_id, api_keys.c.scope, api_keys.c.label,
                   api_keys.c.created_at, api_keys.c.revoked_at).order_by(api_keys.c.created_at)
        if merchant_id:
            q = q.where(api_keys.c.merchant_id == merchant_id)
        return [dict(r) for r in conn.execute(q).mappings()]

    # ---------------------------------------------------------------- SKUs
    def upsert_sku(self, conn: Connection, merchant_id: str, sku: dict) -> bool:
        """Insert or update one SKU and its GTIN aliases; True when it was new."""
        values = {k: sku[k] for k in ("description", "weight_g", "length_mm", "width_mm", "height_mm",
                                      "lot_tracked", "expiry_tracked", "hazmat", "requires_qc")}
        values["updated_at"] = now_iso()
        res = conn.execute(update(skus).where(skus.c.merchant_id == merchant_id, skus.c.sku == sku["sku"])
                           .values(**values))
        created = res.rowcount == 0
        if created:
            conn.execute(insert(skus).values(merchant_id=merchant_id, sku=sku["sku"], **values))
        conn.execute(delete(sku_gtins).where(sku_gtins.c.merchant_id == merchant_id, sku_gtins.c.sku == sku["sku"]))
        for gtin in sku.get("gtins", []):
            conn.execute(delete(sku_gtins).where(sku_gtins.c.merchant_id == merchant_id, sku_gtins.c.gtin == gtin))
            conn.execute(insert(sku_gtins).values(merchant_id=merchant_id, gtin=gtin, sku=sku["sku"]))
        return created

    def get_sku(self, conn: Connection, merchant_id: str, sku: str) -> dict | None:
        row = conn.execute(select(skus).where(skus.c.merchant_id == merchant_id, skus.c.sku == sku)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["gtins"] = [r[0] for r in conn.execute(select(sku_gtins.c.gtin).where(
            sku_gtins.c.merchant_id == merchant_id, sku_gtins.c.sku == sku).order_by(sku_gtins.c.gtin))]
        return out

    def list_skus(self, conn: Connection, merchant_id: str, *, after: str = "", limit: int = 100) -> list[dict]:
        rows = conn.execute(select(skus).where(skus.c.merchant_id == merchant_id, skus.c.sku > after)
                            .order_by(skus.c.sku).limit(limit)).mappings().all()
        gt: dict[str, list[str]] = {}
        if rows:
            for g in conn.execute(select(sku_gtins.c.sku, sku_gtins.c.gtin).where(
                    sku_gtins.c.merchant_id == merchant_id, sku_gtins.c.sku.in_([r["sku"] for r in rows]))
                    .order_by(sku_gtins.c.gtin)):
                gt.setdefault(g[0], []).append(g[1])
        return [{**dict(r), "gtins": gt.get(r["sku"], [])} for r in rows]

    def existing_skus(self, conn: Connection, merchant_id: str, wanted: Iterable[str]) -> dict[str, int]:
        """{sku: weight_g} for the wanted SKUs that exist for this merchant."""
        wanted = list(set(wanted))
        if not wanted:
            return {}
        return {r[0]: r[1] for r in conn.execute(select(skus.c.sku, skus.c.weight_g).where(
            skus.c.merchant_id == merchant_id, skus.c.sku.in_(wanted)))}

    # ---------------------------------------------------------------- sites
    def upsert_site(self, conn: Connection, site: dict) -> None:
        values = dict(site)
        values["cutoffs"] = _json(values.get("cutoffs", {}))
        values["capabilities"] = _json(values.get("capabilities", []))
        values["service_regions"] = _json(values.get("service_regions", []))
        if "closures" in values:
            values["closures"] = _json(sorted(str(d) for d in values["closures"] or ()))
        values["updated_at"] = now_iso()
        site_id = values.pop("site_id")
        res = conn.execute(update(sites).where(sites.c.site_id == site_id).values(**values))
        if res.rowcount == 0:
            conn.execute(insert(sites).values(site_id=site_id, **values))

    def link_site(self, conn: Connection, merchant_id: str, site_id: str) -> None:
        stmt = self._insert(conn, merchant_sites).values(merchant_id=merchant_id, site_id=site_id)
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["merchant_id", "site_id"]))

    @staticmethod
    def _site_row(row) -> dict:
        out = dict(row)
        for key in ("cutoffs", "capabilities", "service_regions", "closures"):
            out[key] = json.loads(out[key])
        return out

    def set_site_closures(self, conn: Connection, site_id: str, dates: Iterable[str]) -> bool:
        """Replace a site's closure dates ("YYYY-MM-DD", routing skips them as non-business days)."""
        res = conn.execute(update(sites).where(sites.c.site_id == site_id).values(
            closures=_json(sorted({str(d) for d in dates})), updated_at=now_iso()))
        return res.rowcount > 0

    def fo_counts_since(self, conn: Connection, since: dict[str, str]) -> dict[str, int]:
        """{site_id: fulfillment orders created at or after since[site_id] (ISO UTC)} (routing capacity)."""
        if not since:
            return {}
        cond = or_(*[and_(fulfillment_orders.c.site_id == s, fulfillment_orders.c.created_at >= t)
                     for s, t in since.items()])
        q = select(fulfillment_orders.c.site_id, func.count()).where(cond).group_by(fulfillment_orders.c.site_id)
        return {r[0]: int(r[1]) for r in conn.execute(q)}

    def sku_volumes_cm3(self, conn: Connection, merchant_id: str, wanted: Iterable[str]) -> dict[str, float]:
        """{sku: cm^3 per unit} for the wanted SKUs with all three dimensions set (dimensional weight)."""
        wanted = list(set(wanted))
        if not wanted:
            return {}
        q = select(skus.c.sku, skus.c.length_mm, skus.c.width_mm, skus.c.height_mm).where(
            skus.c.merchant_id == merchant_id, skus.c.sku.in_(wanted))
        return {r[0]: r[1] * r[2] * r[3] / 1000.0 for r in conn.execute(q) if r[1] > 0 and r[2] > 0 and r[3] > 0}

    def list_sites(self, conn: Connection, merchant_id: str | None = None) -> list[dict]:
        q = select(sites).order_by(sites.c.site_id)
        if merchant_id is not None:
            q = q.where(sites.c.site_id.in_(select(merchant_sites.c.site_id).where(
                merchant_sites.c.merchant_id == merchant_id)))
        return [self._site_row(r) for r in conn.execute(q).mappings()]

    def get_site(self, conn: Connection, site_id: str, merchant_id: str | None = None) -> dict | None:
        q = select(sites).where(sites.c.site_id == site_id)
        if merchant_id is not None:
            q = q.where(sites.c.site_id.in_(select(merchant_sites.c.site_id).where(
                merchant_sites.c.merchant_id == merchant_id)))
        row = conn.execute(q).mappings().first()
        return self._site_row(row) if row else None

    def site_merchants(self, conn: Connection, site_id: str) -> list[str]:
        return [r[0] for r in _x(conn, "site_merchants", {"site": site_id})]

    # ---------------------------------------------------------------- inventory
    def ensure_inventory(self, conn: Connection, merchant_id: str, sku: str, site_id: str) -> None:
        _x(conn, "inventory_ensure", {"m": merchant_id, "sku": sku, "site": site_id, "ts": now_iso()})

    def set_inventory_params(self, conn: Connection, merchant_id: str, sku: str, site_id: str, *,
                             safety_stock: int | None = None, low_stock_threshold: int | None = None) -> None:
        self.ensure_inventory(conn, merchant_id, sku, site_id)
        values: dict[str, Any] = {"updated_at": now_iso()}
        if safety_stock is not None:
            values["safety_stock"] = safety_stock
        if low_stock_threshold is not None:
            values["low_stock_threshold"] = low_stock_threshold
        conn.execute(update(inventory).where(inventory.c.merchant_id == merchant_id, inventory.c.sku == sku,
                                             inventory.c.site_id == site_id).values(**values))

    def get_inventory_row(self, conn: Connection, merchant_id: str, sku: str, site_id: str) -> dict | None:
        row = conn.execute(select(inventory).where(inventory.c.merchant_id == merchant_id, inventory.c.sku == sku,
                                                   inventory.c.site_id == site_id)).mappings().first()
        return dict(row) if row else None

    def inventory_for_skus(self, conn: Connection, merchant_id: str, sku_list: Iterable[str]) -> list[dict]:
        sku_list = sorted(set(sku_list))
        if not sku_list:
            return []
        if len(sku_list) <= 4:
            rows = _x(conn, f"inventory_{len(sku_list)}", {"m": merchant_id, **{f"s{i}": s for i, s in enumerate(sku_list)}})
            return [dict(zip(INVENTORY_COLS, r)) for r in rows]
        return [dict(r) for r in conn.execute(select(inventory).where(
            inventory.c.merchant_id == merchant_id, inventory.c.sku.in_(sku_list))
            .order_by(inventory.c.sku, inventory.c.site_id)).mappings()]

    def list_inventory(self, conn: Connection, merchant_id: str, *, after: str = "", limit: int = 100) -> list[dict]:
        """Consolidated per SKU across sites (what a sales channel should show)."""
        avail = inventory.c.on_hand - inventory.c.reserved - inventory.c.safety_stock
        q = (select(inventory.c.sku,
                    func.sum(inventory.c.on_hand).label("on_hand"),
                    func.sum(inventory.c.reserved).label("reserved"),
                    func.sum(inventory.c.safety_stock).label("safety_stock"),
                    func.sum(inventory.c.in_transit).label("in_transit"),
                    func.sum(inventory.c.quarantine).label("quarantine"),
                    func.sum(_greatest0(avail)).label("available"))
             .where(inventory.c.merchant_id == merchant_id, inventory.c.sku > after)
             .group_by(inventory.c.sku).order_by(inventory.c.sku).limit(limit))
        return [dict(r) for r in conn.execute(q).mappings()]

    def backordered_by_sku(self, conn: Connection, merchant_id: str, sku_list: Iterable[str]) -> dict[str, int]:
        sku_list = list(set(sku_list))
        if not sku_list:
            return {}
        return {r[0]: int(r[1]) for r in conn.execute(
            select(backorders.c.sku, func.sum(backorders.c.qty)).where(
                backorders.c.merchant_id == merchant_id, backorders.c.status == "open",
                backorders.c.sku.in_(sku_list)).group_by(backorders.c.sku))}

    def intake_prefetch_many(self, conn: Connection, keys: list[tuple[str, str, str]],
                             skus_by_merchant: dict[str, set[str]]) -> tuple[dict[tuple, dict], list[dict]]:
        """Batched intake's two reads for many orders: {(merchant, channel, channel_order_id): {order_id,
        request_hash}} of those already stored, and the inventory rows (with merchant_id) of the SKUs named.
        On PostgreSQL ONE statement of fixed shape."""
        pairs = sorted((m, sku) for m, skus in skus_by_merchant.items() for sku in skus)
        if conn.dialect.name != "postgresql":
            found = {}
            for key in dict.fromkeys(keys):
                row = self.find_order_by_channel(conn, *key)
                if row is not None:
                    found[key] = row
            inv = [r for m, skus in sorted(skus_by_merchant.items())
                   for r in self.inventory_for_skus(conn, m, skus)]
            return found, inv
        # one statement, never prepared: a generic plan made while ``orders`` was small would scan it whole
        rows = _x_raw(conn, _PG_BATCH_SQL["intake_prefetch"], (_jdump([{"m": m, "c": c, "co": co} for m, c, co in keys]),
                      _jdump([{"m": m, "sku": sku} for m, sku in pairs])), fetch=True, prepare=False)
        n = len(INVENTORY_COLS)
        found = {(r[1], r[2], r[3]): {"order_id": r[n + 1], "request_hash": r[n + 2]} for r in rows if r[0] == 0}
        return found, [dict(zip(INVENTORY_COLS, r[1:n + 1])) for r in rows if r[0] == 1]

    def reserve_requests(self, conn: Connection, requests: list[tuple[str, str, str, int]]) -> list[dict]:
        """Reservation requests (merchant, sku, site, qty), in the caller's priority order; each is granted
        whole or not at all and ``available`` never goes below zero. Returns per request {won, on_hand,
        reserved (after this request when won), safety_stock, low_stock_threshold}; a lost request carries
        the row's current balance after this call's grants (``on_hand`` None when there is no row).

        SQLite: one conditional UPDATE per request. PostgreSQL: ONE statement, equally safe: it locks the
        (SKU, site) rows in sorted key order (FOR UPDATE; concurrent batches take them in the same order),
        grants each row's requests in order while their running total fits the locked row's available, and
        applies one conditional UPDATE per (SKU, site) with the granted total. (A re-route's second call
        may lock a lower key than the first held: a deadlock PostgreSQL detects fails that transaction,
        and group commit then re-runs its requests one by one.)"""
        out: list[dict] = []
        if conn.dialect.name != "postgresql":
            refused: set[tuple[str, str, str]] = set()
            for m, sku, site, q in requests:
                # as on PostgreSQL: once a row refuses a request, its later requests are refused too
                row = None if (m, sku, site) in refused else self.try_reserve(conn, m, sku, site, q)
                if row is not None:
                    out.append(dict(row, won=True))
                    continue
                refused.add((m, sku, site))
                cur = self.get_inventory_row(conn, m, sku, site) or {"on_hand": None, "reserved": 0,
                                                                      "safety_stock": 0, "low_stock_threshold": 0}
                out.append({"won": False, **{k: cur[k] for k in ("on_hand", "reserved", "safety_stock",
                                                                 "low_stock_threshold")}})
            return out
        rows = _x_raw(conn, _PG_BATCH_SQL["reserve_requests"],
                      (_jdump([{"n": n, "m": m, "sku": sku, "site": site, "q": q}
                               for n, (m, sku, site, q) in enumerate(requests)]),), fetch=True)
        by_n = {r[0]: r for r in rows}
        granted: dict[tuple[str, str, str], int] = {}
        for n, (m, sku, site, q) in enumerate(requests):
            r = by_n.get(n)
            if r is None:   # no inventory row for this (sku, site)
                out.append({"won": False, "on_hand": None, "reserved": 0, "safety_stock": 0,
                            "low_stock_threshold": 0})
                continue
            key = (m, sku, site)
            won = bool(r[1])
            if won:
                granted[key] = granted.get(key, 0) + q
            out.append({"won": won, "on_hand": r[2], "reserved": r[3] + granted.get(key, 0), "safety_stock": r[4],
                        "low_stock_threshold": r[5]})
        for n, (m, sku, site, q) in enumerate(requests):   # a lost request sees every grant of this call
            if not out[n]["won"] and out[n]["on_hand"] is not None:
                out[n]["reserved"] = by_n[n][3] + granted.get((m, sku, site), 0)
        return out

    def try_reserve(self, conn: Connection, merchant_id: str, sku: str, site_id: str, qty: int) -> dict | None:
        """THE oversell guard: one conditional UPDATE; returns the new row or None if not enough available."""
        row = _x(conn, "reserve", {"m": merchant_id, "sku": sku, "site": site_id, "q": qty}).first()
        if row is None:
            return None
        return {"on_hand": row[0], "reserved": row[1], "safety_stock": row[2], "low_stock_threshold": row[3]}

    def apply_delta(self, conn: Connection, merchant_id: str, sku: str, site_id: str, *, cause: str, actor: str,
                    ref: str = "", d_on_hand: int = 0, d_reserved: int = 0, d_in_transit: int = 0,
                    d_quarantine: int = 0) -> tuple[dict, dict]:
        """Apply deltas to one inventory row (created if missing) and append the ledger row; returns (before, after)."""
        params = {"m": merchant_id, "sku": sku, "site": site_id, "a": d_on_hand, "r": d_reserved, "t": d_in_transit,
                  "qq": d_quarantine, "ts": now_iso()}
        row = _x(conn, "delta", params).first()
        if row is None:
            self.ensure_inventory(conn, merchant_id, sku, site_id)
            row = _x(conn, "delta", params).first()
        after = dict(zip(("on_hand", "reserved", "safety_stock", "in_transit", "quarantine", "low_stock_threshold"),
                         row))
        before = dict(after, on_hand=after["on_hand"] - d_on_hand, reserved=after["reserved"] - d_reserved,
                      in_transit=after["in_transit"] - d_in_transit, quarantine=after["quarantine"] - d_quarantine)
        self.insert_ledger(conn, [dict(merchant_id=merchant_id, sku=sku, site_id=site_id, cause=cause, actor=actor,
                                       ref=ref, d_on_hand=d_on_hand, d_reserved=d_reserved,
                                       d_in_transit=d_in_transit, d_quarantine=d_quarantine,
                                       on_hand_after=after["on_hand"], reserved_after=after["reserved"])])
        return before, after

    def apply_deltas(self, conn: Connection, site_id: str, items: list[dict]) -> list[tuple[dict, dict]]:
        """``apply_delta`` for many changes at one site, set-based: ONE conditional-free UPDATE per
        (merchant, sku) with the summed deltas (keys in sorted order: a fixed lock order on PostgreSQL)
        and one multi-row INSERT for the ledger rows, in item order. ``items`` are dicts with merchant_id,
        sku, cause, actor, ref and any of d_on_hand/d_reserved/d_in_transit/d_quarantine. Returns each
        item's (before, after) exactly as applying them one after another would have seen them."""
        d_cols = ("d_on_hand", "d_reserved", "d_in_transit", "d_quarantine")
        sums: dict[tuple[str, str], list[int]] = {}
        for it in items:
            s = sums.setdefault((it["merchant_id"], it["sku"]), [0, 0, 0, 0])
            for i, c in enumerate(d_cols):
                s[i] += it.get(c, 0)
        ts = now_iso()
        final: dict[tuple[str, str], list[int]] = {}
        fixed: dict[tuple[str, str], tuple[int, int]] = {}
        for key in sorted(sums):
            s = sums[key]
            params = {"m": key[0], "sku": key[1], "site": site_id, "a": s[0], "r": s[1], "t": s[2], "qq": s[3],
                      "ts": ts}
            row = _x(conn, "delta", params).first()
            if row is None:
                self.ensure_inventory(conn, key[0], key[1], site_id)
                row = _x(conn, "delta", params).first()
            final[key] = [row[0], row[1], row[3], row[4]]   # on_hand, reserved, in_transit, quarantine
            fixed[key] = (row[2], row[5])                    # safety_stock, low_stock_threshold
        out: list[tuple[dict, dict]] = [None] * len(items)  # type: ignore[list-item]
        for i in range(len(items) - 1, -1, -1):              # walk back from the final balances
            it = items[i]
            key = (it["merchant_id"], it["sku"])
            cur = final[key]
            d = [it.get(c, 0) for c in d_cols]
            safety, low = fixed[key]
            after = {"on_hand": cur[0], "reserved": cur[1], "safety_stock": safety, "in_transit": cur[2],
                     "quarantine": cur[3], "low_stock_threshold": low}
            final[key] = cur = [cur[0] - d[0], cur[1] - d[1], cur[2] - d[2], cur[3] - d[3]]
            before = dict(after, on_hand=cur[0], reserved=cur[1], in_transit=cur[2], quarantine=cur[3])
            out[i] = (before, after)
        ledger_rows = [{"merchant_id": it["merchant_id"], "sku": it["sku"], "site_id": site_id, "ts": ts,
                        "cause": it["cause"], "actor": it["actor"], "ref": it.get("ref", ""),
                        "d_on_hand": it.get("d_on_hand", 0), "d_reserved": it.get("d_reserved", 0),
                        "d_in_transit": it.get("d_in_transit", 0), "d_quarantine": it.get("d_quarantine", 0),
                        "on_hand_after": after["on_hand"], "reserved_after": after["reserved"]}
                       for it, (_b, after) in zip(items, out)]
        _x(conn, "ledger_insert", ledger_rows)   # one statement (few rows) or one executemany
        return out

    def insert_ledger(self, conn: Connection, rows: list[dict]) -> None:
        if not rows:
            return
        ts = now_iso()
        _x(conn, "ledger_insert", [{"ts": ts, "ref": "", "d_on_hand": 0, "d_reserved": 0, "d_in_transit": 0,
                                    "d_quarantine": 0, **r} for r in rows])

    def ledger_rows(self, conn: Connection, merchant_id: str, sku: str, site_id: str | None = None, *,
                    limit: int = 200, before_id: int | None = None) -> list[dict]:
        q = select(ledger).where(ledger.c.merchant_id == merchant_id, ledger.c.sku == sku)
        if site_id:
            q = q.where(ledger.c.site_id == site_id)
        if before_id:
            q = q.where(ledger.c.id < before_id)
        return [dict(r) for r in conn.execute(q.order_by(ledger.c.id.desc()).limit(limit)).mappings()]

    def all_ledger(self, conn: Connection) -> Iterator[dict]:
        for r in conn.execute(select(ledger.c.merchant_id, ledger.c.sku, ledger.c.site_id, ledger.c.d_on_hand,
                                     ledger.c.d_reserved, ledger.c.d_in_transit, ledger.c.d_quarantine)).mappings():
            yield r

    def all_inventory(self, conn: Connection) -> list[dict]:
        return [dict(r) for r in conn.execute(select(inventory)).mappings()]

    def site_on_hand(self, conn: Connection, site_id: str) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in conn.execute(
            select(inventory.c.sku, func.sum(inventory.c.on_hand)).where(inventory.c.site_id == site_id)
            .group_by(inventory.c.sku))}

    # ---------------------------------------------------------------- orders
    def find_order_by_channel(self, conn: Connection, merchant_id: str, channel: str, channel_order_id: str):
        row = _x(conn, "order_by_channel", {"m": merchant_id, "c": channel, "co": channel_order_id}).first()
        return {"order_id": row[0], "request_hash": row[1]} if row else None

    def insert_order(self, conn: Connection, order: dict, lines: list[dict]) -> None:
        _x(conn, "order_insert", {k: order[k] for k in ORDER_COLS})
        _x(conn, "line_insert", [{"qty_allocated": 0, "qty_backordered": 0, **ln, "order_id": order["order_id"],
                                  "merchant_id": order["merchant_id"]} for ln in lines])

    def insert_new_orders(self, conn: Connection, batch: list[tuple[dict, list[dict], list[dict]]]) -> None:
        """Intake: [(order, lines, timeline events)] with the rows the allocator deferred into each order
        (``order["_ledger"]``, ``["_fo_rows"]``, ``["_bo_rows"]``): one multi-row INSERT per table, all in
        ONE statement on PostgreSQL (data-modifying CTEs)."""
        ts = now_iso()
        names = ("order_insert", "line_insert", "event_insert", "ledger_insert", "fo_insert", "fo_line_insert",
                 "backorder_insert")
        rows: dict[str, list[dict]] = {n: [] for n in names}
        pg = conn.dialect.name == "postgresql"
        for order, lines, events in batch:
            m, o = order["merchant_id"], order["order_id"]
            row = {k: order[k] for k in ORDER_COLS}
            if "_routing_log" in order:   # PostgreSQL takes the list as a JSON value: encoded once, not twice
                row["routing_log"] = order["_routing_log"] if pg else json.dumps(order["_routing_log"])
            elif pg:
                row["routing_log"] = json.loads(row["routing_log"])
            rows["order_insert"].append(row)
            rows["line_insert"] += [{"qty_allocated": 0, "qty_backordered": 0, **ln, "order_id": o,
                                     "merchant_id": m} for ln in lines]
            rows["event_insert"] += [{"ts": ts, "reason": "", "from_status": None, "to_status": None, **e,
                                      "detail": _json(e["detail"]) if e.get("detail") else "{}"} for e in events]
            rows["ledger_insert"] += [{"ts": ts, "ref": "", "d_on_hand": 0, "d_reserved": 0, "d_in_transit": 0,
                                       "d_quarantine": 0, **r} for r in order.pop("_ledger", [])]
            fo_rows = order.pop("_fo_rows", [])
            rows["fo_insert"] += [{"created_at": ts, "updated_at": ts, **fo} for fo, _ in fo_rows]
            rows["fo_line_insert"] += [dict(ln, fo_id=fo["fo_id"]) for fo, fls in fo_rows for ln in fls]
            rows["backorder_insert"] += [dict(b, ts=ts) for b in order.pop("_bo_rows", [])]
        if pg:   # one statement of fixed shape (prepared once per connection)
            _x_raw(conn, _pg_json_insert(names), [_jdump(rows[n]) for n in names])
            return
        for n in names:
            if rows[n]:
                _x(conn, n, rows[n])

    def get_order(self, conn: Connection, order_id: str, merchant_id: str | None = None, *,
                  for_update: bool = False) -> dict | None:
        q = select(orders).where(orders.c.order_id == order_id)
        if merchant_id is not None:
            q = q.where(orders.c.merchant_id == merchant_id)
        if for_update and conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = conn.execute(q).mappings().first()
        return dict(row) if row else None

    def update_order(self, conn: Connection, order_id: str, **values) -> None:
        values["updated_at"] = now_iso()
        conn.execute(update(orders).where(orders.c.order_id == order_id).values(**values))

    def order_lines(self, conn: Connection, order_id: str) -> list[dict]:
        return [dict(r) for r in conn.execute(select(order_lines).where(order_lines.c.order_id == order_id)
                                              .order_by(order_lines.c.line_id)).mappings()]

    def update_line(self, conn: Connection, order_id: str, line_id: str, **deltas: int) -> None:
        conn.execute(update(order_lines).where(order_lines.c.order_id == order_id, order_lines.c.line_id == line_id)
                     .values(**{k: getattr(order_lines.c, k) + v for k, v in deltas.items()}))

    def add_events(self, conn: Connection, events: list[dict]) -> None:
        if not events:
            return
        ts = now_iso()
        _x(conn, "event_insert", [{"ts": ts, "reason": "", "from_status": None, "to_status": None, **e,
                                   "detail": _json(e.get("detail", {}))} for e in events])

    def order_events(self, conn: Connection, order_id: str) -> list[dict]:
        out = []
        for r in conn.execute(select(order_events).where(order_events.c.order_id == order_id)
                              .order_by(order_events.c.id)).mappings():
            d = dict(r)
            d["detail"] = json.loads(d["detail"])
            out.append(d)
        return out

    @staticmethod
    def encode_cursor(created_at: str, order_id: str) -> str:
        return base64.urlsafe_b64encode(f"{created_at}|{order_id}".encode()).decode().rstrip("=")

    @staticmethod
    def decode_cursor(cursor: str) -> tuple[str, str]:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, order_id = raw.split("|", 1)
        return created_at, order_id

    def _order_filters(self, merchant_id: str | None, f: dict) -> list:
        conds = []
        if merchant_id is not None:
            conds.append(orders.c.merchant_id == merchant_id)
        if f.get("status"):
            st = f["status"]
            conds.append(orders.c.status.in_(st) if isinstance(st, (list, tuple)) else orders.c.status == st)
        if f.get("channel"):
            conds.append(orders.c.channel == f["channel"])
        if f.get("service"):
            conds.append(orders.c.service == f["service"])
        if f.get("created_from"):
            conds.append(orders.c.created_at >= f["created_from"])
        if f.get("created_to"):
            conds.append(orders.c.created_at < f["created_to"])
        if f.get("site"):
            conds.append(orders.c.order_id.in_(select(fulfillment_orders.c.order_id).where(
                fulfillment_orders.c.site_id == f["site"])))
        if f.get("q"):
            q = f["q"]
            hi = q + "\uffff"
            conds.append(or_(orders.c.order_id == q,
                             and_(orders.c.channel_order_id >= q, orders.c.channel_order_id < hi),
                             and_(orders.c.ship_to_name >= q, orders.c.ship_to_name < hi)))
        return conds

    def list_orders(self, conn: Connection, merchant_id: str | None, filters: dict, *, limit: int = 50,
                    cursor: str | None = None) -> tuple[list[dict], str | None]:
        conds = self._order_filters(merchant_id, filters)
        if cursor:
            c_at, c_id = self.decode_cursor(cursor)
            conds.append(or_(orders.c.created_at < c_at, and_(orders.c.created_at == c_at, orders.c.order_id < c_id)))
        cols = [orders.c.order_id, orders.c.merchant_id, orders.c.channel, orders.c.channel_order_id, orders.c.status,
                orders.c.service, orders.c.ship_to_name, orders.c.units, orders.c.promised_date, orders.c.sites,
                orders.c.urgent, orders.c.created_at, orders.c.updated_at]
        rows = conn.execute(select(*cols).where(*conds).order_by(orders.c.created_at.desc(), orders.c.order_id.desc())
                            .limit(limit + 1)).mappings().all()
        items = [dict(r) for r in rows[:limit]]
        nxt = self.encode_cursor(items[-1]["created_at"], items[-1]["order_id"]) if len(rows) > limit else None
        return items, nxt

    def status_counts(self, conn: Connection, merchant_id: str | None, filters: dict | None = None) -> dict[str, int]:
        f = dict(filters or {})
        f.pop("status", None)
        conds = self._order_filters(merchant_id, f)
        return {r[0]: int(r[1]) for r in conn.execute(
            select(orders.c.status, func.count()).where(*conds).group_by(orders.c.status))}

    # ---------------------------------------------------------------- fulfillment orders
    def insert_fo(self, conn: Connection, fo: dict, lines: list[dict]) -> None:
        now = now_iso()
        _x(conn, "fo_insert", {"created_at": now, "updated_at": now, **fo})
        _x(conn, "fo_line_insert", [dict(ln, fo_id=fo["fo_id"]) for ln in lines])

    def add_line_allocations(self, conn: Connection, order_id: str, changes: list[tuple[str, int, int]]) -> None:
        """[(line_id, +allocated, +backordered)] in one executemany."""
        if changes:
            _x(conn, "line_alloc", [{"o": order_id, "l": l, "a": a, "b": b} for l, a, b in changes])

    def fos_for_order(self, conn: Connection, order_id: str) -> list[dict]:
        fos = [dict(r) for r in conn.execute(select(fulfillment_orders).where(
            fulfillment_orders.c.order_id == order_id).order_by(fulfillment_orders.c.created_at,
                                                                fulfillment_orders.c.fo_id)).mappings()]
        if fos:
            by = {f["fo_id"]: f for f in fos}
            for f in fos:
                f["lines"] = []
            for r in conn.execute(select(fo_lines).where(fo_lines.c.fo_id.in_(list(by))).order_by(
                    fo_lines.c.fo_id, fo_lines.c.line_id)).mappings():
                by[r["fo_id"]]["lines"].append(dict(r))
        return fos

    def get_fo(self, conn: Connection, fo_id: str) -> dict | None:
        row = conn.execute(select(fulfillment_orders).where(fulfillment_orders.c.fo_id == fo_id)).mappings().first()
        if row is None:
            return None
        fo = dict(row)
        fo["lines"] = [dict(r) for r in conn.execute(select(fo_lines).where(fo_lines.c.fo_id == fo_id)
                                                     .order_by(fo_lines.c.line_id)).mappings()]
        return fo

    def update_fo(self, conn: Connection, fo_id: str, **values) -> None:
        values["updated_at"] = now_iso()
        conn.execute(update(fulfillment_orders).where(fulfillment_orders.c.fo_id == fo_id).values(**values))

    def update_fo_line(self, conn: Connection, fo_id: str, line_id: str, **values) -> None:
        conn.execute(update(fo_lines).where(fo_lines.c.fo_id == fo_id, fo_lines.c.line_id == line_id).values(**values))

    def delete_fo_line(self, conn: Connection, fo_id: str, line_id: str) -> None:
        conn.execute(delete(fo_lines).where(fo_lines.c.fo_id == fo_id, fo_lines.c.line_id == line_id))

    # ---------------------------------------------------------------- backorders
    def add_backorder(self, conn: Connection, merchant_id: str, order_id: str, line_id: str, sku: str, qty: int):
        _x(conn, "backorder_insert", {"m": merchant_id, "o": order_id, "l": line_id, "sku": sku, "q": qty,
                                      "ts": now_iso()})

    def open_backorders(self, conn: Connection, merchant_id: str, sku: str) -> list[dict]:
        cols = ("id", "merchant_id", "order_id", "line_id", "sku", "qty", "status", "created_at")
        return [dict(zip(cols, r)) for r in _x(conn, "backorders_open", {"m": merchant_id, "sku": sku})]

    def order_backorders(self, conn: Connection, order_id: str) -> list[dict]:
        return [dict(r) for r in conn.execute(select(backorders).where(backorders.c.order_id == order_id)
                                              .order_by(backorders.c.id)).mappings()]

    def reduce_backorder(self, conn: Connection, backorder_id: int, qty: int) -> None:
        conn.execute(update(backorders).where(backorders.c.id == backorder_id).values(qty=backorders.c.qty - qty))
        conn.execute(update(backorders).where(backorders.c.id == backorder_id, backorders.c.qty <= 0)
                     .values(status="filled"))

    def cancel_backorders(self, conn: Connection, order_id: str) -> None:
        conn.execute(update(backorders).where(backorders.c.order_id == order_id, backorders.c.status == "open")
                     .values(status="cancelled"))

    # ---------------------------------------------------------------- transfers
    def insert_transfer(self, conn: Connection, t: dict) -> None:
        now = now_iso()
        conn.execute(insert(transfers).values(transfer_id=t["transfer_id"], merchant_id=t["merchant_id"],
                                              from_site=t["from_site"], to_site=t["to_site"], status=t["status"],
                                              lines=_json(t["lines"]), created_at=now, updated_at=now))

    @staticmethod
    def _transfer_row(r) -> dict:
        d = dict(r)
        d["lines"] = json.loads(d["lines"])
        return d

    def get_transfer(self, conn: Connection, transfer_id: str, merchant_id: str | None = None) -> dict | None:
        q = select(transfers).where(transfers.c.transfer_id == transfer_id)
        if merchant_id is not None:
            q = q.where(transfers.c.merchant_id == merchant_id)
        row = conn.execute(q).mappings().first()
        return self._transfer_row(row) if row else None

    def list_transfers(self, conn: Connection, merchant_id: str, limit: int = 100) -> list[dict]:
        return [self._transfer_row(r) for r in conn.execute(select(transfers).where(
            transfers.c.merchant_id == merchant_id).order_by(transfers.c.created_at.desc()).limit(limit)).mappings()]

    def set_transfer_status(self, conn: Connection, transfer_id: str, status: str) -> None:
        conn.execute(update(transfers).where(transfers.c.transfer_id == transfer_id)
                     .values(status=status, updated_at=now_iso()))

    # ---------------------------------------------------------------- webhooks
    def insert_webhook(self, conn: Connection, merchant_id: str, url: str, events: list[str], secret: str) -> dict:
        row = dict(webhook_id=new_id("wh_"), merchant_id=merchant_id, url=url, secret=secret, events=_json(events),
                   active=True, created_at=now_iso())
        conn.execute(insert(webhooks).values(**row))
        return dict(row, events=events)

    def list_webhooks(self, conn: Connection, merchant_id: str, event_type: str | None = None) -> list[dict]:
        out = []
        for r in conn.execute(select(webhooks).where(webhooks.c.merchant_id == merchant_id, webhooks.c.active.is_(True))
                              .order_by(webhooks.c.created_at)).mappings():
            d = dict(r)
            d["events"] = json.loads(d["events"])
            if event_type is None or event_type in d["events"]:
                out.append(d)
        return out

    def webhook_ids_for(self, conn: Connection, merchant_id: str, event_type: str) -> list[str]:
        """Active webhooks of a merchant subscribed to ``event_type`` (hot path: every stock change asks)."""
        return [r[0] for r in _x(conn, "webhooks_active", {"m": merchant_id, "t": True})
                if event_type in json.loads(r[1])]

    def get_webhook(self, conn: Connection, webhook_id: str, merchant_id: str) -> dict | None:
        row = conn.execute(select(webhooks).where(webhooks.c.webhook_id == webhook_id,
                                                  webhooks.c.merchant_id == merchant_id)).mappings().first()
        if row is None:
            return None
        d = dict(row)
        d["events"] = json.loads(d["events"])
        return d

    def deactivate_webhook(self, conn: Connection, webhook_id: str, merchant_id: str) -> bool:
        return conn.execute(update(webhooks).where(webhooks.c.webhook_id == webhook_id,
                                                   webhooks.c.merchant_id == merchant_id)
                            .values(active=False)).rowcount == 1

    def enqueue_delivery(self, conn: Connection, webhook_id: str, merchant_id: str, event_type: str,
                         payload: dict) -> str:
        delivery_id = new_id("dlv_")
        conn.execute(insert(webhook_deliveries).values(
            delivery_id=delivery_id, webhook_id=webhook_id, merchant_id=merchant_id, event_type=event_type,
            payload=_json(payload), status="pending", attempts=0, next_attempt_at=time.time(), created_at=now_iso()))
        return delivery_id

    def due_deliveries(self, conn: Connection, now: float, limit: int = 50) -> list[dict]:
        q = (select(webhook_deliveries, webhooks.c.url, webhooks.c.secret)
             .join(webhooks, webhooks.c.webhook_id == webhook_deliveries.c.webhook_id)
             .where(webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_at <= now)
             .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id).limit(limit))
        return [dict(r) for r in conn.execute(q).mappings()]

    def record_delivery_attempt(self, conn: Connection, delivery_id: str, *, ok: bool, status_code: int | None,
                                error: str, next_attempt_at: float | None, give_up: bool) -> None:
        values: dict[str, Any] = {"attempts": webhook_deliveries.c.attempts + 1, "last_status_code": status_code,
                                  "last_error": error[:500]}
        if ok:
            values.update(status="delivered", delivered_at=now_iso())
        elif give_up:
            values.update(status="failed")
        else:
            values.update(next_attempt_at=next_attempt_at)
        conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.delivery_id == delivery_id,
                                                      webhook_deliveries.c.status == "pending").values(**values))

    def list_deliveries(self, conn: Connection, webhook_id: str, merchant_id: str, limit: int = 100) -> list[dict]:
        out = []
        for r in conn.execute(select(webhook_deliveries).where(
                webhook_deliveries.c.webhook_id == webhook_id, webhook_deliveries.c.merchant_id == merchant_id)
                .order_by(webhook_deliveries.c.id.desc()).limit(limit)).mappings():
            d = dict(r)
            d["payload"] = json.loads(d["payload"])
            d.pop("id")
            out.append(d)
        return out

    # ---------------------------------------------------------------- alerts
    def add_alert(self, conn: Connection, merchant_id: str, kind: str, message: str, *, site_id: str | None = None,
                  sku: str | None = None, detail: dict | None = None) -> None:
        conn.execute(insert(alerts).values(merchant_id=merchant_id, kind=kind, site_id=site_id, sku=sku,
                                           message=message[:500], detail=_json(detail or {}), created_at=now_iso()))

    def list_alerts(self, conn: Connection, merchant_id: str | None, limit: int = 100) -> list[dict]:
        q = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        if merchant_id is not None:
            q = q.where(alerts.c.merchant_id == merchant_id)
        out = []
        for r in conn.execute(q).mappings():
            d = dict(r)
            d["detail"] = json.loads(d["detail"])
            out.append(d)
        return out

    # ---------------------------------------------------------------- ops users, settings, closures, coalescing
    # (tables ``ops_users``, ``central_settings``, ``site_closures`` are defined at the end of this module)
    def add_ops_user(self, conn: Connection, username: str, display_name: str, password_hash: str) -> bool:
        """Create a dashboard user; False when the username is taken."""
        if conn.execute(select(ops_users.c.username).where(ops_users.c.username == username)).first():
            return False
        conn.execute(insert(ops_users).values(username=username, display_name=display_name,
                                              password_hash=password_hash, active=True, created_at=now_iso()))
        return True

    def get_ops_user(self, conn: Connection, username: str) -> dict | None:
        row = conn.execute(select(ops_users).where(ops_users.c.username == username)).mappings().first()
        return dict(row) if row else None

    def list_ops_users(self, conn: Connection) -> list[dict]:
        return [dict(r) for r in conn.execute(select(ops_users).order_by(ops_users.c.username)).mappings()]

    def set_ops_user_active(self, conn: Connection, username: str, active: bool) -> bool:
        res = conn.execute(update(ops_users).where(ops_users.c.username == username).values(
            active=bool(active), disabled_at=None if active else now_iso()))
        return res.rowcount == 1

    def set_ops_user_password(self, conn: Connection, username: str, password_hash: str) -> bool:
        res = conn.execute(update(ops_users).where(ops_users.c.username == username).values(
            password_hash=password_hash, failed_logins=0))
        return res.rowcount == 1

    def record_ops_login(self, conn: Connection, username: str, ok: bool) -> None:
        values: dict[str, Any] = ({"last_login_at": now_iso(), "failed_logins": 0} if ok
                                  else {"failed_logins": ops_users.c.failed_logins + 1, "last_failed_at": time.time()})
        conn.execute(update(ops_users).where(ops_users.c.username == username).values(**values))

    def setting(self, conn: Connection, key: str, default: str) -> str:
        """The stored value of ``key``; ``default`` is stored first when there is none (first writer wins)."""
        stmt = self._insert(conn, central_settings).values(key=key, value=default, created_at=now_iso())
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        return conn.execute(select(central_settings.c.value).where(central_settings.c.key == key)).scalar_one()

    def replace_site_closures(self, conn: Connection, site_id: str, closures: list[dict], actor: str) -> bool:
        """Replace a site's closures ([{date, reason}]): reasons in ``site_closures``, dates in
        ``sites.closures`` (what routing reads). False when the site does not exist."""
        if not self.set_site_closures(conn, site_id, [c["date"] for c in closures]):
            return False
        conn.execute(delete(site_closures).where(site_closures.c.site_id == site_id))
        ts = now_iso()
        if closures:
            conn.execute(insert(site_closures), [{"site_id": site_id, "date": c["date"], "reason": c["reason"],
                                                  "set_by": actor[:100], "set_at": ts} for c in closures])
        return True

    def site_closure_details(self, conn: Connection, site_id: str) -> list[dict]:
        """[{date, reason, set_by, set_at}] by date; a date set without a reason (store/routing only) has ""."""
        site = conn.execute(select(sites.c.closures).where(sites.c.site_id == site_id)).first()
        if site is None:
            return []
        rows = {r["date"]: dict(r) for r in conn.execute(
            select(site_closures.c.date, site_closures.c.reason, site_closures.c.set_by, site_closures.c.set_at)
            .where(site_closures.c.site_id == site_id)).mappings()}
        return [rows.get(d) or {"date": d, "reason": "", "set_by": "", "set_at": ""}
                for d in sorted(json.loads(site[0]))]

    def webhook_subscriptions(self, conn: Connection, merchant_id: str) -> dict[str, list[str]]:
        """{event_type: [webhook_id, ...]} of a merchant's active webhooks (cached by central.webhooks)."""
        out: dict[str, list[str]] = {}
        for r in conn.execute(select(webhooks.c.webhook_id, webhooks.c.events).where(
                webhooks.c.merchant_id == merchant_id, webhooks.c.active.is_(True)).order_by(webhooks.c.created_at)):
            for event_type in json.loads(r[1]):
                out.setdefault(event_type, []).append(r[0])
        return out

    def replace_pending_payload(self, conn: Connection, delivery_id: str, payload: dict) -> bool:
        """Coalescing: give a not-yet-attempted delivery the newest payload; False if there is no such row."""
        res = conn.execute(update(webhook_deliveries).where(
            webhook_deliveries.c.delivery_id == delivery_id, webhook_deliveries.c.status == "pending",
            webhook_deliveries.c.attempts == 0).values(payload=_json(payload)))
        return res.rowcount == 1

    # ---------------------------------------------------------------- bench / maintenance helpers
    def bulk_insert_orders(self, conn: Connection, rows: list[dict]) -> None:
        conn.execute(insert(orders), rows)

    def count_rows(self, conn: Connection, table_name: str) -> int:
        table = metadata.tables[table_name]
        return int(conn.execute(select(func.count()).select_from(table)).scalar())

    def table_snapshot(self, conn: Connection) -> dict[str, int]:
        """Row count of every central table (tests use it to prove bad input changed nothing)."""
        return {name: self.count_rows(conn, name) for name in sorted(metadata.tables) if name != "schema_migrations"}



class CentralStore(CentralQueries):
    """Owns central's database. ``url``: SQLAlchemy URL, e.g. ``sqlite:///central.db`` or
    ``postgresql+psycopg://user@host:port/db``."""

    def __init__(self, url: str, *, pool_size: int = 20, group_commit: bool | None = None, group_max: int = 64):
        """``group_commit`` (default on): order intake (``run_batched``) queues concurrent requests and
        one writer thread per process places each batch set-based in one transaction (reads, reservations,
        inserts and commit: a few round trips per batch instead of per order); off: each request runs in
        its own transaction in the caller's thread."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.group_commit = True if group_commit is None else bool(group_commit)
        self.group_max = group_max
        self._group: _GroupWriter | None = None
        self._group_lock = threading.Lock()
        self._group_conn: Connection | None = None
        if self.is_sqlite:
            self.engine: Engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                                pool_size=pool_size, max_overflow=pool_size)
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600)
        self.dialect = self.engine.dialect.name
        self._write_lock = threading.RLock() if self.is_sqlite else None

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        with self._group_lock:
            group, self._group = self._group, None
        if group is not None:
            group.stop()
        self.engine.dispose()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE). Commits on success, rolls back on error.

        On SQLite, writers of this process queue on a lock (one writer per file) instead of
        spinning in SQLite's busy handler; other processes still wait through busy_timeout."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock:
            with self.engine.begin() as conn:
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (SQLite: deferred, so it never blocks writers)."""
        with self.engine.connect().execution_options(fs_read=True) as conn:
            with conn.begin():
                yield conn

    def run(self, fn, *, retries: int = 8):
        """Run ``fn(conn)`` in a write transaction, retrying on deadlock/busy."""
        for attempt in range(retries):
            try:
                with self.transaction() as conn:
                    return fn(conn)
            except IntegrityError as exc:
                # e.g. two requests inserting the same idempotency key: the re-run sees the winner's row
                if attempt < 2:
                    continue
                raise StoreError(f"database integrity error: {exc.orig}") from exc
            except (OperationalError, DBAPIError) as exc:
                if attempt + 1 < retries and is_retryable(exc):
                    time.sleep(0.005 * (2 ** attempt) * (0.5 + secrets.randbelow(100) / 100))
                    continue
                raise StoreError(f"database error: {exc.orig if hasattr(exc, 'orig') else exc}") from exc

    def run_grouped(self, fn):
        """Like ``run`` but with group commit when enabled: ``fn(conn)`` runs on the writer thread inside
        a SAVEPOINT of a transaction shared with other queued requests; returns (or raises) after that
        transaction committed. A domain error rolls back only its own savepoint; a database error, or a
        failed batch, re-runs the request alone through ``run`` (with its retries)."""
        if not self.group_commit:
            return self.run(fn)
        group = self._writer()
        if threading.current_thread() is group.thread:
            return fn(self._group_conn)   # nested call from a queued request: same transaction
        return group.submit(fn)

    def run_batched(self, batch_fn, item, *, alone: bool = False):
        """Group commit for a set-based use case: the items of concurrent callers queue up and the writer
        thread hands each batch to ONE call ``batch_fn(conn, items)`` in one transaction; it returns one
        result per item, an exception instance meaning "raise this to that caller" (such an item must have
        written nothing). Without group commit, or when the batch as a whole fails (a
        database error: deadlock, a concurrent duplicate), each item runs alone as a batch of one in its
        own transaction through ``run`` (with its retries), as it does with ``alone``; a nested call on the
        writer thread joins the open transaction."""
        def one(conn):
            res = batch_fn(conn, [item])[0]
            if isinstance(res, BaseException):
                raise res
            return res

        if alone or not self.group_commit:
            return self.run(one)
        group = self._writer()
        if threading.current_thread() is group.thread:
            return one(self._group_conn)
        return group.submit(one, batch_fn, item)

    def _writer(self) -> "_GroupWriter":
        with self._group_lock:
            group = self._group
            if group is None or group.pid != os.getpid():   # none yet, or inherited through fork (no thread)
                group = self._group = _GroupWriter(self, self.group_max)
            return group

    def group_stats(self) -> dict[str, int]:
        """Group commit so far: committed batches and the requests they carried."""
        g = self._group
        return {"batches": g.batches, "requests": g.requests} if g else {"batches": 0, "requests": 0}

    def create_all(self) -> None:
        """Create every table (central's and the sync journal's) and record schema versions."""
        from sync import central_journal

        metadata.create_all(self.engine)
        central_journal.metadata.create_all(self.engine)
        with self.transaction() as conn:
            done = {r[0] for r in conn.execute(select(schema_migrations.c.version))}
            for version, name in MIGRATIONS:
                if version not in done:
                    step = _STEP_DDL.get(version)
                    if step and step[1] not in {c["name"] for c in inspect(conn).get_columns(step[0])}:
                        conn.execute(text(step[2]))
                    conn.execute(insert(schema_migrations).values(version=version, name=name, applied_at=now_iso()))

    def schema_version(self) -> int:
        with self.read() as conn:
            return conn.execute(select(func.max(schema_migrations.c.version))).scalar() or 0

    def drop_all(self) -> None:
        from sync import central_journal

        central_journal.metadata.drop_all(self.engine)
        metadata.drop_all(self.engine)

    def set_site_health(self, site_id: str, *, stale: bool, sync_lag_s: float, printers_ok: bool,
                        last_heartbeat_at: str, detail: str) -> bool:
        """Record a site's health (from heartbeats); routing avoids stale / printer-less / lagging sites."""
        with self.transaction() as conn:
            res = conn.execute(update(sites).where(sites.c.site_id == site_id).values(
                stale=bool(stale), sync_lag_s=float(sync_lag_s), printers_ok=bool(printers_ok),
                last_heartbeat_at=last_heartbeat_at, health_detail=(detail or "")[:500]))
            return res.rowcount == 1

    def analyze(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()




GROUP_LINGER_S = 0.0005   # at most this wait for more requests when the last batch was larger than this one
_GROUP_LOCK_KEY = 0x466C6F6F72  # advisory lock id of the intake group-commit writers (PostgreSQL)


class _GroupJob:
    __slots__ = ("fn", "batch_fn", "item", "done", "result", "error", "alone")

    def __init__(self, fn, batch_fn=None, item=None):
        self.fn = fn                  # runs alone (or in a SAVEPOINT of the shared transaction)
        self.batch_fn = batch_fn      # set-based: one call for every queued job of the same batch_fn
        self.item = item
        self.done = threading.Event()
        self.result = None
        self.error: BaseException | None = None
        self.alone = False


class _GroupWriter:
    """Group commit for order intake (as the edge store's single writer): one thread takes every
    queued request, runs each in a SAVEPOINT of ONE transaction, commits once, then answers them all.
    The reservation inside each request is still the conditional UPDATE, so no oversell is possible."""

    def __init__(self, store: CentralStore, max_batch: int):
        import queue

        self.store = store
        self.max_batch = max(1, max_batch)
        self.q: Any = queue.SimpleQueue()
        self._empty = queue.Empty
        self.closed = False
        self.batches = 0      # committed batches and the requests they carried (stats, tests)
        self.requests = 0
        self.linger_s = GROUP_LINGER_S
        self.last_size = 0
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._loop, name="central-group-commit", daemon=True)
        self.thread.start()

    def submit(self, fn, batch_fn=None, item=None):
        if self.closed:
            return self.store.run(fn)
        job = _GroupJob(fn, batch_fn, item)
        self.q.put(job)
        job.done.wait()
        if job.alone:
            return self.store.run(fn)
        if job.error is not None:
            raise job.error
        return job.result

    def stop(self) -> None:
        self.closed = True
        self.q.put(None)
        self.thread.join(timeout=60)
        while True:   # anything queued after the stop marker runs alone in its caller's thread
            try:
                job = self.q.get_nowait()
            except self._empty:
                break
            if job is not None:
                job.alone = True
                job.done.set()

    def _loop(self) -> None:
        while True:
            job = self.q.get()
            if job is None:
                return
            batch = [job]
            stop = False
            lingered = self.linger_s <= 0 or self.last_size < 2
            while len(batch) < self.max_batch:
                try:
                    nxt = self.q.get_nowait()
                except self._empty:
                    if lingered or len(batch) >= self.last_size:
                        break
                    # callers answered by the last batch are sending their next request: give them a
                    # moment, so batches stay large (fewer round trips and commits per request)
                    lingered = True
                    time.sleep(self.linger_s)
                    continue
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self.last_size = len(batch)
            groups: dict[Any, list[_GroupJob]] = {}
            for j in batch:
                groups.setdefault(j.batch_fn, []).append(j)
            for batch_fn, jobs in groups.items():
                try:
                    if batch_fn is None:
                        self._run_batch(jobs)
                    else:
                        self._run_set(batch_fn, jobs)
                    self.batches += 1
                    self.requests += len(jobs)
                except Exception:  # noqa: BLE001 - the shared transaction failed: each request retries alone
                    for j in jobs:
                        j.alone, j.error, j.result = True, None, None
                for j in jobs:
                    j.done.set()
            if stop:
                return

    def _run_set(self, batch_fn, jobs: list[_GroupJob]) -> None:
        with self.store.transaction() as conn:
            self.store._group_conn = conn
            try:
                results = batch_fn(conn, [j.item for j in jobs])
            finally:
                self.store._group_conn = None
        for j, res in zip(jobs, results):
            if isinstance(res, BaseException):
                j.error = res
            else:
                j.result = res

    def _run_batch(self, batch: list[_GroupJob]) -> None:
        pg = not self.store.is_sqlite
        with self.store.transaction() as conn:
            cur = conn.connection.dbapi_connection.cursor()
            self.store._group_conn = conn
            try:
                if pg:   # batches of several processes would lock rows in random order: one batch at a time
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_GROUP_LOCK_KEY,))
                cur.execute("SAVEPOINT fs_job")
                for i, job in enumerate(batch):
                    try:
                        job.result = job.fn(conn)
                    except DBAPIError:
                        cur.execute("ROLLBACK TO SAVEPOINT fs_job")
                        job.alone = True          # a database error: its own transaction, usual retries
                    except Exception as exc:  # noqa: BLE001 - a domain error belongs to its request only
                        cur.execute("ROLLBACK TO SAVEPOINT fs_job")
                        job.error = exc
                    last = i == len(batch) - 1
                    if pg and not last:
                        cur.execute("RELEASE SAVEPOINT fs_job; SAVEPOINT fs_job")   # one round trip
                    else:
                        cur.execute("RELEASE SAVEPOINT fs_job")
                        if not last:
                            cur.execute("SAVEPOINT fs_job")
            finally:
                self.store._group_conn = None
                cur.close()


def _greatest0(expr):
    from sqlalchemy import case

    return case((expr > 0, expr), else_=0)


def _sqlite_on_connect(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (IMMEDIATE for writes)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # straight on the driver connection: the intake path begins a transaction per order
    raw = conn.connection.dbapi_connection
    raw.execute("BEGIN" if conn.get_execution_options().get("fs_read") else "BEGIN IMMEDIATE")


# ---------------------------------------------------------------------------------------------
# Tables added after schema step 2. ``create_all`` creates them on older databases too (new tables need
# no ALTER), so they add no numbered step.
ops_users = Table(
    "ops_users", metadata,   # central ops staff who log in to the dashboards (not merchant-scoped)
    Column("username", String(64), primary_key=True),
    Column("display_name", String(120), nullable=False, server_default=""),
    Column("password_hash", String(200), nullable=False),   # scrypt, see central.core.accounts
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("created_at", String(32), nullable=False),
    Column("disabled_at", String(32)),
    Column("last_login_at", String(32)),
    Column("last_failed_at", Float),   # epoch seconds of the last failed login (lockout window)
)

central_settings = Table(
    "central_settings", metadata,   # e.g. the generated session-cookie secret shared by every worker
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

site_closures = Table(
    "site_closures", metadata,   # why a site is closed on a date (the dates routing uses: sites.closures)
    Column("site_id", String(12), primary_key=True),
    Column("date", String(10), primary_key=True),
    Column("reason", String(200), nullable=False),
    Column("set_by", String(100), nullable=False),
    Column("set_at", String(32), nullable=False),
)


# ---------------------------------------------------------------------------------------------
# Schema step 3: the cartons (packages) of each shipped fulfillment order, with their own tracking
# numbers (carton 1 carries the FO's master tracking number). A new table: ``create_all`` creates it
# on an older database; step 3 records that the schema has it.
shipment_cartons = Table(
    "shipment_cartons", metadata,
    Column("fo_id", String(40), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("tracking_number", String(60), nullable=False),
    Column("carton", String(40), nullable=False, server_default=""),   # carton type code ('' when not reported)
    Column("weight_g", Integer, nullable=False),
    Column("lines", Text, nullable=False, server_default="[]"),       # JSON [{line_id, sku, qty}]
    Column("shipped_at", String(40), nullable=False),
    Index("ix_shipment_cartons_tracking", "tracking_number"),
)


def replace_shipment_cartons(conn: Connection, fo_id: str, cartons: list[dict], shipped_at: str) -> None:
    """Record the cartons of a shipped fulfillment order (replacing any recorded before)."""
    conn.execute(delete(shipment_cartons).where(shipment_cartons.c.fo_id == fo_id))
    if cartons:
        conn.execute(insert(shipment_cartons), [
            {"fo_id": fo_id, "seq": int(c["seq"]), "tracking_number": c["tracking_number"],
             "carton": c.get("carton") or "", "weight_g": int(c["weight_g"]),
             "lines": _json([{"line_id": ln["line_id"], "sku": ln["sku"], "qty": int(ln["qty"])}
                             for ln in c.get("lines") or []]),
             "shipped_at": shipped_at} for c in cartons])


def shipment_cartons_for(conn: Connection, fo_ids: Iterable[str]) -> dict[str, list[dict]]:
    """fo_id -> its cartons in sequence order (``carton`` None when the site did not report the type)."""
    ids = sorted(set(fo_ids))
    out: dict[str, list[dict]] = {}
    if not ids:
        return out
    rows = conn.execute(select(shipment_cartons).where(shipment_cartons.c.fo_id.in_(ids)).order_by(
        shipment_cartons.c.fo_id, shipment_cartons.c.seq)).mappings()
    for r in rows:
        out.setdefault(r["fo_id"], []).append({
            "seq": r["seq"], "tracking_number": r["tracking_number"], "carton": r["carton"] or None,
            "weight_g": r["weight_g"], "lines": json.loads(r["lines"] or "[]"), "shipped_at": r["shipped_at"]})
    return out


__all__ = ["CentralStore", "metadata", "new_id", "now_iso", "IntegrityError", "is_retryable", "text"]
