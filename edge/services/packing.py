"""Packing: scan tote or order, verify every unit, smallest fitting carton, weight gate, labels."""
from __future__ import annotations

import logging

from sync import edge_journal

from edge import store as db
from edge.core.packing import Carton, Item, expected_weight, smallest_carton, weight_gate
from edge.errors import (EdgeError, InvalidQuantity, InvalidState, NotFound, OrderBlocked, ScaleFailure, WrongItem)
from edge.services.base import Actor, Service, qty_of, resolve_sku, scan, transition
from edge.services.picking import blocked_message
from floorsync.log import log_event

logger = logging.getLogger("edge.packing")


def _items(conn, lines: list[dict]) -> list[Item]:
    skus = db.skus_get(conn, [ln["sku"] for ln in lines])
    out = []
    for ln in lines:
        if ln["picked"] <= 0:
            continue
        s = skus.get(ln["sku"]) or {"length_mm": 0, "width_mm": 0, "height_mm": 0, "weight_g": 0}
        out.append(Item(ln["sku"], ln["picked"], s["length_mm"], s["width_mm"], s["height_mm"], s["weight_g"]))
    return out


def _cartons(conn) -> list[Carton]:
    return [Carton(c["code"], c["length_mm"], c["width_mm"], c["height_mm"], c["tare_g"], c["max_weight_g"])
            for c in db.cartons_all(conn)]


def _blocked(conn, fo: dict) -> None:
    if fo["status"] in ("on_hold", "cancelled"):
        back = ",".join(sorted({t["location"] for t in db.tasks_to_put_back(conn, fo["fo_id"])})) or None
        raise OrderBlocked(blocked_message(fo, back), next="Set the tote aside for the supervisor")


