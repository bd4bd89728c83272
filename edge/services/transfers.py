"""Transfers between sites: ship out (stock leaves, in transit) and receive in against the order."""
from __future__ import annotations

from sync import edge_journal

from edge import store as db
from edge.core.picking import allocate
from edge.errors import InvalidState, NotFound, OverPick, WrongItem
from edge.services.base import Actor, Service, qty_of, resolve_sku, scan, stock_slots


class Transfers(Service):
    def ship(self, actor: Actor, transfer_id: str) -> dict:
        actor.require("receiver")

        def fn(conn):
            tr = db.transfer_get(conn, transfer_id)
            if tr is None:
                raise NotFound(f"transfer {transfer_id} not found at {self.site_id}")
            if tr["direction"] != "out":
                raise InvalidState(f"transfer {transfer_id} comes in to {self.site_id}: receive it instead")
            if tr["status"] != "created":
                raise InvalidState(f"transfer {transfer_id} is already {tr['status']}")
            merchant = None
            for ln in tr["lines"]:
                sku = db.sku_get(conn, ln["sku"])
                if sku is None:
                    raise NotFound(f"unknown SKU {ln['sku']} on transfer {transfer_id}")
                merchant = sku["merchant_id"]
                alloc = allocate(ln["qty"], stock_slots(conn, ln["sku"]), bool(sku["lot_tracked"] or sku["expiry_tracked"]))
                if alloc.missing:
                    raise InvalidState(f"only {ln['qty'] - alloc.missing} of {ln['qty']} {ln['sku']} free to ship")
                for a in alloc.allocations:
                    db.stock_add(conn, location=a.location, sku=ln["sku"], lot=a.lot, expiry=None, delta=-a.qty,
                                 cause="transfer_out", ref=f"transfer:{transfer_id}", user=actor.username)
                db.transfer_line_add(conn, transfer_id, ln["sku"], shipped=ln["qty"])
            db.transfer_set(conn, transfer_id, "shipped")
            lines = [{"sku": ln["sku"], "qty": ln["qty"]} for ln in tr["lines"]]
            edge_journal.emit(conn, "transfer.shipped", {"transfer_id": transfer_id, "lines": lines},
                              merchant_id=merchant or "unknown")
            self.ok(conn, actor, "transfer.ship", f"transfer:{transfer_id}", lines=lines)
            return {"ok": True, "transfer_id": transfer_id, "status": "shipped", "lines": lines,
                    "next": f"Load the pallet for {tr['to_site']}"}
        return self.run(actor, "transfer.ship", f"transfer:{transfer_id}", fn)

    def receive(self, actor: Actor, transfer_id: str, code: str, qty=None) -> dict:
        actor.require("receiver")
        max_qty = self.cfg.max_scan_qty

        def fn(conn):
            s = scan(code)
            tr = db.transfer_get(conn, transfer_id)
            if tr is None:
                raise NotFound(f"transfer {transfer_id} not found at {self.site_id}")
            if tr["direction"] != "in":
                raise InvalidState(f"transfer {transfer_id} leaves {self.site_id}: ship it instead")
            if tr["status"] not in ("created", "receiving"):
                raise InvalidState(f"transfer {transfer_id} is {tr['status']}")
            sku = resolve_sku(conn, s)
            line = next((ln for ln in tr["lines"] if ln["sku"] == sku["sku"]), None)
            if line is None:
                raise WrongItem(f"{sku['sku']} is not on transfer {transfer_id}")
            n = qty_of(qty if qty not in (None, "") else s.count, max_qty)
            if line["received"] + n > line["qty"]:
                raise OverPick(f"only {line['qty'] - line['received']} more {sku['sku']} expected on {transfer_id}")
            dock = db.location_of_kind(conn, "dock")
            lot = s.lot or ""
            expiry = s.expiry.isoformat() if s.expiry else None
            db.stock_add(conn, location=dock["code"], sku=sku["sku"], lot=lot, expiry=expiry, delta=n,
                         cause="transfer_in", ref=f"transfer:{transfer_id}", user=actor.username)
            rid = db.receipt_insert(conn, transfer_id=transfer_id, sku=sku["sku"], lot=lot, expiry=expiry, qty=n,
                                    location=dock["code"], quarantine=0, username=actor.username)
            db.transfer_line_add(conn, transfer_id, sku["sku"], received=n)
            tr2 = db.transfer_get(conn, transfer_id)
            done = all(ln["received"] >= ln["qty"] for ln in tr2["lines"])
            db.transfer_set(conn, transfer_id, "received" if done else "receiving")
            edge_journal.emit(conn, "transfer.received", {"transfer_id": transfer_id, "lines": [{"sku": sku["sku"], "qty": n}]},
                              merchant_id=sku["merchant_id"])
            self.ok(conn, actor, "transfer.receive", f"transfer:{transfer_id}", sku=sku["sku"], qty=n, receipt_id=rid)
            sug = self.floor.receiving._suggest(conn, sku)
            return {"ok": True, "transfer_id": transfer_id, "receipt_id": rid, "status": "received" if done else "receiving",
                    "suggested_bin": sug, "next": f"Put away: scan bin {sug}" if sug else "No free bin: call a manager"}
        return self.run(actor, "transfer.receive", f"transfer:{transfer_id}", fn, scan_code=code)

    def get(self, transfer_id: str) -> dict:
        return self.store.read(lambda c: db.require(db.transfer_get(c, transfer_id), f"transfer {transfer_id}"))
