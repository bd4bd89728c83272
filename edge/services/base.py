"""What every floor service shares: the actor, scan parsing + debounce, the audited write."""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from devices.core.scan import Debouncer, Scan, parse_scan
from devices.errors import ScanError
from edge import store as db
from edge.core.picking import StockSlot
from edge.core.rules import FO_TRANSITIONS, can_transition, valid_qty
from edge.errors import (DuplicateScan, EdgeError, Forbidden, InvalidQuantity, InvalidScan, InvalidState, NotFound,
                         UnknownBarcode)
from floorsync.log import log_event

logger = logging.getLogger("edge.services")

ROLES = ("picker", "packer", "receiver", "counter", "manager", "admin")
SUPER = ("manager", "admin")


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    zone: str | None = None
    device: str = "web"

    def require(self, *roles: str) -> None:
        if self.role not in roles and self.role not in SUPER:
            raise Forbidden(f"{self.username} ({self.role}) may not do this; needs {' or '.join(roles)}",
                            user=self.username)


SYSTEM = Actor("system", "admin", None, "system")


class ScanGate:
    """Per-device duplicate-scan debounce: the same code twice in a row within the window is
    refused (a different code in between starts afresh)."""

    def __init__(self, window_ms: int, clock: Callable[[], float] = time.monotonic):
        self.window_ms = window_ms
        self.clock = clock
        self._lock = threading.Lock()
        self._by_device: dict[str, tuple[Debouncer, list[str]]] = {}

    def check(self, device_key: str, code: str) -> None:
        if self.window_ms <= 0:
            return
        now_ms = int(self.clock() * 1000)
        with self._lock:
            deb, last = self._by_device.setdefault(device_key, (Debouncer(self.window_ms), [""]))
            if last[0] != code:
                deb.reset()
            last[0] = code
            if deb.seen(code, now_ms):
                raise DuplicateScan(f"duplicate scan of {code[:40]!r} ignored (within {self.window_ms} ms)",
                                    next="Scan the next item")


def scan(code: Any) -> Scan:
    """Parse a scan or raise InvalidScan (chained from the device parser's ScanError)."""
    if not isinstance(code, str):
        raise InvalidScan("scan must be text")
    try:
        return parse_scan(code)
    except ScanError as exc:
        raise InvalidScan(f"unreadable scan: {exc}", next="Scan again") from exc


def resolve_sku(conn, s: Scan) -> dict:
    code = s.gtin or s.text
    row = db.sku_by_code(conn, code)
    if row is None:
        raise UnknownBarcode(f"unknown barcode {code[:40]!r}: not a SKU of this site", next="Scan the item barcode again or call a manager")
    return row


def qty_of(value: Any, max_qty: int, default: int | None = 1) -> int:
    if value is None or value == "":
        if default is None:
            raise InvalidQuantity("quantity is required")
        value = default
    try:
        return valid_qty(value, max_qty)
    except ValueError as exc:
        raise InvalidQuantity(str(exc), next="Enter a quantity between 1 and %d" % max_qty) from exc


class Service:
    def __init__(self, floor):
        self.floor = floor
        self.store = floor.store
        self.cfg = floor.cfg
        self.site_id = floor.site_id

    def run(self, actor: Actor, action: str, subject: str | None, fn: Callable[[sqlite3.Connection], Any],
            *, scan_code: str | None = None, detail: dict | None = None) -> Any:
        """Run ``fn`` in one write transaction. Refusals (EdgeError, or a CHECK the database enforces)
        change nothing and are written to the audit log in their own transaction."""
        try:
            if isinstance(scan_code, str):
                self.floor.scan_gate.check(f"{actor.username}/{actor.device}", scan_code)
            return self.store.write(fn)
        except EdgeError as exc:
            self.refused(actor, action, subject, exc, detail, scan_code)
            raise
        except sqlite3.IntegrityError as exc:
            err = InvalidState(f"refused by the database: {exc}")
            self.refused(actor, action, subject, err, detail, scan_code)
            raise err from exc

    def refused(self, actor: Actor, action: str, subject: str | None, exc: EdgeError, detail: dict | None,
                scan_code: str | None) -> None:
        d = dict(detail or {})
        if scan_code is not None:
            d["scan"] = repr(scan_code[:80]) if isinstance(scan_code, str) else repr(scan_code)[:80]
        audit_refusal(self.store, actor.username, action, subject, exc, d or None)

    def ok(self, conn, actor: Actor, action: str, subject: str | None, **detail) -> None:
        db.audit(conn, user=actor.username, action=action, ok=True, subject=subject, detail=detail or None)

    def order(self, conn, fo_id) -> dict:
        """The fulfillment order or NotFound (an id of another site's order is simply not here)."""
        fo = db.fo_get(conn, fo_id) if isinstance(fo_id, str) else None
        if fo is None:
            raise NotFound(f"order {str(fo_id)[:40]} is not an order of site {self.site_id}")
        return fo


def audit_refusal(store, user: str | None, action: str, subject: str | None, exc: EdgeError,
                  detail: dict | None = None) -> None:
    """Write a refusal's audit row in its own transaction (the refused step itself changed nothing)."""
    if exc.audited:
        return
    try:
        store.write(lambda conn: db.audit(conn, user=user, action=action, ok=False, subject=subject,
                                          code=exc.code, message=exc.message, detail=detail))
        exc.audited = True
    except Exception as audit_exc:  # noqa: BLE001 - never mask the refusal itself
        log_event(logger, "edge_audit_failed", level=logging.ERROR, error=str(audit_exc))
    log_event(logger, "edge_refused", level=logging.INFO, action=action, user=user, code=exc.code,
              subject=subject, detail=exc.message)


def stock_slots(conn, sku: str, exclude: tuple[str, str] | None = None) -> list[StockSlot]:
    """Pickable stock of ``sku`` as allocation slots, minus one (location, lot) when given."""
    return [StockSlot(r["location"], r["zone"], r["walk_seq"], r["lot"], r["expiry"], r["free"])
            for r in db.stock_slots(conn, sku) if exclude is None or (r["location"], r["lot"]) != exclude]


def transition(conn, fo: dict, new: str, **values) -> None:
    """Move a fulfillment order along its state machine (edge.core.rules.FO_TRANSITIONS) or refuse."""
    if not can_transition(FO_TRANSITIONS, fo["status"], new):
        raise InvalidState(f"order {fo['fo_id']} cannot go from {fo['status']} to {new}")
    db.fo_set(conn, fo["fo_id"], status=new, **values)
