"""Receiving (against an ASN/PO or blind) and put-away with a suggested bin."""
from __future__ import annotations

from sync import edge_journal

from edge import store as db
from edge.core.rules import BinState, suggest_putaway
from edge.errors import InvalidScan, InvalidState, NotFound, WrongItem, WrongLocation
from edge.services.base import Actor, Service, qty_of, resolve_sku, scan


class Receiving(Service):
    def receive(self, actor: Actor, code: str, qty=None, asn_id: str | None = None) -> dict:
        actor.require("receiver")
        max_qty = self.cfg.max_scan_qty

        def fn(conn):
            s = scan(code)
            sku = resolve_sku(conn, s)
            n = qty_of(qty if qty not in (None, "") else s.count, max_qty)
            lot = s.lot or ""
            expiry = s.expiry.isoformat() if s.expiry else None
            if sku["lot_tracked"] and not lot:
                raise InvalidScan(f"{sku['sku']} is lot-tracked: scan the GS1 label with the lot (10)",
                                  next="Scan the GS1-128 label on the case")
            if sku["expiry_tracked"] and not expiry:
                raise InvalidScan(f"{sku['sku']} is expiry-tracked: scan the GS1 label with the expiry date (17)",
                                  next="Scan the GS1-128 label on the case")
            over = 0
            if asn_id:
                asn = db.asn_get(conn, asn_id)
                if asn is None:
                    raise NotFound(f"expected receipt {asn_id} not found at {self.site_id}")
                if asn["status"] != "open":
                    raise InvalidState(f"expected receipt {asn_id} is {asn['status']}")
                line = next((ln for ln in asn["lines"] if ln["sku"] == sku["sku"]), None)
                if line is None:
                    raise WrongItem(f"{sku['sku']} is not on {asn_id}: receive it blind or set it aside",
                                    next="Scan an item of " + asn_id)
                over = max(0, line["received"] + n - line["expected"])
                db.asn_line_receive(conn, asn_id, sku["sku"], n)
            quarantine = bool(sku["requires_qc"])
            loc = db.location_of_kind(conn, "quarantine" if quarantine else "dock")
            if loc is None:
                raise InvalidState("this site has no " + ("quarantine" if quarantine else "dock") + " location")
            db.stock_add(conn, location=loc["code"], sku=sku["sku"], lot=lot, expiry=expiry, delta=n, cause="receipt",
                         ref=asn_id, user=actor.username)
            rid = db.receipt_insert(conn, asn_id=asn_id, sku=sku["sku"], lot=lot, expiry=expiry, qty=n,
                                    location=loc["code"], quarantine=1 if quarantine else 0, username=actor.username)
            edge_journal.emit(conn, "inventory.received",
                              {"sku": sku["sku"], "qty": n, "location": loc["code"], "quarantine": quarantine,
                               "lot": lot or None, "expiry": expiry, "asn_id": asn_id}, merchant_id=sku["merchant_id"])
            self.ok(conn, actor, "receive", f"receipt:{rid}", sku=sku["sku"], qty=n, lot=lot, asn_id=asn_id,
                    over=over, quarantine=quarantine)
            out = {"ok": True, "receipt_id": rid, "sku": sku["sku"], "description": sku["description"], "qty": n,
                   "lot": lot or None, "expiry": expiry, "quarantine": quarantine, "over_receipt": over,
                   "location": loc["code"]}
            if quarantine:
                out["next"] = f"QC required: take {n} x {sku['sku']} to quarantine {loc['code']}"
            else:
                sug = self._suggest(conn, sku)
                out["suggested_bin"] = sug
                out["next"] = f"Put away: scan bin {sug}" if sug else "No free bin: call a manager"
            if over:
                out["warning"] = f"over-receipt: {over} more than expected on {asn_id}"
            return out
        return self.run(actor, "receive", f"asn:{asn_id}" if asn_id else "receive:blind", fn, scan_code=code)

    def _suggest(self, conn, sku: dict) -> str | None:
        bins = [BinState(b["code"], b["zone"], b["walk_seq"], b["skus"]) for b in db.pick_bins_with_skus(conn)]
        b = suggest_putaway(sku["sku"], sku["home_zone"], bins)
        return b.code if b else None

    def check_bin(self, conn, code: str, sku: dict) -> dict:
        """The scanned put-away bin, or WrongLocation: not an active storage bin, or it holds another SKU."""
        loc = db.location_get(conn, code)
        if loc is None or loc["kind"] != "pick" or not loc["active"]:
            raise WrongLocation(f"{code[:40]!r} is not a storage bin", next="Scan a bin label")
        others = [x for x in db.stock_at(conn, loc["code"]) if x["sku"] != sku["sku"]]
        if others:
            raise WrongLocation(f"bin {loc['code']} holds {others[0]['sku']}: do not mix SKUs",
                                next=f"Scan bin {self._suggest(conn, sku)}")
        return loc

    def suggest(self, receipt_id: int) -> str | None:
        def fn(conn):
            r = db.require(db.receipt_get(conn, int(receipt_id)), f"receipt {receipt_id}")
            return self._suggest(conn, db.sku_get(conn, r["sku"]))
        return self.store.read(fn)

    def put_away(self, actor: Actor, receipt_id, bin_code: str) -> dict:
        actor.require("receiver")

        def fn(conn):
            s = scan(bin_code)
            try:
                rid = int(receipt_id)
            except (TypeError, ValueError):
                raise NotFound(f"receipt {str(receipt_id)[:20]!r} not found") from None
            r = db.receipt_get(conn, rid)
            if r is None:
                raise NotFound(f"receipt {rid} not found")
            if r["quarantine"]:
                raise InvalidState(f"receipt {rid} is in quarantine: QC must release it first")
            if r["put_away"]:
                raise InvalidState(f"receipt {rid} was already put away to {r['put_location']}")
            loc = self.check_bin(conn, s.text, db.sku_get(conn, r["sku"]))
            db.stock_add(conn, location=r["location"], sku=r["sku"], lot=r["lot"], expiry=r["expiry"], delta=-r["qty"],
                         cause="putaway", ref=f"receipt:{rid}", user=actor.username)
            db.stock_add(conn, location=loc["code"], sku=r["sku"], lot=r["lot"], expiry=r["expiry"], delta=r["qty"],
                         cause="putaway", ref=f"receipt:{rid}", user=actor.username)
            db.receipt_set(conn, rid, put_away=1, put_location=loc["code"])
            self.ok(conn, actor, "putaway", f"receipt:{rid}", sku=r["sku"], qty=r["qty"], bin=loc["code"])
            return {"ok": True, "receipt_id": rid, "sku": r["sku"], "qty": r["qty"], "bin": loc["code"],
                    "next": "Put away done: scan the next item to receive"}
        return self.run(actor, "putaway", f"receipt:{receipt_id}", fn, scan_code=bin_code)

    def open_asns(self) -> list[dict]:
        return self.store.read(lambda c: [db.asn_get(c, a["asn_id"]) for a in db.asns_open(c)])

    def pending_putaways(self) -> list[dict]:
        return self.store.read(db.receipts_to_put_away)
