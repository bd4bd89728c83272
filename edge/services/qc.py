"""Receiving QC: quarantined receipts — received stock that requires QC, and customer returns graded C
(``Returns.grade`` files them as QC receipts) — are inspected, then released into a bin (put-away
scan) or rejected (scrap / return to vendor) with a reason code. Each decision moves the stock, writes
its audit row and its outbox event (``stock.qc_released`` / ``stock.qc_rejected``) in one transaction."""
from __future__ import annotations

from sync import edge_journal

from edge import store as db
from edge.core.qc import DISPOSITIONS, REJECT_REASONS, QcBalance, check_decision, check_reject, source_of
from edge.core.rules import BinState, suggest_putaway
from edge.errors import InvalidQuantity, InvalidState, NotFound
from edge.services.base import Actor, Service, qty_of, scan


class Qc(Service):
    def _receipt(self, conn, receipt_id) -> dict:
        try:
            rid = int(receipt_id)
        except (TypeError, ValueError):
            raise NotFound(f"receipt {str(receipt_id)[:20]!r} not found") from None
        r = db.qc_receipt(conn, rid)
        if r is None:
            if db.receipt_get(conn, rid) is None:
                raise NotFound(f"receipt {rid} not found at {self.site_id}")
            raise InvalidState(f"receipt {rid} did not go to quarantine: put it away instead",
                               next="Scan a quarantined receipt")
        return self._sourced(conn, [r])[0]

    @staticmethod
    def _sourced(conn, rows: list[dict]) -> list[dict]:
        """Each QC receipt with where it came from: a customer return graded C, an ASN, or blind."""
        returns = db.qc_sources(conn, (r["receipt_id"] for r in rows))
        for r in rows:
            ret = returns.get(r["receipt_id"])
            r["return_id"] = ret["return_id"] if ret else None
            r["rma_id"] = ret["rma_id"] if ret else None
            r["source"] = source_of(r["asn_id"], None, ret)
        return rows

    def _qty(self, r: dict, qty) -> int:
        n = qty_of(qty, self.cfg.max_scan_qty, default=r["pending"] or 1)
        why = check_decision(QcBalance(r["qty"], r["released"], r["rejected"]), n)
        if why:
            raise (InvalidState if r["pending"] <= 0 else InvalidQuantity)(f"receipt {r['receipt_id']}: {why}",
                                                                           next="Scan the next quarantined receipt")
        return n

    def pending(self) -> list[dict]:
        """Quarantined receipts still waiting for QC (the console's QC card), each with the bin a
        release would be put away to."""
        def fn(conn):
            rows = self._sourced(conn, db.qc_pending(conn))
            bins = None
            for r in rows:
                if bins is None:
                    bins = [BinState(b["code"], b["zone"], b["walk_seq"], b["skus"]) for b in db.pick_bins_with_skus(conn)]
                sku = db.sku_get(conn, r["sku"])
                b = suggest_putaway(sku["sku"], sku["home_zone"], bins)
                r["suggested_bin"] = b.code if b else None
            return rows
        return self.store.read(fn)

    def inspect(self, actor: Actor, receipt_id) -> dict:
        """What the inspector sees for one receipt: quantities, the suggested bin, the reason codes."""
        actor.require("receiver")

        def fn(conn):
            r = self._receipt(conn, receipt_id)
            sug = self.floor.receiving._suggest(conn, db.sku_get(conn, r["sku"]))
            out = {"ok": True, **r, "suggested_bin": sug, "reasons": list(REJECT_REASONS),
                   "dispositions": list(DISPOSITIONS), "decisions": db.qc_decisions(conn, r["receipt_id"])}
            if r["pending"] <= 0:
                out["next"] = f"Receipt {r['receipt_id']} is fully inspected"
            else:
                out["next"] = (f"Inspect {r['pending']} x {r['sku']}: release by scanning bin {sug}" if sug else
                               f"Inspect {r['pending']} x {r['sku']}: no free bin, call a manager") + \
                              ", or reject with a reason"
            return out
        return self.store.read(fn)

    def release(self, actor: Actor, receipt_id, bin_code: str, qty=None) -> dict:
        """QC passed: move ``qty`` units (default: all still pending) from quarantine into the scanned bin."""
        actor.require("receiver")

        def fn(conn):
            s = scan(bin_code)
            r = self._receipt(conn, receipt_id)
            n = self._qty(r, qty)
            sku = db.sku_get(conn, r["sku"])
            loc = self.floor.receiving.check_bin(conn, s.text, sku)
            rid = r["receipt_id"]
            ref = f"receipt:{rid}"
            db.stock_add(conn, location=r["location"], sku=r["sku"], lot=r["lot"], expiry=r["expiry"], delta=-n,
                         cause="qc_release", ref=ref, user=actor.username)
            db.stock_add(conn, location=loc["code"], sku=r["sku"], lot=r["lot"], expiry=r["expiry"], delta=n,
                         cause="qc_release", ref=ref, user=actor.username)
            db.qc_decision_insert(conn, receipt_id=rid, sku=r["sku"], lot=r["lot"], qty=n, outcome="released",
                                  disposition="available", location=loc["code"], username=actor.username)
            edge_journal.emit(conn, "stock.qc_released", {"receipt_id": rid, "sku": r["sku"], "qty": n,
                                                          "location": loc["code"], "lot": r["lot"] or None},
                              merchant_id=r["merchant_id"])
            self.ok(conn, actor, "qc.release", ref, sku=r["sku"], qty=n, bin=loc["code"])
            left = r["pending"] - n
            return {"ok": True, "receipt_id": rid, "sku": r["sku"], "qty": n, "bin": loc["code"], "outcome": "released",
                    "pending": left,
                    "next": (f"{left} unit(s) of receipt {rid} still in quarantine: release or reject them" if left
                             else "QC done: pick the next quarantined receipt")}
        return self.run(actor, "qc.release", f"receipt:{str(receipt_id)[:20]}", fn, scan_code=bin_code)

    def reject(self, actor: Actor, receipt_id, reason: str, disposition: str = "scrap", qty=None) -> dict:
        """QC failed: ``qty`` units (default: all still pending) leave quarantine for scrap or return to vendor."""
        actor.require("receiver")

        def fn(conn):
            why = check_reject(str(reason or ""), str(disposition or ""))
            if why:
                raise InvalidState(why, next="Pick a reason code and scrap or return to vendor")
            r = self._receipt(conn, receipt_id)
            n = self._qty(r, qty)
            rid = r["receipt_id"]
            ref = f"receipt:{rid}"
            db.stock_add(conn, location=r["location"], sku=r["sku"], lot=r["lot"], expiry=r["expiry"], delta=-n,
                         cause="qc_reject", ref=ref, user=actor.username)
            db.qc_decision_insert(conn, receipt_id=rid, sku=r["sku"], lot=r["lot"], qty=n, outcome="rejected",
                                  disposition=disposition, reason=reason, location=r["location"], username=actor.username)
            edge_journal.emit(conn, "stock.qc_rejected", {"receipt_id": rid, "sku": r["sku"], "qty": n,
                                                          "disposition": disposition, "reason": reason,
                                                          "asn_id": r["asn_id"]}, merchant_id=r["merchant_id"])
            self.ok(conn, actor, "qc.reject", ref, sku=r["sku"], qty=n, reason=reason, disposition=disposition)
            left = r["pending"] - n
            where = "the scrap cage" if disposition == "scrap" else "the return-to-vendor shelf" + (
                f" ({r['source']})" if r["asn_id"] or r["return_id"] else "")
            return {"ok": True, "receipt_id": rid, "sku": r["sku"], "qty": n, "outcome": "rejected",
                    "disposition": disposition, "reason": reason, "pending": left,
                    "next": f"Take {n} x {r['sku']} to {where}" + (
                        f"; {left} unit(s) still in quarantine" if left else "")}
        return self.run(actor, "qc.reject", f"receipt:{str(receipt_id)[:20]}", fn)

    def recent(self, limit: int = 30) -> list[dict]:
        return self.store.read(lambda c: db.qc_decisions(c, None, limit))