class Packing(Service):
    def _find(self, conn, code: str) -> dict:
        fo = db.fo_find(conn, code.strip())
        if fo is None:
            raise NotFound(f"{code.strip()[:40]!r} is not an order or tote of site {self.site_id}",
                           next="Scan the tote or the order barcode")
        return fo

    def view(self, conn, fo: dict, note: str | None = None) -> dict:
        lines = db.fo_lines(conn, fo["fo_id"])
        items = _items(conn, lines)
        sug = smallest_carton(_cartons(conn), items)
        to_verify = sum(ln["picked"] - ln["packed"] for ln in lines)
        out = {"ok": True, "fo_id": fo["fo_id"], "order_id": fo["order_id"], "status": fo["status"],
               "carrier": fo["carrier"], "service": fo["service"], "tracking_number": fo["tracking_number"],
               "lines": [{"line_id": ln["line_id"], "sku": ln["sku"], "qty": ln["qty"], "picked": ln["picked"],
                          "packed": ln["packed"], "short": ln["short"]} for ln in lines],
               "to_verify": to_verify, "suggested_carton": sug.code if sug else None, "carton": fo["carton"],
               "expected_weight_g": fo["expected_weight_g"], "weight_g": fo["weight_g"]}
        if note:
            out["note"] = note
        if fo["status"] in ("picked", "weight_hold") and to_verify:
            out["next"] = f"Scan each item: {to_verify} unit(s) left to verify"
        elif fo["status"] == "picked" and not fo["carton"]:
            out["next"] = f"Scan carton {sug.code}" if sug else "No carton fits: call a manager"
        elif fo["status"] == "picked":
            out["next"] = f"Put the {fo['carton']} on the scale and press Weigh"
        elif fo["status"] == "weight_hold":
            out["next"] = "Weight out of tolerance: re-verify every unit or get a manager override"
        elif fo["status"] == "packed":
            out["next"] = f"Scan the shipping label {fo['tracking_number']} to ship"
        else:
            out["next"] = f"Order is {fo['status']}"
        return out

    def start(self, actor: Actor, code: str) -> dict:
        actor.require("packer")

        def fn(conn):
            scan(code)
            fo = self._find(conn, code)
            _blocked(conn, fo)
            if fo["status"] in ("released", "picking"):
                raise InvalidState(f"order {fo['fo_id']} is still being picked", next="Scan another tote")
            if fo["status"] in ("shipped", "unfulfillable"):
                raise InvalidState(f"order {fo['fo_id']} is {fo['status']}", next="Scan another tote")
            note = None
            if fo["status"] == "weight_hold":
                # re-verification: every unit is scanned again before the next weighing
                db.fo_reset_packed(conn, fo["fo_id"])
                note = "Re-verify: scan every unit again"
            self.ok(conn, actor, "pack.start", f"fo:{fo['fo_id']}", status=fo["status"])
            return self.view(conn, db.fo_get(conn, fo["fo_id"]), note)
        return self.run(actor, "pack.start", f"code:{str(code)[:40]}", fn, scan_code=code)

    def get(self, fo_id: str) -> dict:
        def fn(conn):
            fo = db.fo_get(conn, fo_id)
            if fo is None:
                raise NotFound(f"order {fo_id} not found at {self.site_id}")
            return self.view(conn, fo)
        return self.store.read(fn)

    def scan_item(self, actor: Actor, fo_id: str, code: str, qty=None) -> dict:
        actor.require("packer")
        max_qty = self.cfg.max_scan_qty

        def fn(conn):
            s = scan(code)
            fo = self.order(conn, fo_id)
            _blocked(conn, fo)
            if fo["status"] not in ("picked", "weight_hold"):
                raise InvalidState(f"order {fo_id} is {fo['status']}: nothing to verify")
            sku = resolve_sku(conn, s)
            n = qty_of(qty if qty not in (None, "") else s.count, max_qty)
            lines = [ln for ln in db.fo_lines(conn, fo_id) if ln["sku"] == sku["sku"]]
            if not lines:
                raise WrongItem(f"{sku['sku']} is not in order {fo_id}: take it out", next="Scan the next item of this order")
            left = sum(ln["picked"] - ln["packed"] for ln in lines)
            if left <= 0:
                raise WrongItem(f"all {sum(ln['picked'] for ln in lines)} x {sku['sku']} already verified: extra unit",
                                next="Take the extra unit out")
            if n > left:
                raise InvalidQuantity(f"only {left} more {sku['sku']} expected", next=f"Verify {left}")
            for ln in lines:
                take = min(n, ln["picked"] - ln["packed"])
                if take > 0:
                    db.fo_line_add(conn, fo_id, ln["line_id"], packed=take)
                    n -= take
            if fo["status"] == "weight_hold":
                transition(conn, fo, "picked")
            self.ok(conn, actor, "pack.verify", f"fo:{fo_id}", sku=sku["sku"])
            return self.view(conn, db.fo_get(conn, fo_id))
        return self.run(actor, "pack.verify", f"fo:{fo_id}", fn, scan_code=code)

    def carton(self, actor: Actor, fo_id: str, code: str) -> dict:
        actor.require("packer")

        def fn(conn):
            scan(code)
            fo = self.order(conn, fo_id)
            _blocked(conn, fo)
            if fo["status"] != "picked":
                raise InvalidState(f"order {fo_id} is {fo['status']}")
            c = db.carton_get(conn, code)
            if c is None:
                raise NotFound(f"{code.strip()[:20]!r} is not a carton of this site", next="Scan a carton barcode")
            lines = db.fo_lines(conn, fo_id)
            items = _items(conn, lines)
            carton = Carton(c["code"], c["length_mm"], c["width_mm"], c["height_mm"], c["tare_g"], c["max_weight_g"])
            from edge.core.packing import fits
            if not fits(carton, items):
                sug = smallest_carton(_cartons(conn), items)
                raise WrongItem(f"the items do not fit carton {c['code']}", next=f"Use carton {sug.code}" if sug else "Call a manager")
            db.fo_set(conn, fo_id, carton=c["code"], expected_weight_g=expected_weight(items, c["tare_g"]))
            self.ok(conn, actor, "pack.carton", f"fo:{fo_id}", carton=c["code"])
            return self.view(conn, db.fo_get(conn, fo_id))
        return self.run(actor, "pack.carton", f"fo:{fo_id}", fn, scan_code=code)

    def weigh(self, actor: Actor, fo_id: str, grams=None) -> dict:
        """Read a stable weight (scale, or a typed weight when no scale is configured) and apply the
        gate. In tolerance: packed, labels queued. Out: the order is held until re-verified or overridden."""
        actor.require("packer")
        source = "scale"
        try:
            if self.floor.weight_source is not None:
                try:
                    actual = int(self.floor.weight_source.read_stable(self.cfg.scale_timeout_s))
                except EdgeError:
                    raise
                except Exception as exc:  # devices.errors.ScaleError and friends, chained
                    raise ScaleFailure(f"no stable weight: {exc}", next="Hold the parcel still and press Weigh again") from exc
            else:
                if not self.cfg.manual_weight:
                    raise ScaleFailure("no scale configured and manual weights are disabled")
                actual = qty_of(grams, 1_000_000, default=None)
                source = "manual"
        except EdgeError as exc:
            self.refused(actor, "pack.weigh", f"fo:{fo_id}", exc, None, None)
            raise
        cfg = self.cfg

        def fn(conn):
            fo = self.order(conn, fo_id)
            _blocked(conn, fo)
            if fo["status"] != "picked":
                raise InvalidState(f"order {fo_id} is {fo['status']}: cannot weigh now")
            lines = db.fo_lines(conn, fo_id)
            if any(ln["packed"] < ln["picked"] for ln in lines):
                raise InvalidState("verify every unit before weighing", next="Scan the remaining items")
            items = _items(conn, lines)
            if not fo["carton"]:
                sug = smallest_carton(_cartons(conn), items)
                if sug is None:
                    raise InvalidState("no carton fits these items", next="Call a manager")
                db.fo_set(conn, fo_id, carton=sug.code, expected_weight_g=expected_weight(items, sug.tare_g))
                fo = db.fo_get(conn, fo_id)
            gate = weight_gate(fo["expected_weight_g"], actual, cfg.weight_tolerance_pct, cfg.weight_tolerance_min_g)
            detail = {"expected_g": gate.expected_g, "actual_g": actual, "tolerance_g": gate.tolerance_g, "source": source}
            if not gate.ok:
                transition(conn, fo, "weight_hold", weight_g=actual)
                db.audit(conn, user=actor.username, action="pack.weigh", ok=False, subject=f"fo:{fo_id}",
                         code="weight_out_of_tolerance",
                         message=f"weight {actual} g vs expected {gate.expected_g} g ± {gate.tolerance_g} g", detail=detail)
                out = self.view(conn, db.fo_get(conn, fo_id))
                out.update(ok=False, error="weight_out_of_tolerance",
                           message=f"Weight {actual} g is {gate.difference_g:+d} g off the expected {gate.expected_g} g "
                                   f"(tolerance ± {gate.tolerance_g} g): order held")
                return out, []
            jobs = self._pack(conn, actor, fo, actual)
            self.ok(conn, actor, "pack.weigh", f"fo:{fo_id}", **detail)
            out = self.view(conn, db.fo_get(conn, fo_id))
            out["print_jobs"] = jobs
            return out, jobs
        out, jobs = self.run(actor, "pack.weigh", f"fo:{fo_id}", fn)
        self._submit(jobs)
        return out

    def override(self, actor: Actor, fo_id: str, reason: str) -> dict:
        """A manager releases a weight hold with a reason (audited)."""
        actor.require("manager")

        def fn(conn):
            r = (reason or "").strip()
            if len(r) < 3 or any(ord(c) < 32 for c in r):
                raise InvalidState("an override needs a reason (3+ printable characters)")
            fo = db.fo_get(conn, fo_id)
            if fo is None:
                raise NotFound(f"order {fo_id} not found at {self.site_id}")
            _blocked(conn, fo)
            if fo["status"] != "weight_hold":
                raise InvalidState(f"order {fo_id} is {fo['status']}, not on a weight hold")
            db.fo_set(conn, fo_id, override_reason=r[:500])
            jobs = self._pack(conn, actor, fo, fo["weight_g"] or 0)
            self.ok(conn, actor, "pack.override", f"fo:{fo_id}", reason=r[:500], weight_g=fo["weight_g"],
                    expected_g=fo["expected_weight_g"])
            out = self.view(conn, db.fo_get(conn, fo_id))
            out["print_jobs"] = jobs
            return out, jobs
        out, jobs = self.run(actor, "pack.override", f"fo:{fo_id}", fn)
        self._submit(jobs)
        return out

    def _pack(self, conn, actor: Actor, fo: dict, weight: int) -> list[str]:
        transition(conn, fo, "packed", weight_g=weight)
        edge_journal.emit(conn, "pack.confirmed", {"fo_id": fo["fo_id"], "carton": fo["carton"] or "",
                                                   "weight_g": int(weight), "expected_weight_g": int(fo["expected_weight_g"] or 0)},
                          merchant_id=fo["merchant_id"])
        pq = self.floor.print_queue
        if pq is None:
            return []
        from labels.errors import LabelError
        try:
            return pq.queue_order_documents(conn, db.fo_get(conn, fo["fo_id"]), actor.username)
        except LabelError as exc:
            raise InvalidState(f"cannot build the shipping documents: {exc}", next="Call a manager") from exc

    def _submit(self, jobs: list[str]) -> None:
        if jobs and self.floor.print_queue is not None:
            try:
                self.floor.print_queue.submit(jobs)
            except Exception as exc:  # noqa: BLE001 - the jobs stay queued in the store and are resubmitted on start
                log_event(logger, "edge_print_submit_failed", level=logging.WARNING, error=str(exc))

    def station_scan(self, actor: Actor, fo_id: str | None, code: str) -> dict:
        """One scan at a pack station (serial scanner or the handheld's pack page): start, verify,
        carton or ship — whichever the order in hand needs (``edge.core.packing.station_step``)."""
        from edge.core.packing import station_step

        current = None
        if fo_id:
            current = self.store.read(lambda c: db.fo_get(c, fo_id))
            if current is not None and current["status"] in ("shipped", "unfulfillable"):
                current = None
        if current is None:
            return self.start(actor, code)
        v = self.get(current["fo_id"])
        step = station_step(v["status"], v["to_verify"], v["carton"])
        if step == "ship":
            return self.floor.shipping.confirm(actor, current["fo_id"], code)
        if step == "carton":
            return self.carton(actor, current["fo_id"], code)
        return self.scan_item(actor, current["fo_id"], code)

    def holds(self) -> list[dict]:
        return self.store.read(lambda c: db.fos_by_status(c, ["weight_hold"]))
