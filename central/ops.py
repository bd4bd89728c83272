"""Domain operations on an open connection: allocation, fulfillment orders, backorders, stock deltas.

Each function runs inside the caller's transaction (``CentralStore.run`` in services, the sync
runtime's transaction in ``sync_handlers``) so the domain change, its ledger rows, its timeline
events, its webhook deliveries and its down events (``sync.central_journal.emit``) commit together.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
import time
from typing import Any, Callable

from sqlalchemy.engine import Connection

from central.core import lifecycle as lc
from central.core.allocation import available as avail_of, backorder_fill_plan, crossed_below, tracking_number
from central.core.plan import Plan, PlannedShipment
from central.errors import InvalidTransition, ValidationFailed
from central import webhooks
from central.store import CentralQueries, new_id, now_iso
from floorsync.log import log_event
from sync import central_journal

logger = logging.getLogger("central.ops")

EDGE_ADDRESS_FIELDS = ("name", "company", "line1", "line2", "city", "region", "postal_code", "country", "phone")
ACTIVE_FO = ("released", "on_hold", "picking", "packed")


def edge_address(ship_to: dict) -> dict:
    return {k: ship_to[k] for k in EDGE_ADDRESS_FIELDS if ship_to.get(k) is not None}


class Ops:
    """Conn-level operations shared by the API services and the sync handlers."""

    def __init__(self, queries: CentralQueries | None = None, *, router: Callable[..., Plan] | None = None,
                 max_sync_lag_s: float = 900.0, site_cache_s: float = 1.0):
        self.q = queries or CentralQueries()
        self.router = router or default_router()
        self.max_sync_lag_s = max_sync_lag_s
        self.site_cache_s = site_cache_s
        self._site_cache: dict[str, tuple[float, list[dict]]] = {}
        self._sku_cache: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ helpers
    def merchant_sites(self, conn: Connection, merchant_id: str) -> list[dict]:
        now = time.monotonic()
        with self._lock:
            hit = self._site_cache.get(merchant_id)
        if hit and now - hit[0] < self.site_cache_s:
            return hit[1]
        rows = self.q.list_sites(conn, merchant_id)
        with self._lock:
            self._site_cache[merchant_id] = (now, rows)
        return rows

    def invalidate_sites(self) -> None:
        with self._lock:
            self._site_cache.clear()

    def transition(self, conn: Connection, order: dict, target: str, *, actor: str, reason: str = "",
                   kind: str | None = None, detail: dict | None = None, extra: dict | None = None) -> None:
        current = order["status"]
        if not lc.can_transition(current, target):
            raise InvalidTransition(current, target)
        values = dict(extra or {})
        values["status"] = target
        self.q.update_order(conn, order["order_id"], **values)
        self.q.add_events(conn, [{"order_id": order["order_id"], "merchant_id": order["merchant_id"], "actor": actor,
                                  "kind": kind or target, "from_status": current, "to_status": target,
                                  "reason": reason, "detail": detail or {}}])
        order["status"] = target
        order.update(values)

    def note(self, conn: Connection, order: dict, kind: str, *, actor: str, reason: str = "",
             detail: dict | None = None) -> None:
        self.q.add_events(conn, [{"order_id": order["order_id"], "merchant_id": order["merchant_id"], "actor": actor,
                                  "kind": kind, "reason": reason, "detail": detail or {}}])

    def notify(self, conn: Connection, merchant_id: str, event_type: str, payload: dict) -> int:
        """Queue one delivery per subscribed webhook (durable, same transaction)."""
        hooks = self.q.webhook_ids_for(conn, merchant_id, event_type)
        for hook_id in hooks:
            self.q.enqueue_delivery(conn, hook_id, merchant_id, event_type,
                                    {"type": event_type, "merchant_id": merchant_id, "data": payload})
        return len(hooks)

    def after_stock_change(self, conn: Connection, merchant_id: str, sku: str, site_id: str, before: dict,
                           after: dict, *, updated_webhook: bool = False) -> None:
        b = avail_of(before["on_hand"], before["reserved"], before["safety_stock"])
        a = avail_of(after["on_hand"], after["reserved"], after["safety_stock"])
        threshold = after.get("low_stock_threshold", 0)
        if crossed_below(b, a, threshold):
            msg = f"{sku} at {site_id}: available {a} fell below threshold {threshold}"
            detail = {"sku": sku, "site_id": site_id, "available": a, "threshold": threshold, "before": b}
            self.q.add_alert(conn, merchant_id, "low_stock", msg, site_id=site_id, sku=sku, detail=detail)
            self.notify(conn, merchant_id, "inventory.low_stock", detail)
            log_event(logger, "low_stock", merchant_id=merchant_id, sku=sku, site_id=site_id, available=a)
        if updated_webhook:   # coalesced: one delivery per (sku, site) per transaction
            webhooks.inventory_changed(conn, merchant_id, ((sku, site_id),))

    # ------------------------------------------------------------------ allocation
    def available_map(self, conn: Connection, merchant_id: str, skus: set[str]) -> dict[tuple[str, str], int]:
        return {(r["sku"], r["site_id"]): avail_of(r["on_hand"], r["reserved"], r["safety_stock"])
                for r in self.q.inventory_for_skus(conn, merchant_id, skus)}

    def allocate(self, conn: Connection, order: dict, need: list[tuple[str, str, int]], *, actor: str,
                 weights: dict[str, int] | None = None, backorder_rest: bool = True,
                 now: _dt.datetime | None = None) -> tuple[int, int]:
        """Route, reserve (conditional UPDATE per (sku, site), sorted) and create fulfillment orders for
        an order already stored (backorder fills, short picks, release from hold; new orders go through
        ``allocate_new``), writing its rows at once.

        A lost race (the UPDATE matched no row) re-routes the affected lines with fresh numbers;
        what still cannot be placed becomes a backorder. Returns (allocated_units, backordered_units).
        """
        m = order["merchant_id"]
        now = now or _dt.datetime.now(_dt.timezone.utc)
        sites = self.merchant_sites(conn, m)
        if weights is None:
            weights = self.sku_weights(conn, m, {sku for _, sku, _ in need})
        allocated = 0
        remaining = list(need)
        logs = []
        line_changes: dict[str, list[int]] = {}
        for attempt in range(3):
            if not remaining:
                break
            available = self.available_map(conn, m, {sku for _, sku, _ in remaining})
            plan = self.router(order=order, lines=remaining, sites=sites, available=available, weights=weights,
                               now=now, max_sync_lag_s=self.max_sync_lag_s)
            logs.append(dict(plan.log, attempt=attempt + 1))
            pieces = sorted(((sku, sh.site_id, line_id, qty, i) for i, sh in enumerate(plan.shipments)
                             for line_id, sku, qty in sh.lines))
            won: dict[int, list[tuple[str, str, int]]] = {}
            lost: list[tuple[str, str, int]] = []
            ledger_rows = []
            rows = self.q.reserve_requests(conn, [(m, sku, site_id, qty) for sku, site_id, _, qty, _ in pieces])
            for (sku, site_id, line_id, qty, i), row in zip(pieces, rows):
                if not row["won"]:
                    lost.append((line_id, sku, qty))
                    continue
                won.setdefault(i, []).append((line_id, sku, qty))
                ledger_rows.append(dict(merchant_id=m, sku=sku, site_id=site_id, cause="order", actor=actor,
                                        ref=order["order_id"], d_reserved=qty, on_hand_after=row["on_hand"],
                                        reserved_after=row["reserved"]))
                if row["low_stock_threshold"]:
                    after = {k: row[k] for k in ("on_hand", "reserved", "safety_stock", "low_stock_threshold")}
                    before = dict(after, reserved=row["reserved"] - qty)
                    self.after_stock_change(conn, m, sku, site_id, before, after)
            webhooks.inventory_changed(conn, m, ((p[0], p[1]) for p, r in zip(pieces, rows) if r["won"]))
            self.q.insert_ledger(conn, ledger_rows)
            for i, lines in sorted(won.items()):
                self.create_fo(conn, order, plan.shipments[i], lines)
                for l_id, _sku, q in lines:
                    line_changes.setdefault(l_id, [0, 0])[0] += q
                allocated += sum(q for _, _, q in lines)
            if lost:
                log_event(logger, "reservation_race_lost", order_id=order["order_id"], lines=len(lost))
            remaining = lost + list(plan.unplaced)
            if not lost:
                break  # nothing changed since routing: what is unplaced stays unplaced
        backordered = 0
        if remaining and backorder_rest:
            for line_id, sku, qty in remaining:
                self.q.add_backorder(conn, m, order["order_id"], line_id, sku, qty)
                line_changes.setdefault(line_id, [0, 0])[1] += qty
                backordered += qty
        prev = json.loads(order.get("routing_log") or "[]")
        order["routing_log"] = json.dumps(prev + logs)
        self.q.add_line_allocations(conn, order["order_id"], [(l, a, b) for l, (a, b) in line_changes.items()])
        self.q.update_order(conn, order["order_id"], routing_log=order["routing_log"], sites=order.get("sites", ""),
                            promised_date=order.get("promised_date"))
        return allocated, backordered

    def allocate_new(self, conn: Connection, orders: list[dict], needs: list[list[tuple[str, str, int]]], *,
                     weights: list[dict[str, int]], inventory_rows: list[dict],
                     now: _dt.datetime | None = None) -> list[tuple[int, int] | ValidationFailed]:
        """``allocate`` for a batch of NEW orders (intake, ``order["_new"]``), set-based: each order is
        routed in turn against the batch's stock picture (``inventory_rows``, read earlier in this
        transaction, minus what earlier orders of the batch planned), then ONE ``reserve_requests`` call
        reserves every planned (order, SKU, site) piece: each piece all-or-nothing, never below zero.
        A piece that loses (another transaction took the stock) re-routes its order's line with the
        fresh balance the reservation returned; what still cannot be placed becomes a backorder. Rows are
        deferred into the orders (as ``allocate`` does for ``_new``); ledger rows name ``order["_actor"]``.
        Returns (allocated, backordered) per order, or the ValidationFailed routing raised for an order
        (its first routing: nothing was reserved for it, the rest of the batch goes on)."""
        now = now or _dt.datetime.now(_dt.timezone.utc)
        avail: dict[tuple[str, str, str], int] = {
            (r["merchant_id"], r["sku"], r["site_id"]): avail_of(r["on_hand"], r["reserved"], r["safety_stock"])
            for r in inventory_rows}
        n = len(orders)
        remaining = [list(x) for x in needs]
        final: list[list[tuple[str, str, int]]] = [[] for _ in range(n)]   # unplaced after routing: backorder
        logs: list[list[dict]] = [[] for _ in range(n)]
        allocated = [0] * n
        changes: list[dict[str, list[int]]] = [{} for _ in range(n)]
        touched: dict[str, set[tuple[str, str]]] = {}
        failed: dict[int, ValidationFailed] = {}
        for attempt in range(3):
            active = [i for i in range(n) if remaining[i]]
            if not active:
                break
            plans: dict[int, Plan] = {}
            requests: list[tuple[str, str, str, int]] = []
            pieces: list[tuple[int, int, str, str, int]] = []     # (order, shipment, line_id, sku, qty)
            for i in active:
                order = orders[i]
                m = order["merchant_id"]
                sites = self.merchant_sites(conn, m)
                skus = {sku for _, sku, _ in remaining[i]}
                view = {(sku, s["site_id"]): avail.get((m, sku, s["site_id"]), 0) for sku in skus for s in sites}
                try:
                    plan = self.router(order=order, lines=remaining[i], sites=sites, available=view,
                                       weights=weights[i], now=now, max_sync_lag_s=self.max_sync_lag_s)
                except ValidationFailed as exc:
                    if attempt:   # after reservations: the whole transaction must go
                        raise
                    failed[i] = exc
                    remaining[i] = []
                    continue
                plans[i] = plan
                logs[i].append(dict(plan.log, attempt=attempt + 1))
                for k, sh in enumerate(plan.shipments):
                    for line_id, sku, qty in sh.lines:
                        requests.append((m, sku, sh.site_id, qty))
                        pieces.append((i, k, line_id, sku, qty))
                        key = (m, sku, sh.site_id)
                        avail[key] = avail.get(key, 0) - qty      # later orders of the batch see it taken
            # sorted by (merchant, sku, site), then batch order (first come, first served per row)
            ranked = sorted(range(len(requests)), key=lambda j: (requests[j][:3], j))
            got = self.q.reserve_requests(conn, [requests[j] for j in ranked]) if requests else []
            result: list[dict] = [None] * len(requests)   # type: ignore[list-item]
            newest: dict[tuple[str, str, str], tuple[int, int, int]] = {}
            for pos, j in enumerate(ranked):
                row = result[j] = got[pos]
                if row["on_hand"] is None:
                    newest[requests[j][:3]] = (0, 0, 0)
                    continue
                seen = newest.get(requests[j][:3])
                if seen is None or row["reserved"] > seen[1]:
                    newest[requests[j][:3]] = (row["on_hand"], row["reserved"], row["safety_stock"])
            for key, (oh, rs, ss) in newest.items():      # the balance as this transaction now sees it
                avail[key] = avail_of(oh, rs, ss)
            lost: dict[int, list[tuple[str, str, int]]] = {}
            won: dict[tuple[int, int], list[tuple[str, str, int]]] = {}
            for j, (i, k, line_id, sku, qty) in enumerate(pieces):
                row = result[j]
                if not row["won"]:
                    lost.setdefault(i, []).append((line_id, sku, qty))
                    continue
                m, _, site_id, _ = requests[j]
                won.setdefault((i, k), []).append((line_id, sku, qty))
                touched.setdefault(m, set()).add((sku, site_id))
                orders[i].setdefault("_ledger", []).append(dict(
                    merchant_id=m, sku=sku, site_id=site_id, cause="order", actor=orders[i]["_actor"],
                    ref=orders[i]["order_id"],
                    d_reserved=qty, on_hand_after=row["on_hand"], reserved_after=row["reserved"]))
                if row["low_stock_threshold"]:
                    after = {k2: row[k2] for k2 in ("on_hand", "reserved", "safety_stock", "low_stock_threshold")}
                    self.after_stock_change(conn, m, sku, site_id, dict(after, reserved=row["reserved"] - qty), after)
            for (i, k), lines in sorted(won.items()):
                self.create_fo(conn, orders[i], plans[i].shipments[k], lines)
                for line_id, _sku, q in lines:
                    changes[i].setdefault(line_id, [0, 0])[0] += q
                allocated[i] += sum(q for _, _, q in lines)
            for i in plans:
                if lost.get(i):
                    log_event(logger, "reservation_race_lost", order_id=orders[i]["order_id"], lines=len(lost[i]))
                    remaining[i] = lost[i] + list(plans[i].unplaced)
                else:   # nothing changed since routing: what is unplaced stays unplaced
                    final[i] += list(plans[i].unplaced)
                    remaining[i] = []
        for m, keys in sorted(touched.items()):
            webhooks.inventory_changed(conn, m, sorted(keys))
        out = []
        ts = None
        for i, order in enumerate(orders):
            if i in failed:
                out.append(failed[i])
                continue
            backordered = 0
            for line_id, sku, qty in final[i] + remaining[i]:
                ts = ts or now_iso()
                order.setdefault("_bo_rows", []).append({"m": order["merchant_id"], "o": order["order_id"],
                                                         "l": line_id, "sku": sku, "q": qty})
                order.setdefault("_backorders", []).append(
                    {"line_id": line_id, "sku": sku, "qty": qty, "status": "open", "created_at": ts})
                changes[i].setdefault(line_id, [0, 0])[1] += qty
                backordered += qty
            order["_routing_log"] = logs[i]   # the store encodes it with the order row
            for ln in order["_lines"]:
                a, b = changes[i].get(ln["line_id"], (0, 0))
                ln["qty_allocated"] += a
                ln["qty_backordered"] += b
            out.append((allocated[i], backordered))
        return out

    def sku_weights(self, conn: Connection, merchant_id: str, wanted: set[str]) -> dict[str, int]:
        """{sku: weight_g} of the wanted SKUs that exist (cached per process; SKUs are never deleted)."""
        with self._lock:
            cache = self._sku_cache.setdefault(merchant_id, {})
            hit = {s: cache[s] for s in wanted if s in cache}
        if len(hit) == len(wanted):
            return hit
        found = self.q.existing_skus(conn, merchant_id, wanted)
        with self._lock:
            self._sku_cache.setdefault(merchant_id, {}).update(found)
        return found

    def invalidate_skus(self, merchant_id: str | None = None) -> None:
        with self._lock:
            if merchant_id is None:
                self._sku_cache.clear()
            else:
                self._sku_cache.pop(merchant_id, None)

    def create_fo(self, conn: Connection, order: dict, sh: PlannedShipment, lines: list[tuple[str, str, int]],
                  *, status: str = "released") -> str:
        fo_id = new_id("FO")
        tracking = tracking_number(sh.carrier, fo_id)
        fo = dict(fo_id=fo_id, order_id=order["order_id"], merchant_id=order["merchant_id"], site_id=sh.site_id,
                  service=sh.service, carrier=sh.carrier, carrier_service=sh.carrier_service,
                  tracking_number=tracking, promised_date=sh.promised_date, ship_by=sh.ship_by, status=status)
        fo_lines = [dict(line_id=l_id, sku=sku, qty=q, qty_reserved=q) for l_id, sku, q in lines]
        if order.get("_new"):
            order.setdefault("_fo_rows", []).append((fo, fo_lines))   # written with the order row
        else:
            self.q.insert_fo(conn, fo, fo_lines)
        sites_now = sorted(set(filter(None, (order.get("sites") or "").split(","))) | {sh.site_id})
        order["sites"] = ",".join(sites_now)
        order["promised_date"] = max(filter(None, [order.get("promised_date"), sh.promised_date]))
        if order.get("_new"):
            ts = now_iso()
            view = {k: v for k, v in fo.items() if k not in ("order_id", "merchant_id")}
            view.update(created_at=ts, updated_at=ts, lines=[dict(ln, qty_shipped=0) for ln in fo_lines])
            order.setdefault("_fos", []).append(view)
        if status == "released":
            emit = self.emit_release if not order.get("_new") else (
                lambda c, o, f: order.setdefault("_emits", []).append(f))  # intake sends them last
            emit(conn, order, {"fo_id": fo_id, "site_id": sh.site_id, "service": sh.service,
                                            "carrier": sh.carrier, "tracking_number": tracking,
                                            "promised_date": sh.promised_date, "ship_by": sh.ship_by,
                                            "lines": [{"line_id": a, "sku": b, "qty": c} for a, b, c in lines]})
        return fo_id

    def emit_release(self, conn: Connection, order: dict, fo: dict) -> None:
        """Send a fulfillment order to its site (down event, same transaction)."""
        central_journal.emit(conn, fo["site_id"], "fulfillment_order.released", self.release_body(order, fo),
                             merchant_id=order["merchant_id"])

    @staticmethod
    def release_body(order: dict, fo: dict) -> dict:
        """The ``fulfillment_order.released`` body: everything the site needs to pick, pack and label offline."""
        ship_to = order.get("_ship_to") or (json.loads(order["ship_to"]) if isinstance(order["ship_to"], str)
                                            else order["ship_to"])
        return {
            "fo_id": fo["fo_id"], "order_id": order["order_id"], "channel_order_id": order["channel_order_id"],
            "service": fo["service"], "carrier": fo["carrier"], "tracking_number": fo["tracking_number"],
            "promised_date": fo["promised_date"], "ship_by": fo["ship_by"], "urgent": bool(order.get("urgent")),
            "ship_to": edge_address(ship_to), "gift_message": order.get("gift_message"),
            "lines": [{"line_id": ln["line_id"], "sku": ln["sku"], "qty": ln["qty"]} for ln in fo["lines"]],
        }

    def settle_events(self, order: dict, allocated: int, backordered: int, *, actor: str) -> list[dict]:
        """Walk the lifecycle after an allocation pass in memory; returns the timeline events."""
        events = []
        for target, kind, reason in lc.allocation_path(order["status"], allocated, backordered):
            events.append({"order_id": order["order_id"], "merchant_id": order["merchant_id"], "actor": actor,
                           "kind": kind, "from_status": order["status"] if kind == target else None,
                           "to_status": target if kind == target else None, "reason": reason})
            if kind == target:
                order["status"] = target
        return events

    def settle_after_allocation(self, conn: Connection, order: dict, allocated: int, backordered: int, *,
                                actor: str) -> None:
        """Walk the lifecycle after an allocation pass (timeline gets every step), one UPDATE."""
        before = order["status"]
        events = self.settle_events(order, allocated, backordered, actor=actor)
        if order["status"] != before:
            self.q.update_order(conn, order["order_id"], status=order["status"])
        self.q.add_events(conn, events)

    # ------------------------------------------------------------------ reservations / backorders
    def release_fo(self, conn: Connection, fo: dict, *, cause: str, actor: str, ref: str) -> list[str]:
        """Release every unit still reserved by a fulfillment order; returns the SKUs freed."""
        freed = []
        for ln in fo["lines"]:
            if ln["qty_reserved"] > 0:
                before, after = self.q.apply_delta(conn, fo["merchant_id"], ln["sku"], fo["site_id"], cause=cause,
                                                   actor=actor, ref=ref, d_reserved=-ln["qty_reserved"])
                self.q.update_fo_line(conn, fo["fo_id"], ln["line_id"], qty_reserved=0)
                freed.append(ln["sku"])
        webhooks.inventory_changed(conn, fo["merchant_id"], ((sku, fo["site_id"]) for sku in freed))
        return freed

    def fill_backorders(self, conn: Connection, merchant_id: str, sku: str, *, actor: str) -> int:
        """New stock allocates backorders first, oldest first. Returns units allocated."""
        total = 0
        open_bos = self.q.open_backorders(conn, merchant_id, sku)
        if not open_bos:
            return 0
        available = sum(v for (s, _site), v in self.available_map(conn, merchant_id, {sku}).items() if s == sku)
        for bo_id, qty in backorder_fill_plan(open_bos, available):
            bo = next(b for b in open_bos if b["id"] == bo_id)
            order = self.q.get_order(conn, bo["order_id"], merchant_id, for_update=True)
            if order is None or order["status"] in (lc.CANCELLED, lc.ON_HOLD, lc.EXCEPTION, lc.SHIPPED,
                                                    lc.DELIVERED):
                continue
            got, _ = self.allocate(conn, order, [(bo["line_id"], sku, qty)], actor=actor, backorder_rest=False)
            if got <= 0:
                break
            self.q.reduce_backorder(conn, bo_id, got)
            self.q.update_line(conn, order["order_id"], bo["line_id"], qty_backordered=-got)
            self.note(conn, order, "backorder_allocated", actor=actor, reason=f"{got} x {sku} allocated from new stock")
            if order["status"] == lc.BACKORDERED:
                self.settle_after_allocation(conn, order, got, 0, actor=actor)
            total += got
        return total

    def stock_delta(self, conn: Connection, merchant_id: str, sku: str, site_id: str, *, cause: str, actor: str,
                    ref: str = "", d_on_hand: int = 0, d_reserved: int = 0, d_in_transit: int = 0,
                    d_quarantine: int = 0, webhook: bool = True) -> dict:
        before, after = self.q.apply_delta(conn, merchant_id, sku, site_id, cause=cause, actor=actor, ref=ref,
                                           d_on_hand=d_on_hand, d_reserved=d_reserved, d_in_transit=d_in_transit,
                                           d_quarantine=d_quarantine)
        self.after_stock_change(conn, merchant_id, sku, site_id, before, after, updated_webhook=webhook)
        if avail_of(after["on_hand"], after["reserved"], after["safety_stock"]) > avail_of(
                before["on_hand"], before["reserved"], before["safety_stock"]):
            self.fill_backorders(conn, merchant_id, sku, actor=actor)
        return after

    def stock_deltas(self, conn: Connection, site_id: str, items: list[dict]) -> None:
        """``stock_delta`` for many changes at one site (dicts with merchant_id, sku, cause, actor, ref, d_*),
        with the same effects as calling it for each in turn: set-based balances and ledger rows
        (``apply_deltas``), a low-stock alert for each change that crosses its threshold, one coalesced
        ``inventory.updated`` per (sku, site). When a (merchant, sku) of the batch has open backorders
        (new stock allocates them first, change by change) the changes go one by one instead."""
        by_merchant: dict[str, set[str]] = {}
        for it in items:
            by_merchant.setdefault(it["merchant_id"], set()).add(it["sku"])
        if any(self.q.backordered_by_sku(conn, m, skus) for m, skus in by_merchant.items()):
            for it in items:
                self.stock_delta(conn, it["merchant_id"], it["sku"], site_id, cause=it["cause"], actor=it["actor"],
                                 ref=it.get("ref", ""), d_on_hand=it.get("d_on_hand", 0),
                                 d_reserved=it.get("d_reserved", 0), d_in_transit=it.get("d_in_transit", 0),
                                 d_quarantine=it.get("d_quarantine", 0))
            return
        for it, (before, after) in zip(items, self.q.apply_deltas(conn, site_id, items)):
            self.after_stock_change(conn, it["merchant_id"], it["sku"], site_id, before, after)
        for m, skus in by_merchant.items():
            webhooks.inventory_changed(conn, m, ((sku, site_id) for sku in sorted(skus)))

    # ------------------------------------------------------------------ order loading
    def order_view(self, conn: Connection, order: dict) -> dict:
        out = dict(order)
        out["ship_to"] = json.loads(order["ship_to"]) if isinstance(order["ship_to"], str) else order["ship_to"]
        out["routing_log"] = json.loads(order["routing_log"] or "[]")
        out["urgent"] = bool(out["urgent"])
        out.pop("request_hash", None)
        out.pop("ship_to_name", None)
        out["lines"] = [{k: v for k, v in ln.items() if k not in ("order_id", "merchant_id")}
                        for ln in self.q.order_lines(conn, order["order_id"])]
        out["fulfillment_orders"] = [
            {**{k: v for k, v in fo.items() if k not in ("merchant_id", "order_id")},
             "lines": [{k: v for k, v in ln.items() if k != "fo_id"} for ln in fo["lines"]]}
            for fo in self.q.fos_for_order(conn, order["order_id"])]
        out["backorders"] = [{k: b[k] for k in ("line_id", "sku", "qty", "status", "created_at")}
                             for b in self.q.order_backorders(conn, order["order_id"])]
        return out


# ---------------------------------------------------------------------- routing adapter
def default_router() -> Callable[..., Plan]:
    """Order routing through ``central.routing.core.route`` (network data shared with checkout)."""
    from central.routing_adapter import make_router

    return make_router()


def json_default(o: Any) -> Any:
    return str(o)


class FloorOps(Ops):
    """Physical facts reported by sites (shipments, picks, short picks, transfers) — applied, never refused."""

    def _order_for_fo(self, conn: Connection, fo_id: str, order_id: str | None = None):
        fo = self.q.get_fo(conn, fo_id)
        if fo is None:
            return None, None
        order = self.q.get_order(conn, order_id or fo["order_id"], for_update=True)
        return fo, order

    def _force(self, conn: Connection, order: dict, target: str, *, actor: str, reason: str) -> str:
        """Move the order; a physical fact that breaks the lifecycle turns the order into an exception."""
        if order["status"] == target:
            return target
        if lc.can_transition(order["status"], target):
            self.transition(conn, order, target, actor=actor, reason=reason)
            return target
        if order["status"] != lc.EXCEPTION:
            self.transition(conn, order, lc.EXCEPTION, actor=actor,
                            reason=f"{reason} while order was {order['status']}")
            self.notify(conn, order["merchant_id"], "order.exception",
                        {"order_id": order["order_id"], "channel_order_id": order["channel_order_id"],
                         "reason": f"{reason} while order was {order['status']}"})
        return lc.EXCEPTION

    def apply_shipment(self, conn: Connection, body: dict, *, site_id: str, actor: str) -> None:
        fo, order = self._order_for_fo(conn, body["fo_id"], body.get("order_id"))
        if fo is None or order is None:
            raise LookupError(f"unknown fulfillment order {body['fo_id']}")
        m = fo["merchant_id"]
        by_line = {ln["line_id"]: ln for ln in fo["lines"]}
        for ln in body["lines"]:
            fl = by_line.get(ln["line_id"])
            reserved_part = min(ln["qty"], fl["qty_reserved"]) if fl else 0
            self.stock_delta(conn, m, ln["sku"], fo["site_id"], cause="shipment", actor=actor, ref=fo["fo_id"],
                             d_on_hand=-ln["qty"], d_reserved=-reserved_part)
            if fl:
                self.q.update_fo_line(conn, fo["fo_id"], ln["line_id"], qty_reserved=fl["qty_reserved"] - reserved_part,
                                      qty_shipped=fl["qty_shipped"] + ln["qty"])
            self.q.update_line(conn, order["order_id"], ln["line_id"], qty_shipped=ln["qty"])
        self.q.update_fo(conn, fo["fo_id"], status="shipped", tracking_number=body["tracking_number"],
                         carrier=body["carrier"])
        lines = self.q.order_lines(conn, order["order_id"])
        ordered = sum(ln["qty"] - ln["qty_cancelled"] for ln in lines)
        shipped = sum(ln["qty_shipped"] for ln in lines)
        # a cancelled order, or a cancelled shipment of it (e.g. the unshipped remainder of a partly shipped order)
        was_cancelled = order["status"] == lc.CANCELLED or fo["status"] == "cancelled"
        target = lc.status_after_shipment(ordered, shipped, was_cancelled)
        reason = f"shipped {body['tracking_number']} from {site_id}"
        if was_cancelled:
            if order["status"] != lc.EXCEPTION:
                self.transition(conn, order, lc.EXCEPTION, actor=actor, reason=f"shipment after cancel: {reason}")
            else:
                self.note(conn, order, "shipment_after_cancel", actor=actor, reason=reason)
            self.notify(conn, m, "order.exception", {"order_id": order["order_id"],
                                                     "channel_order_id": order["channel_order_id"],
                                                     "reason": "shipped after it was cancelled"})
            return
        got = self._force(conn, order, target, actor=actor, reason=reason)
        if got in (lc.SHIPPED, lc.PARTIALLY_SHIPPED):
            self.notify(conn, m, "order.shipped", {
                "order_id": order["order_id"], "channel_order_id": order["channel_order_id"], "status": got,
                "fo_id": fo["fo_id"], "site_id": fo["site_id"], "carrier": body["carrier"],
                "tracking_number": body["tracking_number"], "shipped_at": body["shipped_at"],
                "lines": [{"line_id": ln["line_id"], "sku": ln["sku"], "qty": ln["qty"]} for ln in body["lines"]],
                "cartons": [{"seq": c["seq"], "tracking_number": c["tracking_number"], "carton": c.get("carton") or None,
                             "weight_g": c["weight_g"], "lines": [{"line_id": ln["line_id"], "sku": ln["sku"],
                                                                   "qty": ln["qty"]} for ln in c["lines"]]}
                            for c in body.get("cartons") or []]})

    def apply_pick(self, conn: Connection, body: dict, *, actor: str) -> None:
        fo, order = self._order_for_fo(conn, body["fo_id"])
        if fo is None or order is None:
            raise LookupError(f"unknown fulfillment order {body['fo_id']}")
        if fo["status"] == "released":
            self.q.update_fo(conn, fo["fo_id"], status="picking")
        if order["status"] in (lc.RELEASED, lc.ALLOCATED):
            self.transition(conn, order, lc.PICKING, actor=actor, reason=f"first pick at {fo['site_id']}")

    def apply_pack(self, conn: Connection, body: dict, *, actor: str) -> None:
        fo, order = self._order_for_fo(conn, body["fo_id"])
        if fo is None or order is None:
            raise LookupError(f"unknown fulfillment order {body['fo_id']}")
        self.q.update_fo(conn, fo["fo_id"], status="packed")
        others = [f for f in self.q.fos_for_order(conn, order["order_id"])
                  if f["fo_id"] != fo["fo_id"] and f["status"] in ("released", "picking")]
        if not others and order["status"] in (lc.RELEASED, lc.PICKING):
            self.transition(conn, order, lc.PACKED, actor=actor,
                            reason=f"packed carton {body['carton']} ({body['weight_g']} g)")

    def apply_short_pick(self, conn: Connection, body: dict, *, actor: str) -> None:
        """Stock is not there: on_hand and the reservation drop; the missing units re-route or backorder."""
        fo, order = self._order_for_fo(conn, body["fo_id"])
        if fo is None or order is None:
            raise LookupError(f"unknown fulfillment order {body['fo_id']}")
        q = body["qty_short"]
        fl = next((ln for ln in fo["lines"] if ln["line_id"] == body["line_id"]), None)
        reserved_part = min(q, fl["qty_reserved"]) if fl else 0
        self.stock_delta(conn, fo["merchant_id"], body["sku"], fo["site_id"], cause="short_pick", actor=actor,
                         ref=fo["fo_id"], d_on_hand=-q, d_reserved=-reserved_part)
        if fl is None:
            return
        short = min(q, fl["qty"] - fl["qty_shipped"])
        self.q.update_fo_line(conn, fo["fo_id"], fl["line_id"], qty=fl["qty"] - short,
                              qty_reserved=fl["qty_reserved"] - reserved_part)
        self.q.update_line(conn, order["order_id"], fl["line_id"], qty_allocated=-short)
        self.note(conn, order, "short_pick", actor=actor, reason=f"{short} x {body['sku']} short at {fo['site_id']}")
        if short > 0 and order["status"] not in (lc.CANCELLED, lc.EXCEPTION):
            got, back = self.allocate(conn, order, [(fl["line_id"], body["sku"], short)], actor=actor)
            self.note(conn, order, "rerouted", actor=actor,
                      reason=f"{got} unit(s) re-routed, {back} backordered after short pick")

    def transfer_ship(self, conn: Connection, transfer: dict, lines: list[dict], *, actor: str) -> None:
        for ln in lines:
            self.stock_delta(conn, transfer["merchant_id"], ln["sku"], transfer["from_site"], cause="transfer_out",
                             actor=actor, ref=transfer["transfer_id"], d_on_hand=-ln["qty"])
            self.stock_delta(conn, transfer["merchant_id"], ln["sku"], transfer["to_site"], cause="transfer_out",
                             actor=actor, ref=transfer["transfer_id"], d_in_transit=ln["qty"], webhook=False)
        self.q.set_transfer_status(conn, transfer["transfer_id"], "shipped")

    def transfer_receive(self, conn: Connection, transfer: dict, lines: list[dict], *, actor: str) -> None:
        for ln in lines:
            self.stock_delta(conn, transfer["merchant_id"], ln["sku"], transfer["to_site"], cause="transfer_in",
                             actor=actor, ref=transfer["transfer_id"], d_in_transit=-ln["qty"], d_on_hand=ln["qty"])
        self.q.set_transfer_status(conn, transfer["transfer_id"], "received")
