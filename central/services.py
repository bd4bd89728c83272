"""Central use cases: each is one transaction composed of pure core rules and store queries."""
from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import itertools
import json
import logging
import secrets
import time
from typing import Any

from central import webhooks
from central.core import accounts
from central.core import lifecycle as lc
from central.core import validation as v
from central.core.allocation import available as avail_of, oversold_units, rebuild_balances, tracking_number
from central.errors import Conflict, Forbidden, InvalidTransition, NotFound, Unauthorized, ValidationFailed
from central.ops import ACTIVE_FO, FloorOps, edge_address
from central.routing.core.promise import days_off
from central.store import CentralStore, new_id, now_iso, shipment_cartons_for
from floorsync.log import log_event
from sync import central_journal

logger = logging.getLogger("central.services")


def _invalid(exc: v.Invalid) -> ValidationFailed:
    return ValidationFailed(str(exc), exc.fields)


def validated(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except v.Invalid as exc:
        raise _invalid(exc) from exc


class CentralService:
    """The API-level operations. ``ops`` holds routing + allocation (shared with the sync handlers)."""

    def __init__(self, store: CentralStore, *, ops: FloorOps | None = None, max_sync_lag_s: float = 900.0):
        self.store = store
        self.ops = ops or FloorOps(store, max_sync_lag_s=max_sync_lag_s)

    # ------------------------------------------------------------------ orders
    def create_order(self, merchant_id: str, payload: Any, *, actor: str = "api",
                     replacement_of: dict | None = None) -> tuple[dict, bool]:
        """Idempotent intake. Returns (order view, created). Same replay -> existing; different -> Conflict."""
        order_in = validated(v.validate_order, payload)
        digest = hashlib.sha256(json.dumps(order_in, sort_keys=True).encode()).hexdigest()
        job = (merchant_id, order_in, digest, actor)
        for attempt in range(5):   # group commit: a twin of this request in the same batch goes first
            result, created = self.store.run_batched(self._place_orders, job, alone=attempt == 4)
            if created is not None:
                break
        if not created:
            return self.get_order(merchant_id, result), False
        if logger.isEnabledFor(logging.DEBUG):   # per order: skip building the event when nobody listens
            log_event(logger, "order_created", level=logging.DEBUG, merchant_id=merchant_id,
                      order_id=result["order_id"], status=result["status"])
        return self._new_order_view(result), True

    def _place_orders(self, conn, jobs: list[tuple[str, dict, str, str]]) -> list:
        """Intake of a batch of validated orders [(merchant_id, order_in, request digest, actor)] in the
        caller's transaction (``store.run_batched``: many under group commit, else one): one read statement
        (duplicates + stock), routing in memory, ONE reservation statement, ONE insert statement for every
        row of every order (PostgreSQL), then the down events.

        Per job: (order, True) created; (order_id, False) an identical replay; (None, None) a twin of an
        earlier job of this batch (the caller submits it again); or a Conflict / ValidationFailed to raise
        (that job wrote nothing)."""
        keys = [(m, o["channel"], o["channel_order_id"]) for m, o, _, _ in jobs]
        skus_by_m: dict[str, set[str]] = {}
        for m, o, _, _ in jobs:
            skus_by_m.setdefault(m, set()).update(ln["sku"] for ln in o["lines"])
        existing, inv_rows = self.store.intake_prefetch_many(conn, keys, skus_by_m)
        for m, skus in skus_by_m.items():   # the batch's SKUs in one query (cached per process afterwards)
            self.ops.sku_weights(conn, m, skus)
        results: list[Any] = [None] * len(jobs)
        first_of: set[tuple[str, str, str]] = set()
        now = now_iso()   # one timestamp per batch (committed together)
        new: list[tuple[int, dict, list[dict], list[dict]]] = []   # (job, order, lines, events)
        placing: list[tuple[int, list, dict]] = []
        for n, (merchant_id, order_in, digest, actor) in enumerate(jobs):
            prior = existing.get(keys[n])
            if prior is not None:
                results[n] = (Conflict(f"order {order_in['channel']}/{order_in['channel_order_id']} already exists "
                                       f"with different content (order {prior['order_id']})",
                                       {"channel_order_id": "already used with a different body"})
                              if prior["request_hash"] != digest else (prior["order_id"], False))
                continue
            if keys[n] in first_of:
                results[n] = (None, None)
                continue
            weights = self.ops.sku_weights(conn, merchant_id, {ln["sku"] for ln in order_in["lines"]})
            unknown = {f"lines[{i}].sku": f"unknown SKU {ln['sku']}" for i, ln in enumerate(order_in["lines"])
                       if ln["sku"] not in weights}
            if unknown:
                results[n] = ValidationFailed(f"{len(unknown)} unknown SKU(s)", unknown)
                continue
            if order_in["replacement_of"] and self.store.get_order(conn, order_in["replacement_of"],
                                                                   merchant_id) is None:
                results[n] = ValidationFailed("replacement_of names no order of yours",
                                              {"replacement_of": "unknown order"})
                continue
            first_of.add(keys[n])
            lines = [{"line_id": ln["line_id"], "sku": ln["sku"], "qty": ln["qty"], "qty_allocated": 0,
                      "qty_backordered": 0} for ln in order_in["lines"]]
            order = dict(order_id=new_id("O"), merchant_id=merchant_id, channel=order_in["channel"],
                         channel_order_id=order_in["channel_order_id"], status=lc.RECEIVED, held_from=None,
                         service=order_in["service"], ship_to=json.dumps(order_in["ship_to"], sort_keys=True),
                         ship_to_name=order_in["ship_to"]["name"], gift_message=order_in["gift_message"],
                         note=order_in["note"], urgent=order_in["urgent"], replacement_of=order_in["replacement_of"],
                         request_hash=digest, units=sum(ln["qty"] for ln in order_in["lines"]),
                         promised_date=None, sites="", routing_log="[]", created_at=now, updated_at=now,
                         _new=True, _lines=lines, _ship_to=order_in["ship_to"], _actor=actor)
            events = [{"order_id": order["order_id"], "merchant_id": merchant_id, "actor": actor, "kind": "received",
                       "to_status": lc.RECEIVED, "reason": f"via {order_in['channel']}",
                       "detail": {"replacement_of": order_in["replacement_of"]} if order_in["replacement_of"] else {}}]
            if order_in["hold"]:
                events.append({"order_id": order["order_id"], "merchant_id": merchant_id, "actor": actor,
                               "kind": lc.ON_HOLD, "from_status": lc.RECEIVED, "to_status": lc.ON_HOLD,
                               "reason": "held at intake"})
                order.update(status=lc.ON_HOLD, held_from=lc.RECEIVED)
            else:
                placing.append((n, [(ln["line_id"], ln["sku"], ln["qty"]) for ln in order_in["lines"]], weights))
            new.append((n, order, lines, events))
        by_job = {n: (order, events) for n, order, _, events in new}
        if placing:
            outcome = self.ops.allocate_new(conn, [by_job[n][0] for n, _, _ in placing], [nd for _, nd, _ in placing],
                                            weights=[w for _, _, w in placing], inventory_rows=inv_rows)
            for (n, _, _), res in zip(placing, outcome):
                order, events = by_job[n]
                if isinstance(res, BaseException):   # refused by routing before anything was reserved for it
                    results[n] = res
                    continue
                events += self.ops.settle_events(order, res[0], res[1], actor=jobs[n][3])
        new = [x for x in new if results[x[0]] is None]
        # down events last, by site (a fixed lock order on the per-site sequence rows, held until commit)
        emits = sorted(((fo["site_id"], k, order, fo) for k, (_, order, _, _) in enumerate(new)
                        for fo in order.pop("_emits", [])), key=lambda e: (e[0], e[1]))
        if new:
            self.store.insert_new_orders(conn, [(order, lines, events) for _, order, lines, events in new])
        for site_id, group in itertools.groupby(emits, key=lambda e: e[0]):
            central_journal.emit_many(conn, site_id, [("fulfillment_order.released", self.ops.release_body(order, fo),
                                                       order["merchant_id"]) for _, _, order, fo in group])
        for n, order, _, _ in new:
            results[n] = (order, True)
        return results

    @staticmethod
    def _new_order_view(order: dict) -> dict:
        """The API view of an order just created, built from memory (no read-back)."""
        view = {k: v for k, v in order.items() if not k.startswith("_") and k not in ("request_hash", "ship_to_name")}
        view["ship_to"] = order.get("_ship_to") or json.loads(order["ship_to"])
        view["routing_log"] = order["_routing_log"] if "_routing_log" in order else json.loads(order["routing_log"])
        view["urgent"] = bool(order["urgent"])
        view["lines"] = sorted(({**ln, "qty_shipped": 0, "qty_cancelled": 0} for ln in order["_lines"]),
                               key=lambda ln: ln["line_id"])
        view["fulfillment_orders"] = order.get("_fos", [])
        view["backorders"] = order.get("_backorders", [])
        return view

    def get_order(self, merchant_id: str | None, order_id: str) -> dict:
        with self.store.read() as conn:
            order = self.store.get_order(conn, order_id, merchant_id)
            if order is None:
                raise NotFound(f"no order {order_id}")
            view = self.ops.order_view(conn, order)
            cartons = shipment_cartons_for(conn, (fo["fo_id"] for fo in view["fulfillment_orders"]))
            for fo in view["fulfillment_orders"]:
                fo["cartons"] = [{k: c[k] for k in ("seq", "tracking_number", "carton", "weight_g", "lines")}
                                 for c in cartons.get(fo["fo_id"], [])]
            return view

    def order_timeline(self, merchant_id: str | None, order_id: str) -> list[dict]:
        with self.store.read() as conn:
            if self.store.get_order(conn, order_id, merchant_id) is None:
                raise NotFound(f"no order {order_id}")
            return self.store.order_events(conn, order_id)

    def list_orders(self, merchant_id: str | None, filters: dict, *, limit: int = 50,
                    cursor: str | None = None) -> tuple[list[dict], str | None]:
        if cursor:
            try:
                self.store.decode_cursor(cursor)
            except Exception as exc:  # noqa: BLE001 - any garbage cursor is a client error
                raise ValidationFailed("invalid cursor", {"cursor": "not a cursor from a previous page"}) from exc
        with self.store.read() as conn:
            return self.store.list_orders(conn, merchant_id, filters, limit=limit, cursor=cursor)

    def status_counts(self, merchant_id: str | None, filters: dict | None = None) -> dict[str, int]:
        with self.store.read() as conn:
            return self.store.status_counts(conn, merchant_id, filters)

    def _mutate(self, merchant_id: str, order_id: str, fn) -> dict:
        def tx(conn):
            order = self.store.get_order(conn, order_id, merchant_id, for_update=True)
            if order is None:
                raise NotFound(f"no order {order_id}")
            fn(conn, order)
            return order_id
        self.store.run(tx)
        return self.get_order(merchant_id, order_id)

    def cancel_order(self, merchant_id: str, order_id: str, reason: str = "", *, actor: str = "api") -> dict:
        def fn(conn, order):
            lines = self.store.order_lines(conn, order_id)
            open_units = sum(ln["qty"] - ln["qty_shipped"] - ln["qty_cancelled"] for ln in lines)
            shipped_units = sum(ln["qty_shipped"] for ln in lines)
            try:
                target = lc.cancel_outcome(order["status"], open_units, shipped_units)
            except lc.TransitionRefused as exc:
                err = InvalidTransition(order["status"], lc.CANCELLED)
                if isinstance(exc, lc.NothingToCancel):
                    err.message = str(exc)
                    err.args = (str(exc),)
                raise err from exc
            freed: set[str] = set()
            for fo in self.store.fos_for_order(conn, order_id):
                if fo["status"] == "shipped":   # shipped short of some lines: what it still reserves is freed
                    freed |= set(self.ops.release_fo(conn, fo, cause="cancel", actor=actor, ref=order_id))
                if fo["status"] not in ACTIVE_FO:
                    continue
                freed |= set(self.ops.release_fo(conn, fo, cause="cancel", actor=actor, ref=order_id))
                self.store.update_fo(conn, fo["fo_id"], status="cancelled")
                central_journal.emit(conn, fo["site_id"], "order.cancelled",
                                     {"order_id": order_id, "fo_id": fo["fo_id"], "reason": reason or "cancelled"},
                                     merchant_id=merchant_id)
            self.store.cancel_backorders(conn, order_id)
            cancelled_lines = []
            for ln in lines:
                open_qty = ln["qty"] - ln["qty_shipped"] - ln["qty_cancelled"]
                if open_qty:
                    self.store.update_line(conn, order_id, ln["line_id"], qty_cancelled=open_qty,
                                           qty_backordered=-ln["qty_backordered"],
                                           qty_allocated=-max(0, ln["qty_allocated"] - ln["qty_shipped"]))
                    cancelled_lines.append({"line_id": ln["line_id"], "sku": ln["sku"], "qty_cancelled": open_qty,
                                            "qty_shipped": ln["qty_shipped"]})
            if target == lc.CANCELLED:
                self.ops.transition(conn, order, lc.CANCELLED, actor=actor, reason=reason)
            else:   # partly shipped: the remainder is cancelled, the order is complete as shipped
                why = (f"{reason + ': ' if reason else ''}cancelled {open_units} unshipped unit(s); "
                       f"{shipped_units} shipped unit(s) stay shipped")
                before = order["status"]
                self.store.update_order(conn, order_id, status=target, held_from=None)
                self.store.add_events(conn, [{"order_id": order_id, "merchant_id": merchant_id, "actor": actor,
                                              "kind": "remainder_cancelled", "from_status": before,
                                              "to_status": target, "reason": why,
                                              "detail": {"lines": cancelled_lines}}])
            self.ops.notify(conn, merchant_id, "order.cancelled", {
                "order_id": order_id, "channel_order_id": order["channel_order_id"], "reason": reason,
                "status": target, "cancelled_units": open_units, "shipped_units": shipped_units,
                "lines": cancelled_lines})
            for sku in sorted(freed):
                self.ops.fill_backorders(conn, merchant_id, sku, actor=actor)
        return self._mutate(merchant_id, order_id, fn)

    def hold_order(self, merchant_id: str, order_id: str, reason: str, *, actor: str = "api") -> dict:
        def fn(conn, order):
            if order["status"] not in lc.HOLDABLE:
                raise InvalidTransition(order["status"], lc.ON_HOLD)
            held_from = order["status"]
            for fo in self.store.fos_for_order(conn, order_id):
                if fo["status"] in ACTIVE_FO:
                    central_journal.emit(conn, fo["site_id"], "order.hold",
                                         {"order_id": order_id, "fo_id": fo["fo_id"], "reason": reason or "hold"},
                                         merchant_id=merchant_id)
            self.ops.transition(conn, order, lc.ON_HOLD, actor=actor, reason=reason, extra={"held_from": held_from})
        return self._mutate(merchant_id, order_id, fn)

    def release_order(self, merchant_id: str, order_id: str, reason: str = "", *, actor: str = "api") -> dict:
        def fn(conn, order):
            if order["status"] != lc.ON_HOLD:
                raise InvalidTransition(order["status"], "released from hold")
            back_to = order["held_from"] or lc.RECEIVED
            fos = [fo for fo in self.store.fos_for_order(conn, order_id) if fo["status"] in ACTIVE_FO]
            for fo in fos:
                central_journal.emit(conn, fo["site_id"], "order.hold_released",
                                     {"order_id": order_id, "fo_id": fo["fo_id"]}, merchant_id=merchant_id)
            self.ops.transition(conn, order, back_to, actor=actor, reason=reason or "hold released",
                                kind="hold_released", extra={"held_from": None})
            if back_to == lc.RECEIVED and not fos:
                need = [(ln["line_id"], ln["sku"], ln["qty"]) for ln in self.store.order_lines(conn, order_id)]
                got, back = self.ops.allocate(conn, order, need, actor=actor)
                self.ops.settle_after_allocation(conn, order, got, back, actor=actor)
        return self._mutate(merchant_id, order_id, fn)

    def _editable_fos(self, conn, order: dict, what: str) -> list[dict]:
        if order["status"] not in lc.EDITABLE:
            raise InvalidTransition(order["status"], what)
        fos = [fo for fo in self.store.fos_for_order(conn, order["order_id"]) if fo["status"] in ACTIVE_FO]
        if any(fo["status"] == "packed" for fo in fos):
            raise InvalidTransition("packed", what, "fulfillment order")
        return fos

    def edit_address(self, merchant_id: str, order_id: str, payload: Any, *, actor: str = "api") -> dict:
        ship_to = validated(v.validate_address_change, payload)

        def fn(conn, order):
            fos = self._editable_fos(conn, order, "address change")
            self.store.update_order(conn, order_id, ship_to=json.dumps(ship_to, sort_keys=True),
                                    ship_to_name=ship_to["name"])
            for fo in fos:
                central_journal.emit(conn, fo["site_id"], "order.address_changed",
                                     {"order_id": order_id, "fo_id": fo["fo_id"], "ship_to": edge_address(ship_to)},
                                     merchant_id=merchant_id)
            self.ops.note(conn, order, "address_changed", actor=actor,
                          detail={"before": json.loads(order["ship_to"]), "after": ship_to})
        return self._mutate(merchant_id, order_id, fn)

    def change_service(self, merchant_id: str, order_id: str, payload: Any, *, actor: str = "api") -> dict:
        service = validated(v.validate_service_change, payload)

        def fn(conn, order):
            fos = self._editable_fos(conn, order, "service change")
            before = order["service"]
            order["service"] = service
            self.store.update_order(conn, order_id, service=service)
            sites = {s["site_id"]: s for s in self.ops.merchant_sites(conn, merchant_id)}
            promised = []
            for fo in fos:
                lines = [(ln["line_id"], ln["sku"], ln["qty"]) for ln in fo["lines"]]
                avail = {(sku, fo["site_id"]): q for _, sku, q in lines}
                site = dict(sites[fo["site_id"]], stale=False, printers_ok=True, sync_lag_s=0.0, active=True)
                plan = self.ops.router(order=order, lines=lines, sites=[site], available=avail,
                                       weights=self.store.existing_skus(conn, merchant_id, [s for _, s, _ in lines]),
                                       now=_dt.datetime.now(_dt.timezone.utc), max_sync_lag_s=1e9)
                sh = plan.shipments[0] if plan.shipments else None
                carrier = sh.carrier if sh else fo["carrier"]
                new_tracking = tracking_number(carrier, f"{fo['fo_id']}:{service}")
                pd = sh.promised_date if sh else fo["promised_date"]
                self.store.update_fo(conn, fo["fo_id"], service=service, carrier=carrier,
                                     carrier_service=sh.carrier_service if sh else fo["carrier_service"],
                                     tracking_number=new_tracking, promised_date=pd,
                                     ship_by=sh.ship_by if sh else fo["ship_by"])
                promised.append(pd)
                central_journal.emit(conn, fo["site_id"], "order.service_changed", {
                    "order_id": order_id, "fo_id": fo["fo_id"], "service": service, "carrier": carrier,
                    "tracking_number": new_tracking, "promised_date": pd}, merchant_id=merchant_id)
            if promised:
                self.store.update_order(conn, order_id, promised_date=max(promised))
            self.ops.note(conn, order, "service_changed", actor=actor, reason=f"{before} -> {service}")
        return self._mutate(merchant_id, order_id, fn)

    def split_order(self, merchant_id: str, order_id: str, payload: Any, *, actor: str = "api") -> dict:
        """Move some lines of a released fulfillment order into a separate shipment (same site, own tracking)."""
        line_ids = validated(v.validate_split, payload)

        def fn(conn, order):
            if order["status"] not in (lc.RELEASED, lc.ALLOCATED, lc.BACKORDERED):
                raise InvalidTransition(order["status"], "split")
            fos = [fo for fo in self.store.fos_for_order(conn, order_id) if fo["status"] == "released"]
            fo = next((f for f in fos if set(line_ids) <= {ln["line_id"] for ln in f["lines"]}), None)
            if fo is None:
                raise ValidationFailed("those lines are not all on one released shipment",
                                       {"line_ids": "must all belong to one released (not yet picked) shipment"})
            if len(line_ids) >= len(fo["lines"]):
                raise ValidationFailed("nothing would be left on the shipment",
                                       {"line_ids": "must leave at least one line on the original shipment"})
            self.store.update_fo(conn, fo["fo_id"], status="cancelled")
            central_journal.emit(conn, fo["site_id"], "order.cancelled",
                                 {"order_id": order_id, "fo_id": fo["fo_id"], "reason": "split into two shipments"},
                                 merchant_id=merchant_id)
            new_ids = []
            for part in ([ln for ln in fo["lines"] if ln["line_id"] not in line_ids],
                         [ln for ln in fo["lines"] if ln["line_id"] in line_ids]):
                fo_id = new_id("FO")
                tracking = tracking_number(fo["carrier"], fo_id)
                fields = {k: fo[k] for k in ("site_id", "service", "carrier", "carrier_service", "promised_date",
                                             "ship_by")}
                self.store.insert_fo(conn, dict(fo_id=fo_id, order_id=order_id, merchant_id=merchant_id,
                                                tracking_number=tracking, status="released", **fields),
                                     [{k: ln[k] for k in ("line_id", "sku", "qty", "qty_reserved")} for ln in part])
                self.ops.emit_release(conn, order, dict(fields, fo_id=fo_id, tracking_number=tracking,
                                                        lines=[{k: ln[k] for k in ("line_id", "sku", "qty")}
                                                               for ln in part]))
                new_ids.append(fo_id)
            for ln in fo["lines"]:
                self.store.update_fo_line(conn, fo["fo_id"], ln["line_id"], qty_reserved=0)
            self.ops.note(conn, order, "split", actor=actor, reason=f"lines {', '.join(line_ids)} ship separately",
                          detail={"from": fo["fo_id"], "into": new_ids})
        return self._mutate(merchant_id, order_id, fn)

    def create_replacement(self, merchant_id: str, order_id: str, payload: Any, *,
                           actor: str = "api") -> tuple[dict, bool]:
        """Ship a replacement that references the original order (lines default to the original's)."""
        extra = {"lines", "service", "channel_order_id"}
        body = validated(v.validate_reason, payload, required=True, extra=extra)
        original = self.get_order(merchant_id, order_id)
        if original["status"] == lc.CANCELLED:
            raise InvalidTransition(original["status"], "replacement")
        lines = body.get("lines") or [{"line_id": ln["line_id"], "sku": ln["sku"], "qty": ln["qty"]}
                                      for ln in original["lines"]]
        payload2 = {"channel": "replacement",
                    "channel_order_id": body.get("channel_order_id") or f"{original['channel_order_id']}-R1",
                    "service": body.get("service") or original["service"], "ship_to": original["ship_to"],
                    "lines": lines, "replacement_of": order_id, "note": body["reason"]}
        view, created = self.create_order(merchant_id, payload2, actor=actor)
        if created:
            def tx(conn):
                self.ops.note(conn, self.store.get_order(conn, order_id, merchant_id), "replacement_created",
                              actor=actor, reason=body["reason"], detail={"replacement": view["order_id"]})
            self.store.run(tx)
        return view, created

    CSV_COLUMNS = ("channel", "channel_order_id", "service", "name", "company", "line1", "line2", "city", "region",
                   "postal_code", "country", "phone", "sku", "qty", "line_id", "gift_message")

    def import_orders_csv(self, merchant_id: str, text_in: str, *, actor: str = "import") -> dict:
        """One row per order line (rows sharing channel_order_id form one order). Good orders are imported;
        each bad one is reported with its row numbers and offending fields."""
        reader = csv.DictReader(io.StringIO(text_in))
        header = reader.fieldnames or []
        missing = [c for c in ("channel_order_id", "name", "line1", "city", "country", "sku", "qty") if c not in header]
        unknown = [c for c in header if c not in self.CSV_COLUMNS]
        if missing or unknown:
            fields = {f"columns.{c}": "missing column" for c in missing}
            fields.update({f"columns.{c}": "unknown column" for c in unknown})
            raise ValidationFailed("CSV header is wrong", fields)
        groups: dict[tuple[str, str], list[tuple[int, dict]]] = {}
        for rownum, row in enumerate(reader, start=2):
            key = ((row.get("channel") or "csv").strip(), (row.get("channel_order_id") or "").strip())
            groups.setdefault(key, []).append((rownum, row))
        result: dict[str, Any] = {"imported": 0, "replayed": 0, "failed": 0, "orders": [], "errors": []}
        for (channel, coid), rows in groups.items():
            first = rows[0][1]

            def opt(r, k):
                val = (r.get(k) or "").strip()
                return val or None
            payload: dict[str, Any] = {
                "channel": channel, "channel_order_id": coid, "service": opt(first, "service") or "ground",
                "ship_to": {k: opt(first, k) for k in ("name", "company", "line1", "line2", "city", "region",
                                                        "postal_code", "country", "phone")},
                "lines": [], "gift_message": opt(first, "gift_message")}
            qty_bad = {}
            for i, (rownum, r) in enumerate(rows):
                raw_qty = (r.get("qty") or "").strip()
                try:
                    qty: Any = int(raw_qty)
                except ValueError:
                    qty = raw_qty
                    qty_bad[i] = rownum
                line = {"sku": (r.get("sku") or "").strip(), "qty": qty}
                if opt(r, "line_id"):
                    line["line_id"] = opt(r, "line_id")
                payload["lines"].append(line)
            try:
                view, created = self.create_order(merchant_id, payload, actor=actor)
            except (ValidationFailed, Conflict) as exc:
                fields = {}
                for path, msg in exc.fields.items():
                    row_no = rows[0][0]
                    if path.startswith("lines["):
                        idx = int(path[6:path.index("]")])
                        row_no = rows[idx][0]
                        path = path[path.index("]") + 2:]
                    elif path.startswith("ship_to."):
                        path = path[len("ship_to."):]
                    fields.setdefault(str(row_no), {})[path] = msg
                result["failed"] += 1
                result["errors"].append({"channel_order_id": coid, "rows": [r for r, _ in rows],
                                         "code": exc.code, "fields": fields})
                continue
            result["imported" if created else "replayed"] += 1
            result["orders"].append({"channel_order_id": coid, "order_id": view["order_id"],
                                     "status": view["status"]})
        return result

    # ------------------------------------------------------------------ inventory
    def inventory_for_sku(self, merchant_id: str, sku: str) -> dict:
        with self.store.read() as conn:
            if self.store.get_sku(conn, merchant_id, sku) is None:
                raise NotFound(f"no SKU {sku}")
            rows = self.store.inventory_for_skus(conn, merchant_id, [sku])
            back = self.store.backordered_by_sku(conn, merchant_id, [sku]).get(sku, 0)
        per_site = [{"site_id": r["site_id"], "on_hand": r["on_hand"], "reserved": r["reserved"],
                     "safety_stock": r["safety_stock"], "available": avail_of(r["on_hand"], r["reserved"],
                                                                              r["safety_stock"]),
                     "in_transit": r["in_transit"], "quarantine": r["quarantine"],
                     "low_stock_threshold": r["low_stock_threshold"]} for r in rows]
        totals = {k: sum(s[k] for s in per_site) for k in ("on_hand", "reserved", "available", "in_transit",
                                                          "quarantine")}
        return {"sku": sku, "totals": dict(totals, backordered=back), "sites": per_site}

    def list_inventory(self, merchant_id: str, *, after: str = "", limit: int = 100) -> list[dict]:
        with self.store.read() as conn:
            rows = self.store.list_inventory(conn, merchant_id, after=after, limit=limit)
            back = self.store.backordered_by_sku(conn, merchant_id, [r["sku"] for r in rows])
        return [{k: int(r[k]) if k != "sku" else r[k] for k in r} | {"backordered": back.get(r["sku"], 0)}
                for r in rows]

    def ledger(self, merchant_id: str, sku: str, site_id: str | None = None, *, limit: int = 200) -> list[dict]:
        with self.store.read() as conn:
            if self.store.get_sku(conn, merchant_id, sku) is None:
                raise NotFound(f"no SKU {sku}")
            return self.store.ledger_rows(conn, merchant_id, sku, site_id, limit=limit)

    def adjust_inventory(self, merchant_id: str, sku: str, site_id: str, payload: Any, *, actor: str = "api") -> dict:
        adj = validated(v.validate_adjustment, payload)

        def tx(conn):
            if self.store.get_sku(conn, merchant_id, sku) is None:
                raise NotFound(f"no SKU {sku}")
            if self.store.get_site(conn, site_id, merchant_id) is None:
                raise NotFound(f"no site {site_id} in your network")
            if adj["safety_stock"] is not None or adj["low_stock_threshold"] is not None:
                self.store.set_inventory_params(conn, merchant_id, sku, site_id, safety_stock=adj["safety_stock"],
                                                low_stock_threshold=adj["low_stock_threshold"])
            if adj["delta"]:
                self.ops.stock_delta(conn, merchant_id, sku, site_id, cause="adjustment", actor=actor,
                                     ref=adj["reason"], d_on_hand=adj["delta"])
        self.store.run(tx)
        return self.inventory_for_sku(merchant_id, sku)

    def verify_ledger(self) -> dict:
        """Rebuild every balance from the ledger and compare with the inventory table; count oversold units."""
        with self.store.read() as conn:
            rebuilt = rebuild_balances(self.store.all_ledger(conn))
            rows = self.store.all_inventory(conn)
        mismatches = []
        oversold = 0
        for r in rows:
            key = (r["merchant_id"], r["sku"], r["site_id"])
            b = rebuilt.get(key)
            got = (b.on_hand, b.reserved, b.in_transit, b.quarantine) if b else (0, 0, 0, 0)
            want = (r["on_hand"], r["reserved"], r["in_transit"], r["quarantine"])
            if got != want:
                mismatches.append({"key": key, "ledger": got, "table": want})
            oversold += oversold_units(got[0], got[1], r["safety_stock"])
        return {"rows": len(rows), "mismatches": mismatches, "oversold_units": oversold}

    # ------------------------------------------------------------------ catalog
    def upsert_sku(self, merchant_id: str, payload: Any, *, sku: str | None = None) -> tuple[dict, bool]:
        item = validated(v.validate_sku, payload, sku_from_path=sku)
        created = self.store.run(lambda conn: self._upsert_sku(conn, merchant_id, item))
        return self.get_sku(merchant_id, item["sku"]), created

    def _upsert_sku(self, conn, merchant_id: str, item: dict) -> bool:
        created = self.store.upsert_sku(conn, merchant_id, item)
        self.ops.invalidate_skus(merchant_id)
        body = {k: item[k] for k in ("sku", "description", "gtins", "weight_g", "length_mm", "width_mm", "height_mm",
                                     "lot_tracked", "expiry_tracked", "hazmat", "requires_qc")}
        for site in self.store.list_sites(conn, merchant_id):
            if item.get("safety_stock") is not None:
                self.store.set_inventory_params(conn, merchant_id, item["sku"], site["site_id"],
                                                safety_stock=item["safety_stock"])
            central_journal.emit(conn, site["site_id"], "sku.upsert", body, merchant_id=merchant_id)
        return created

    def bulk_upsert_skus(self, merchant_id: str, payload: Any) -> dict:
        items = validated(v.validate_sku_bulk, payload)

        def tx(conn):
            return sum(1 for it in items if self._upsert_sku(conn, merchant_id, it))
        created = self.store.run(tx)
        return {"created": created, "updated": len(items) - created}

    def get_sku(self, merchant_id: str, sku: str) -> dict:
        with self.store.read() as conn:
            row = self.store.get_sku(conn, merchant_id, sku)
        if row is None:
            raise NotFound(f"no SKU {sku}")
        return _public_sku(row)

    def list_skus(self, merchant_id: str, *, after: str = "", limit: int = 100) -> list[dict]:
        with self.store.read() as conn:
            return [_public_sku(r) for r in self.store.list_skus(conn, merchant_id, after=after, limit=limit)]

    def list_sites(self, merchant_id: str | None) -> list[dict]:
        with self.store.read() as conn:
            return self.store.list_sites(conn, merchant_id)

    def get_site(self, merchant_id: str | None, site_id: str) -> dict:
        with self.store.read() as conn:
            site = self.store.get_site(conn, site_id, merchant_id)
            if site is None:
                raise NotFound(f"no site {site_id}")
            # closures: the dates (what routing reads); closure_details: with their reasons
            site["closure_details"] = [{"date": c["date"], "reason": c["reason"]}
                                       for c in self.store.site_closure_details(conn, site_id)]
        return site

    def seed_catalog(self, data: dict, *, actor: str = "seed") -> dict:
        """Load a demo catalog (merchant, SKUs, sites, stock). Idempotent: stock is set to the given qty."""
        errs: dict[str, str] = {}
        if not isinstance(data, dict):
            raise ValidationFailed("catalog must be a JSON object", {"body": "must be a JSON object"})
        merchant_id = data.get("merchant_id")
        if not isinstance(merchant_id, str) or not merchant_id or len(merchant_id) > 64:
            errs["merchant_id"] = "is required (1-64 characters)"
        sku_items, site_items = [], []
        for i, s in enumerate(data.get("skus", [])):
            try:
                sku_items.append(v.validate_sku(s, f"skus[{i}]."))
            except v.Invalid as exc:
                errs.update(exc.fields)
        for i, s in enumerate(data.get("sites", [])):
            try:
                site_items.append(v.validate_site(s, f"sites[{i}]."))
            except v.Invalid as exc:
                errs.update(exc.fields)
        stock = data.get("stock", [])
        for i, st in enumerate(stock):
            if not isinstance(st, dict) or not isinstance(st.get("qty"), int) or st["qty"] < 0:
                errs[f"stock[{i}].qty"] = "must be an integer >= 0"
        if errs:
            raise ValidationFailed("invalid catalog", errs)

        def tx(conn):
            self.store.upsert_merchant(conn, merchant_id, data.get("merchant_name") or merchant_id)
            for site in site_items:
                closures = site.pop("closures", None)
                before = self.store.get_site(conn, site["site_id"])
                self.store.upsert_site(conn, site)
                self.store.link_site(conn, merchant_id, site["site_id"])
                if closures is not None:
                    self.store.replace_site_closures(conn, site["site_id"], closures, actor)
                self._send_site_config(conn, merchant_id, site["site_id"], before)
            for item in sku_items:
                self._upsert_sku(conn, merchant_id, item)
            for i, st in enumerate(stock):
                row = self.store.get_inventory_row(conn, merchant_id, st["sku"], st["site_id"])
                if self.store.get_sku(conn, merchant_id, st["sku"]) is None:
                    raise ValidationFailed("stock names an unknown SKU", {f"stock[{i}].sku": "unknown SKU"})
                current = row["on_hand"] if row else 0
                if st["qty"] != current:
                    self.ops.stock_delta(conn, merchant_id, st["sku"], st["site_id"], cause="seed", actor=actor,
                                         ref="catalog", d_on_hand=st["qty"] - current, webhook=False)
                else:
                    self.store.ensure_inventory(conn, merchant_id, st["sku"], st["site_id"])
        self.store.run(tx)
        self.ops.invalidate_sites()
        return {"merchant_id": merchant_id, "skus": len(sku_items), "sites": len(site_items), "stock": len(stock)}

    def set_site_health(self, site_id: str, **kwargs) -> bool:
        ok = self.store.set_site_health(site_id, **kwargs)
        self.ops.invalidate_sites()
        return ok

    # ------------------------------------------------------------------ transfers
    def create_transfer(self, merchant_id: str, payload: Any, *, actor: str = "api") -> dict:
        t = validated(v.validate_transfer, payload)
        t["transfer_id"] = t["transfer_id"] or new_id("T")

        def tx(conn):
            for key in ("from_site", "to_site"):
                if self.store.get_site(conn, t[key], merchant_id) is None:
                    raise ValidationFailed(f"unknown site {t[key]}", {key: "not a site in your network"})
            known = self.store.existing_skus(conn, merchant_id, [ln["sku"] for ln in t["lines"]])
            bad = {f"lines[{i}].sku": "unknown SKU" for i, ln in enumerate(t["lines"]) if ln["sku"] not in known}
            if bad:
                raise ValidationFailed("unknown SKU(s)", bad)
            existing = self.store.get_transfer(conn, t["transfer_id"])
            if existing is not None:
                raise Conflict(f"transfer {t['transfer_id']} already exists", {"transfer_id": "already used"})
            self.store.insert_transfer(conn, dict(t, merchant_id=merchant_id, status="created"))
            body = {"transfer_id": t["transfer_id"], "from_site": t["from_site"], "to_site": t["to_site"],
                    "lines": t["lines"]}
            for site in (t["from_site"], t["to_site"]):
                central_journal.emit(conn, site, "transfer.created", body, merchant_id=merchant_id)
        self.store.run(tx)
        return self.get_transfer(merchant_id, t["transfer_id"])

    def get_transfer(self, merchant_id: str, transfer_id: str) -> dict:
        with self.store.read() as conn:
            t = self.store.get_transfer(conn, transfer_id, merchant_id)
        if t is None:
            raise NotFound(f"no transfer {transfer_id}")
        return t

    def list_transfers(self, merchant_id: str) -> list[dict]:
        with self.store.read() as conn:
            return self.store.list_transfers(conn, merchant_id)

    def transfer_step(self, merchant_id: str, transfer_id: str, step: str, *, actor: str = "api") -> dict:
        """Manual ship/receive (sites without an edge); edges report the same through sync events."""
        def tx(conn):
            t = self.store.get_transfer(conn, transfer_id, merchant_id)
            if t is None:
                raise NotFound(f"no transfer {transfer_id}")
            if step == "ship":
                if t["status"] != "created":
                    raise InvalidTransition(t["status"], "shipped", "transfer")
                self.ops.transfer_ship(conn, t, t["lines"], actor=actor)
            else:
                if t["status"] != "shipped":
                    raise InvalidTransition(t["status"], "received", "transfer")
                self.ops.transfer_receive(conn, t, t["lines"], actor=actor)
        self.store.run(tx)
        return self.get_transfer(merchant_id, transfer_id)

    # ------------------------------------------------------------------ webhooks + alerts
    def subscribe_webhook(self, merchant_id: str, payload: Any) -> dict:
        hook = validated(v.validate_webhook, payload)
        secret = hook["secret"] or secrets.token_urlsafe(32)
        out = self.store.run(lambda conn: self.store.insert_webhook(conn, merchant_id, hook["url"], hook["events"],
                                                                    secret))
        webhooks.invalidate(merchant_id)
        return out

    def list_webhooks(self, merchant_id: str) -> list[dict]:
        with self.store.read() as conn:
            return [{k: h[k] for k in ("webhook_id", "url", "events", "active", "created_at")}
                    for h in self.store.list_webhooks(conn, merchant_id)]

    def delete_webhook(self, merchant_id: str, webhook_id: str) -> None:
        if not self.store.run(lambda conn: self.store.deactivate_webhook(conn, webhook_id, merchant_id)):
            raise NotFound(f"no webhook {webhook_id}")
        webhooks.invalidate(merchant_id)

    def webhook_deliveries(self, merchant_id: str, webhook_id: str) -> list[dict]:
        with self.store.read() as conn:
            if self.store.get_webhook(conn, webhook_id, merchant_id) is None:
                raise NotFound(f"no webhook {webhook_id}")
            return self.store.list_deliveries(conn, webhook_id, merchant_id)

    def list_alerts(self, merchant_id: str | None) -> list[dict]:
        with self.store.read() as conn:
            return self.store.list_alerts(conn, merchant_id)

    # ------------------------------------------------------------------ site calendar to the edge
    _SITE_CONFIG_KEYS = ("timezone", "cutoffs", "capabilities", "closures", "holiday_country", "holiday_subdivision")

    def _send_site_config(self, conn, merchant_id: str, site_id: str, before: dict | None,
                          today: _dt.date | None = None) -> bool:
        """Send ``site.config`` (time zone, carrier cut-offs, days off, capabilities) down to the site
        when it is new or any of those changed, in the caller's transaction: the edge plans waves by
        these offline, so a closure set here must reach the floor."""
        site = self.store.get_site(conn, site_id)
        if before is not None and all(before.get(k) == site.get(k) for k in self._SITE_CONFIG_KEYS):
            return False
        body = {"timezone": site["timezone"], "cutoffs": site["cutoffs"],
                "holidays": days_off(site.get("holiday_country"), site.get("holiday_subdivision"), site["closures"],
                                     today or _dt.datetime.now(_dt.timezone.utc).date()),
                "capabilities": list(site["capabilities"])}
        central_journal.emit(conn, site_id, "site.config", body, merchant_id=merchant_id)
        return True

    # ------------------------------------------------------------------ site closures
    def site_closures(self, merchant_id: str | None, site_id: str) -> dict:
        with self.store.read() as conn:
            if self.store.get_site(conn, site_id, merchant_id) is None:
                raise NotFound(f"no site {site_id}")
            return {"site_id": site_id, "closures": [{"date": c["date"], "reason": c["reason"]}
                                                     for c in self.store.site_closure_details(conn, site_id)]}

    def set_site_closures(self, merchant_id: str, site_id: str, payload: Any, *, actor: str = "api",
                          today: _dt.date | None = None) -> dict:
        """Replace a site's closure days (routing treats them as non-business days from the next order on)."""
        closures = validated(v.validate_closures, payload, today or _dt.datetime.now(_dt.timezone.utc).date())

        def tx(conn):
            if self.store.get_site(conn, site_id, merchant_id) is None:
                raise NotFound(f"no site {site_id} in your network")
            site_before = self.store.get_site(conn, site_id)
            before = [c["date"] for c in self.store.site_closure_details(conn, site_id)]
            self.store.replace_site_closures(conn, site_id, closures, f"{actor} ({merchant_id})")
            self._send_site_config(conn, merchant_id, site_id, site_before, today)
            return before
        before = self.store.run(tx)
        self.ops.invalidate_sites()
        log_event(logger, "site_closures_set", merchant_id=merchant_id, site_id=site_id, actor=actor,
                  before=len(before), after=len(closures))
        return self.site_closures(merchant_id, site_id)

    # ------------------------------------------------------------------ ops users (dashboard login)
    def add_ops_user(self, username: str, password: str, display_name: str = "") -> dict:
        try:
            name = accounts.check_username(username)
            accounts.check_password(password, name)
        except accounts.AccountError as exc:
            raise ValidationFailed(exc.message, {exc.field: exc.message}) from exc
        display = (display_name or "").strip()[:120]
        if any(ord(c) < 32 for c in display):
            raise ValidationFailed("name has control characters", {"name": "must not contain control characters"})
        hashed = accounts.hash_password(password)
        if not self.store.run(lambda conn: self.store.add_ops_user(conn, name, display or name, hashed)):
            raise Conflict(f"ops user {name} already exists", {"username": "already exists"})
        log_event(logger, "ops_user_added", username=name)
        return self.get_ops_user(name)

    def get_ops_user(self, username: str) -> dict:
        with self.store.read() as conn:
            user = self.store.get_ops_user(conn, username)
        if user is None:
            raise NotFound(f"no ops user {username}")
        return _public_user(user)

    def list_ops_users(self) -> list[dict]:
        with self.store.read() as conn:
            return [_public_user(u) for u in self.store.list_ops_users(conn)]

    def set_ops_user_active(self, username: str, active: bool) -> dict:
        if not self.store.run(lambda conn: self.store.set_ops_user_active(conn, username, active)):
            raise NotFound(f"no ops user {username}")
        log_event(logger, "ops_user_enabled" if active else "ops_user_disabled", username=username)
        return self.get_ops_user(username)

    def set_ops_user_password(self, username: str, password: str) -> dict:
        try:
            accounts.check_password(password, username)
        except accounts.AccountError as exc:
            raise ValidationFailed(exc.message, {exc.field: exc.message}) from exc
        hashed = accounts.hash_password(password)
        if not self.store.run(lambda conn: self.store.set_ops_user_password(conn, username, hashed)):
            raise NotFound(f"no ops user {username}")
        log_event(logger, "ops_user_password_set", username=username)
        return self.get_ops_user(username)

    def ops_login(self, username: str, password: str, *, now: float | None = None) -> dict | None:
        """The user (with ``fingerprint`` for the session) when the password matches an active user, else None.
        An unknown username costs the same scrypt work as a wrong password. After 5 failures in a row the
        account takes no password for a minute after each further failure (raises ``Locked``)."""
        name = (username or "").strip().lower()[:64]
        with self.store.read() as conn:
            user = self.store.get_ops_user(conn, name) if name else None
        if user is not None:
            wait = accounts.locked_out(user["failed_logins"], user["last_failed_at"], now or time.time())
            if wait > 0:
                log_event(logger, "ops_login_locked", level=logging.WARNING, username=name, wait_s=round(wait))
                raise Locked(f"too many failed logins: try again in {int(wait) + 1} s", {"username": "locked"})
        ok = accounts.verify_password(password or "", user["password_hash"] if user else accounts.DUMMY_HASH)
        ok = ok and user is not None and bool(user["active"])
        if user is not None:
            self.store.run(lambda conn: self.store.record_ops_login(conn, name, ok))
        log_event(logger, "ops_login" if ok else "ops_login_failed", level=logging.INFO if ok else logging.WARNING,
                  username=name)
        if not ok:
            return None
        return dict(_public_user(user), fingerprint=accounts.session_fingerprint(user["password_hash"]))

    def ops_session_user(self, username: str, fingerprint: str) -> dict | None:
        """The user a session cookie names, if still active and its password unchanged since login."""
        with self.store.read() as conn:
            user = self.store.get_ops_user(conn, username)
        if user is None or not user["active"] or accounts.session_fingerprint(user["password_hash"]) != fingerprint:
            return None
        return _public_user(user)

    def api_key_for(self, authorization: str) -> dict:
        """The API key an ``Authorization: Bearer <key>`` header names (REST API and routing API alike);
        ``Unauthorized`` when the header is missing or malformed or the key is unknown or revoked."""
        if not authorization.startswith("Bearer ") or len(authorization) > 300:
            raise Unauthorized("missing or malformed Authorization: Bearer <api key>")
        with self.store.read() as conn:
            key = self.store.find_api_key(conn, authorization[7:].strip())
        if key is None or key["revoked_at"] is not None:
            raise Unauthorized("unknown or revoked API key")
        return key

    def session_secret(self, configured: str = "") -> str:
        """The configured cookie secret, else one generated once and kept in the database (every worker shares it)."""
        if configured:
            return configured
        return self.store.run(lambda conn: self.store.setting(conn, "session_secret", secrets.token_urlsafe(48)))


class Locked(Forbidden):
    """Too many failed logins in a row: the account takes no password for a while."""

    code = "login_locked"
    status = 429


def _public_user(row: dict) -> dict:
    return {"username": row["username"], "name": row["display_name"], "active": bool(row["active"]),
            "created_at": row["created_at"], "disabled_at": row["disabled_at"], "last_login_at": row["last_login_at"],
            "failed_logins": row["failed_logins"]}


def _public_sku(row: dict) -> dict:
    out = {k: row[k] for k in ("sku", "description", "gtins", "weight_g", "length_mm", "width_mm", "height_mm",
                               "updated_at")}
    out.update({k: bool(row[k]) for k in ("lot_tracked", "expiry_tracked", "hazmat", "requires_qc")})
    return out
