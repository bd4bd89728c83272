"""Webhook delivery: a durable queue (``webhook_deliveries``) drained by one background thread.

Each POST carries the JSON body, ``X-Floorsync-Event``, ``X-Floorsync-Delivery`` (dedup key for
receivers), ``X-Floorsync-Timestamp`` and ``X-Floorsync-Signature: t=<ts>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, "<ts>." + body)``. A failed attempt is retried with exponential
backoff (base * 2^attempts, capped); rows stay in the database, so a receiver outage or a central
restart loses nothing. After ``max_attempts`` the delivery is marked ``failed`` (visible in the log).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import weakref
from typing import Any, Iterable

from sqlalchemy.engine import Connection

from central.core.allocation import available as avail_of
from central.store import CentralQueries, CentralStore
from floorsync.log import log_event

logger = logging.getLogger("central.webhooks")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, tolerance_s: int = 300, now: float | None = None) -> bool:
    """Receiver-side check (also used by tests): signature matches and the timestamp is fresh."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), header)


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    return min(max_s, base_s * (2 ** max(0, attempts - 1)))


class WebhookDispatcher:
    def __init__(self, store: CentralStore, *, base_delay_s: float = 2.0, max_delay_s: float = 3600.0,
                 max_attempts: int = 20, timeout_s: float = 5.0, poll_s: float = 0.5):
        self.store = store
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def dispatch_once(self, limit: int = 50) -> int:
        """Attempt every due delivery once; returns how many were delivered."""
        with self.store.read() as conn:
            due = self.store.due_deliveries(conn, time.time(), limit)
        delivered = 0
        for d in due:
            body = d["payload"].encode()
            ts = int(time.time())
            req = urllib.request.Request(d["url"], data=body, method="POST", headers={
                "Content-Type": "application/json", "User-Agent": "floorsync-webhooks/1",
                "X-Floorsync-Event": d["event_type"], "X-Floorsync-Delivery": d["delivery_id"],
                "X-Floorsync-Timestamp": str(ts), "X-Floorsync-Signature": sign(d["secret"], ts, body)})
            code, error = None, ""
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    code = resp.status
            except urllib.error.HTTPError as exc:
                code, error = exc.code, f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            ok = code is not None and 200 <= code < 300
            attempts = d["attempts"] + 1
            give_up = not ok and attempts >= self.max_attempts
            nxt = time.time() + backoff_s(attempts, self.base_delay_s, self.max_delay_s)
            self.store.run(lambda conn: self.store.record_delivery_attempt(
                conn, d["delivery_id"], ok=ok, status_code=code, error=error, next_attempt_at=nxt, give_up=give_up))
            delivered += ok
            log_event(logger, "webhook_attempt", delivery_id=d["delivery_id"], ok=ok, status=code, attempts=attempts,
                      error=error)
        return delivered

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.dispatch_once()
            except Exception:  # noqa: BLE001 - keep the dispatcher alive; the row stays queued
                logger.exception("webhook dispatch failed")
            self._stop.wait(self.poll_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="webhook-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def payload_of(row: dict) -> dict:
    return json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]


# ---------------------------------------------------------------------- subscriptions + inventory.updated
# Which webhooks of a merchant want which event, cached per database and merchant: a stock change asks
# on every reservation, so the answer for a merchant without subscribers must cost ~nothing. Subscribe and
# delete (``invalidate``) clear it in this process; other processes see a change within SUBSCRIPTION_TTL_S.
SUBSCRIPTION_TTL_S = 2.0
_subs: "weakref.WeakKeyDictionary[Any, dict[str, tuple[float, dict[str, list[str]]]]]" = weakref.WeakKeyDictionary()
# Deliveries queued by the open transaction, per (merchant, sku, site, webhook): later changes in the same
# transaction rewrite that delivery's payload instead of queueing another one.
_pending: "weakref.WeakKeyDictionary[Any, dict[tuple, str]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def invalidate(merchant_id: str | None = None) -> None:
    """Forget cached subscriptions (of one merchant, or all) in this process."""
    with _lock:
        for per_db in _subs.values():
            if merchant_id is None:
                per_db.clear()
            else:
                per_db.pop(merchant_id, None)


def subscribers(conn: Connection, merchant_id: str, event_type: str) -> list[str]:
    """Active webhook ids of ``merchant_id`` subscribed to ``event_type`` (cached, see above)."""
    now = time.monotonic()
    engine = conn.engine
    per_db = _subs.get(engine)
    hit = per_db.get(merchant_id) if per_db is not None else None
    if hit is None or now - hit[0] > SUBSCRIPTION_TTL_S:
        hit = (now, CentralQueries().webhook_subscriptions(conn, merchant_id))
        with _lock:
            _subs.setdefault(engine, {})[merchant_id] = hit
    return hit[1].get(event_type, [])


def inventory_changed(conn: Connection, merchant_id: str, keys: Iterable[tuple[str, str]]) -> int:
    """Queue ``inventory.updated`` for each (sku, site) whose balance changed in this transaction.

    One delivery per (sku, site) and webhook per transaction, carrying the balance as it stands at the
    latest change (on_hand, reserved, safety_stock, available, in_transit, quarantine). Returns the number of
    deliveries queued or refreshed; 0 at once when no webhook of the merchant wants the event."""
    hooks = subscribers(conn, merchant_id, "inventory.updated")
    if not hooks:
        return 0
    q = CentralQueries()
    tx = conn.get_transaction()
    with _lock:
        pending = _pending.setdefault(tx, {}) if tx is not None else {}
    done = 0
    for sku, site_id in dict.fromkeys(keys):
        row = q.get_inventory_row(conn, merchant_id, sku, site_id)
        if row is None:
            continue
        data = {"sku": sku, "site_id": site_id, "on_hand": row["on_hand"], "reserved": row["reserved"],
                "safety_stock": row["safety_stock"],
                "available": avail_of(row["on_hand"], row["reserved"], row["safety_stock"]),
                "in_transit": row["in_transit"], "quarantine": row["quarantine"]}
        payload = {"type": "inventory.updated", "merchant_id": merchant_id, "data": data}
        for hook_id in hooks:
            key = (merchant_id, sku, site_id, hook_id)
            queued = pending.get(key)
            if queued is None or not q.replace_pending_payload(conn, queued, payload):
                pending[key] = q.enqueue_delivery(conn, hook_id, merchant_id, "inventory.updated", payload)
            done += 1
    return done
