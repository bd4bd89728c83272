"""Returns: receive (against an RMA or unexpected) into the returns area, then grade A/B/C/scrap."""
from __future__ import annotations

from sync import edge_journal

from edge import store as db
from edge.core.qc import QC_DISPOSITION
from edge.core.rules import grade_disposition
from edge.errors import InvalidState, NotFound, OverPick, WrongItem, WrongLocation
from edge.services.base import Actor, Service, qty_of, resolve_sku, scan


class Returns(Service):
    def receive(self, actor: Actor, code: str, qty=None, rma_id: str | None = None, order_id: str | None = None) -> dict:
        actor.require("receiver")
        max_qty = self.cfg.max_scan_qty

        def fn(conn):
            s = scan(code)
            sku = resolve_sku(conn, s)
            n = qty_of(qty if qty not in (None, "") else s.count, max_qty)
            oid = order_id or None
            if rma_id:
                rma = db.rma_get(conn, rma_id)
                if rma is None:
                    raise NotFound(f"RMA {rma_id} not found at {self.site_id}")
                line = next((ln for ln in rma["lines"] if ln["sku"] == sku["sku"]), None)
                if line is None:
                    raise WrongItem(f"{sku['sku']} is not on RMA {rma_id}: receive it as an unexpected return")
                if line["received"] + n > line["expected"]:
                    raise OverPick(f"RMA {rma_id} expects only {line['expected'] - line['received']} more {sku['sku']}")
                db.rma_line_receive(conn, rma_id, sku["sku"], n)
                oid = oid or rma["order_id"]
            loc = db.location_of_kind(conn, "returns")
            db.stock_add(conn, location=loc["code"], sku=sku["sku"], lot="", expiry=None, delta=n, cause="return",
                         ref=f"rma:{rma_id}" if rma_id else "unexpected", user=actor.username)
            rid = db.return_insert(conn, rma_id=rma_id, order_id=oid, sku=sku["sku"], qty=n, location=loc["code"],
                                   username=actor.username)
            edge_journal.emit(conn, "return.received", {"rma_id": rma_id, "order_id": oid, "sku": sku["sku"], "qty": n},
                              merchant_id=sku["merchant_id"])
            self.ok(conn, actor, "return.receive", f"return:{rid}", sku=sku["sku"], qty=n, rma_id=rma_id,
                    unexpected=rma_id is None)
            return {"ok": True, "return_id": rid, "sku": sku["sku"], "qty": n, "location": loc["code"],
                    "next": "Inspect and grade: A restock, B refurbish, C quarantine, scrap"}
        return self.run(actor, "return.receive", f"rma:{rma_id}" if rma_id else "return:unexpected", fn, scan_code=code)

    def grade(self, actor: Actor, return_id, grade: str, bin_code: str | None = None) -> dict:
        actor.require("receiver")

        def fn(conn):
            try:
                rid = int(return_id)
            except (TypeError, ValueError):
                raise NotFound(f"return {str(return_id)[:20]!r} not found") from None
            r = db.return_get(conn, rid)
            if r is None:
                raise NotFound(f"return {rid} not found")
            if r["status"] != "received":
                raise InvalidState(f"return {rid} is already {r['status']} ({r['grade']})")
            try:
                disposition, restocked, area = grade_disposition(str(grade or ""))
            except ValueError as exc:
                raise InvalidState(str(exc)) from exc
            g = str(grade).strip()
            g = g.upper() if g.upper() in ("A", "B", "C") else g.lower()
            sku = db.sku_get(conn, r["sku"])
            if restocked:
                if not bin_code:
                    sug = self.floor.receiving._suggest(conn, sku)
                    raise WrongLocation("grade A goes back to stock: scan the bin", next=f"Scan bin {sug}")
                loc = db.location_get(conn, scan(bin_code).text)
                if loc is None or loc["kind"] != "pick":
                    raise WrongLocation(f"{bin_code[:20]!r} is not a storage bin")
                others = [x for x in db.stock_at(conn, loc["code"]) if x["sku"] != r["sku"]]
                if others:
                    raise WrongLocation(f"bin {loc['code']} holds {others[0]['sku']}: do not mix SKUs")
                dest = loc["code"]
            elif area:
                dest = db.location_of_kind(conn, area)["code"]
            else:
                dest = None
            db.stock_add(conn, location=r["location"], sku=r["sku"], lot="", expiry=None, delta=-r["qty"],
                         cause="grading", ref=f"return:{rid}", user=actor.username)
            if dest:
                db.stock_add(conn, location=dest, sku=r["sku"], lot="", expiry=None, delta=r["qty"],
                             cause="grading", ref=f"return:{rid}", user=actor.username)
            db.return_set(conn, rid, status="graded", grade=g, graded_at=db.now_iso(), location=dest or "SCRAP")
            qc_receipt = None
            if disposition == QC_DISPOSITION:
                # grade C waits in quarantine for QC, which releases it to a bin or rejects it (scrap / RTV)
                qc_receipt = db.receipt_insert(conn, return_id=rid, sku=r["sku"], lot="", expiry=None, qty=r["qty"],
                                               location=dest, quarantine=1, username=actor.username)
            edge_journal.emit(conn, "return.graded", {"rma_id": r["rma_id"], "sku": r["sku"], "qty": r["qty"], "grade": g,
                                                      "restocked": restocked}, merchant_id=sku["merchant_id"])
            self.ok(conn, actor, "return.grade", f"return:{rid}", grade=g, disposition=disposition, location=dest,
                    **({"qc_receipt_id": qc_receipt} if qc_receipt else {}))
            out = {"ok": True, "return_id": rid, "grade": g, "disposition": disposition, "location": dest,
                   "next": "Graded: scan the next return"}
            if qc_receipt:
                out["qc_receipt_id"] = qc_receipt
                out["next"] = (f"Put {r['qty']} x {r['sku']} in {dest}: QC receipt {qc_receipt} releases or rejects it; "
                               "scan the next return")
            return out
        return self.run(actor, "return.grade", f"return:{return_id}", fn)
