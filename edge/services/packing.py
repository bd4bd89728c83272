"""Packing: scan tote or order, verify every unit, smallest fitting carton, weight gate, labels."""
from __future__ import annotations

import logging
import uuid

from sync import edge_journal

from edge import store as db
from edge.core.packing import (Carton, Item, carton_tracking, expected_weight, fits, smallest_carton, split_cartons,
                               weight_gate)
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


def _unboxed(lines: list[dict], boxed: dict[str, int], field: str) -> list[dict]:
    """Per line, the units (``field``: picked or verified) not yet in a closed carton, as
    ``{"line_id", "sku", "picked"}`` rows (``picked`` = that count, the shape ``_items`` reads)."""
    out = []
    for ln in lines:
        n = ln[field] - boxed.get(ln["line_id"], 0)
        if n > 0:
            out.append({"line_id": ln["line_id"], "sku": ln["sku"], "picked": n})
    return out


def _carton(c: dict) -> Carton:
    return Carton(c["code"], c["length_mm"], c["width_mm"], c["height_mm"], c["tare_g"], c["max_weight_g"])


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
        boxed = db.fo_boxed(conn, fo["fo_id"])
        closed = db.fo_cartons(conn, fo["fo_id"])
        cl = _cartons(conn)
        items = _items(conn, _unboxed(lines, boxed, "picked"))   # what still needs a carton
        sug = smallest_carton(cl, items)
        plan = split_cartons(cl, items) if sug is None and items else None
        if plan:
            sug = plan[0][0]
        to_verify = sum(ln["picked"] - ln["packed"] for ln in lines)
        in_open = sum(ln["packed"] - boxed.get(ln["line_id"], 0) for ln in lines)
        out = {"ok": True, "fo_id": fo["fo_id"], "order_id": fo["order_id"], "status": fo["status"],
               "carrier": fo["carrier"], "service": fo["service"], "tracking_number": fo["tracking_number"],
               "lines": [{"line_id": ln["line_id"], "sku": ln["sku"], "qty": ln["qty"], "picked": ln["picked"],
                          "packed": ln["packed"], "short": ln["short"], "boxed": boxed.get(ln["line_id"], 0)}
                         for ln in lines],
               "to_verify": to_verify, "suggested_carton": sug.code if sug else None, "carton": fo["carton"],
               "expected_weight_g": fo["expected_weight_g"], "weight_g": fo["weight_g"],
               "cartons": [{k: c[k] for k in ("seq", "carton", "tracking_number", "weight_g", "expected_weight_g",
                                              "status", "lines")} for c in closed],
               "open_carton": {"seq": len(closed) + 1, "units": in_open} if fo["status"] in ("picked", "weight_hold") else None,
               "carton_plan": [{"carton": c.code, "items": [{"sku": i.sku, "qty": i.qty} for i in share]}
                               for c, share in plan] if plan else None}
        if note:
            out["note"] = note
        k = len(closed) + 1
        if fo["status"] in ("picked", "weight_hold") and to_verify:
            if plan and not closed:
                out["next"] = (f"Too much for one carton ({len(plan)} needed): fill carton 1 ({sug.code}), "
                               f"then Close carton; {to_verify} unit(s) left to verify")
            elif closed:
                out["next"] = f"Scan each item for carton {k}: {to_verify} unit(s) left to verify, Close carton when full"
            else:
                out["next"] = f"Scan each item: {to_verify} unit(s) left to verify"
        elif fo["status"] == "picked" and not fo["carton"]:
            out["next"] = f"Scan carton {sug.code}" if sug else "No carton fits: call a manager"
        elif fo["status"] == "picked":
            out["next"] = f"Put the {fo['carton']} on the scale and press Weigh"
        elif fo["status"] == "weight_hold":
            out["next"] = "Weight out of tolerance: re-verify every unit or get a manager override"
        elif fo["status"] == "packed":
            left = [c for c in closed if c["status"] != "shipped"]
            if len(closed) > 1 and left:
                out["next"] = (f"Scan the shipping label {left[0]['tracking_number']} "
                               f"(carton {left[0]['seq']} of {len(closed)}) to ship")
            else:
                out["next"] = f"Scan the shipping label {fo['tracking_number']} to ship"
        else:
            out["next"] = f"Order is {fo['status']}"
        return out

    def start(self, actor: Actor, code: str) -> dict:
        actor.require("packer")
        self.floor.require_caught_up(actor)

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
                db.fo_reset_unboxed(conn, fo["fo_id"])
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
        """Choose the carton being filled. It must hold every unit still without a carton, or (when
        the order needs several cartons) at least the units verified for it so far."""
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
            boxed = db.fo_boxed(conn, fo_id)
            items = _items(conn, _unboxed(lines, boxed, "picked"))
            verified = _items(conn, _unboxed(lines, boxed, "packed"))
            carton = _carton(c)
            if not fits(carton, items):
                cl = _cartons(conn)
                if smallest_carton(cl, items) is not None or not verified or not fits(carton, verified):
                    sug = smallest_carton(cl, items) or (split_cartons(cl, items) or [(None, [])])[0][0]
                    raise WrongItem(f"the items do not fit carton {c['code']}",
                                    next=f"Use carton {sug.code}" if sug else "Call a manager")
            # the expected weight of the carton as it stands (the verified units in it; all units
            # when none is verified yet); closing the carton recomputes it from its contents
            db.fo_set(conn, fo_id, carton=c["code"], expected_weight_g=expected_weight(verified or items, c["tare_g"]))
            self.ok(conn, actor, "pack.carton", f"fo:{fo_id}", carton=c["code"])
            return self.view(conn, db.fo_get(conn, fo_id))
        return self.run(actor, "pack.carton", f"fo:{fo_id}", fn, scan_code=code)

    def _read_weight(self, actor: Actor, action: str, fo_id: str, grams) -> tuple[int, str]:
        """A stable scale reading, or a typed weight when no scale is configured (``manual``)."""
        try:
            if self.floor.weight_source is not None:
                try:
                    return int(self.floor.weight_source.read_stable(self.cfg.scale_timeout_s)), "scale"
                except EdgeError:
                    raise
                except Exception as exc:  # devices.errors.ScaleError and friends, chained
                    raise ScaleFailure(f"no stable weight: {exc}", next="Hold the parcel still and press Weigh again") from exc
            if not self.cfg.manual_weight:
                raise ScaleFailure("no scale configured and manual weights are disabled")
            return qty_of(grams, 1_000_000, default=None), "manual"
        except EdgeError as exc:
            self.refused(actor, action, f"fo:{fo_id}", exc, None, None)
            raise

    def weigh(self, actor: Actor, fo_id: str, grams=None) -> dict:
        """Read a stable weight (scale, or a typed weight when no scale is configured) and apply the
        gate to the last carton. In tolerance: packed, labels queued. Out: the order is held until
        re-verified or overridden."""
        actor.require("packer")
        actual, source = self._read_weight(actor, "pack.weigh", fo_id, grams)

        def fn(conn):
            fo = self.order(conn, fo_id)
            _blocked(conn, fo)
            if fo["status"] != "picked":
                raise InvalidState(f"order {fo_id} is {fo['status']}: cannot weigh now")
            if any(ln["packed"] < ln["picked"] for ln in db.fo_lines(conn, fo_id)):
                raise InvalidState("verify every unit before weighing", next="Scan the remaining items")
            return self._close(conn, actor, fo, actual, source, final=True)
        out, jobs = self.run(actor, "pack.weigh", f"fo:{fo_id}", fn)
        self._submit(jobs)
        return out

    def close_carton(self, actor: Actor, fo_id: str, code: str | None = None, grams=None) -> dict:
        """Multi-carton packing: close the carton being filled with the units verified since the last
        one (carton ``code``, else the one chosen, else the smallest that holds them), weigh it
        through the gate and queue its label (its own tracking number); then fill the next carton.
        When no unit is left to verify this is the last carton and the order packs (as Weigh)."""
        actor.require("packer")
        actual, source = self._read_weight(actor, "pack.close_carton", fo_id, grams)

        def fn(conn):
            if code not in (None, ""):
                scan(code)
            fo = self.order(conn, fo_id)
            _blocked(conn, fo)
            if fo["status"] != "picked":
                raise InvalidState(f"order {fo_id} is {fo['status']}: no carton to close",
                                   next="Resolve the weight hold first" if fo["status"] == "weight_hold" else None)
            final = all(ln["packed"] >= ln["picked"] for ln in db.fo_lines(conn, fo_id))
            return self._close(conn, actor, fo, actual, source, code=code or None, final=final)
        out, jobs = self.run(actor, "pack.close_carton", f"fo:{fo_id}", fn)
        self._submit(jobs)
        return out

    def _close(self, conn, actor: Actor, fo: dict, actual: int, source: str, *, code: str | None = None,
               final: bool, override: str | None = None) -> tuple[dict, list[str]]:
        """Close the carton being filled: its contents are the verified units not yet in a closed
        carton. Gate its weight (unless a manager overrides), record it with its tracking number,
        then pack the order (``final``) or queue the carton's label and start the next one."""
        fo_id = fo["fo_id"]
        action = "pack.weigh" if final else "pack.close_carton"
        lines = db.fo_lines(conn, fo_id)
        content = _unboxed(lines, db.fo_boxed(conn, fo_id), "packed")
        if not content:
            raise InvalidState("no verified unit is waiting for a carton", next="Scan the items of this carton")
        items = _items(conn, content)
        if code:
            row = db.carton_get(conn, code)
            if row is None:
                raise NotFound(f"{code.strip()[:20]!r} is not a carton of this site", next="Scan a carton barcode")
        elif fo["carton"]:
            row = db.carton_get(conn, fo["carton"])
        else:
            sug = smallest_carton(_cartons(conn), items)
            if sug is None:
                raise InvalidState("no carton fits these items", next="Close a carton with fewer items first")
            row = db.carton_get(conn, sug.code)
        if override is None and not fits(_carton(row), items):
            sug = smallest_carton(_cartons(conn), items)
            raise WrongItem(f"the items do not fit carton {row['code']}", next=f"Use carton {sug.code}" if sug else "Call a manager")
        expected = expected_weight(items, row["tare_g"]) if override is None else int(fo["expected_weight_g"] or 0)
        if override is None:
            db.fo_set(conn, fo_id, carton=row["code"], expected_weight_g=expected)
            gate = weight_gate(expected, actual, self.cfg.weight_tolerance_pct, self.cfg.weight_tolerance_min_g)
            detail = {"expected_g": gate.expected_g, "actual_g": actual, "tolerance_g": gate.tolerance_g, "source": source}
            if not gate.ok:
                transition(conn, db.fo_get(conn, fo_id), "weight_hold", weight_g=actual)
                db.audit(conn, user=actor.username, action=action, ok=False, subject=f"fo:{fo_id}",
                         code="weight_out_of_tolerance",
                         message=f"weight {actual} g vs expected {gate.expected_g} g ± {gate.tolerance_g} g", detail=detail)
                out = self.view(conn, db.fo_get(conn, fo_id))
                out.update(ok=False, error="weight_out_of_tolerance",
                           message=f"Weight {actual} g is {gate.difference_g:+d} g off the expected {gate.expected_g} g "
                                   f"(tolerance ± {gate.tolerance_g} g): order held")
                return out, []
        else:
            detail = {"expected_g": expected, "actual_g": actual, "source": source}
        seq = len(db.fo_cartons(conn, fo_id)) + 1
        tracking = carton_tracking(fo["tracking_number"], seq)
        db.fo_carton_insert(conn, fo_id=fo_id, seq=seq, carton=row["code"], tracking_number=tracking,
                            expected_weight_g=expected, weight_g=actual, weight_source=source, override_reason=override,
                            closed_by=actor.username,
                            lines=[{"line_id": c["line_id"], "sku": c["sku"], "qty": c["picked"]} for c in content])
        if override is None:
            self.ok(conn, actor, action, f"fo:{fo_id}", **detail, carton=row["code"], seq=seq, tracking=tracking)
        if final:
            jobs = self._pack(conn, actor, fo_id)
        else:
            cur = db.fo_get(conn, fo_id)
            if cur["status"] == "weight_hold":
                transition(conn, cur, "picked")
            db.fo_set(conn, fo_id, carton=None, expected_weight_g=None, weight_g=None)
            jobs = self._carton_label(conn, actor, db.fo_get(conn, fo_id), seq)
        out = self.view(conn, db.fo_get(conn, fo_id))
        out["closed_carton"] = {"seq": seq, "carton": row["code"], "tracking_number": tracking, "weight_g": actual,
                                "expected_weight_g": expected}
        out["print_jobs"] = jobs
        return out, jobs

    def override(self, actor: Actor, fo_id: str, reason: str) -> dict:
        """A manager releases a weight hold with a reason (audited): the held carton closes as weighed."""
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
            final = all(ln["packed"] >= ln["picked"] for ln in db.fo_lines(conn, fo_id))
            self.ok(conn, actor, "pack.override", f"fo:{fo_id}", reason=r[:500], weight_g=fo["weight_g"],
                    expected_g=fo["expected_weight_g"])
            return self._close(conn, actor, db.fo_get(conn, fo_id), int(fo["weight_g"] or 0), "override",
                               final=final, override=r[:500])
        out, jobs = self.run(actor, "pack.override", f"fo:{fo_id}", fn)
        self._submit(jobs)
        return out

    def _pack(self, conn, actor: Actor, fo_id: str) -> list[str]:
        """Every unit is in a closed carton: the order is packed (weight = all cartons), the event goes
        up, and the last carton's label plus the packing slip are queued."""
        cartons = db.fo_cartons(conn, fo_id)
        last = cartons[-1]
        weight = sum(c["weight_g"] for c in cartons)
        expected = sum(c["expected_weight_g"] for c in cartons)
        transition(conn, db.fo_get(conn, fo_id), "packed", weight_g=weight, carton=last["carton"], expected_weight_g=expected)
        fo = db.fo_get(conn, fo_id)
        body = {"fo_id": fo_id, "carton": last["carton"], "weight_g": int(weight), "expected_weight_g": int(expected)}
        if len(cartons) > 1:
            body["cartons"] = len(cartons)
        edge_journal.emit(conn, "pack.confirmed", body, merchant_id=fo["merchant_id"])
        pq = self.floor.print_queue
        if pq is None:
            return []
        from labels.errors import LabelError
        try:
            return pq.queue_order_documents(conn, {**fo, "tracking_number": last["tracking_number"],
                                                   "weight_g": last["weight_g"], "carton": last["carton"]}, actor.username)
        except LabelError as exc:
            raise InvalidState(f"cannot build the shipping documents: {exc}", next="Call a manager") from exc

    def _carton_label(self, conn, actor: Actor, fo: dict, seq: int) -> list[str]:
        """The shipping label of one closed carton (not the last): its own tracking number and weight."""
        pq = self.floor.print_queue
        if pq is None:
            return []
        from edge.documents import order_documents
        from labels.errors import LabelError

        c = next(x for x in db.fo_cartons(conn, fo["fo_id"]) if x["seq"] == seq)
        lines = [{"sku": ln["sku"], "picked": ln["qty"]} for ln in c["lines"]]
        try:
            kind, printer, payload = order_documents(
                {**fo, "tracking_number": c["tracking_number"], "weight_g": c["weight_g"], "carton": c["carton"]}, lines,
                db.skus_get(conn, [ln["sku"] for ln in lines]), self.site_id, pq.printer_kind, db.site_config_get(conn))[0]
        except LabelError as exc:
            raise InvalidState(f"cannot build the carton label: {exc}", next="Call a manager") from exc
        job_id = uuid.uuid4().hex
        db.print_job_insert(conn, job_id, kind, fo["fo_id"], payload, printer=printer, actor=actor.username)
        return [job_id]

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
