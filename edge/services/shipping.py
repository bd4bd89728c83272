"""Shipping: confirm each carton by scanning its label; end-of-day manifest per carrier."""
from __future__ import annotations

from sync import edge_journal

from edge import store as db
from edge.errors import InvalidState, NotFound, WrongItem
from edge.services.base import Actor, Service, scan, transition
from edge.services.packing import _blocked


class Shipping(Service):
    def confirm(self, actor: Actor, fo_id: str, label_code: str) -> dict:
        """Ship confirm per carton: scan each carton's label. The order ships (``shipment.shipped``
        with every carton) when its last carton is confirmed."""
        actor.require("packer")

        def fn(conn):
            s = scan(label_code)
            fo = self.order(conn, fo_id)
            _blocked(conn, fo)
            if fo["status"] != "packed":
                raise InvalidState(f"order {fo_id} is {fo['status']}: only packed orders ship",
                                   next="Finish packing (verify, weigh) first")
            code = s.text.strip()
            cartons = db.fo_cartons(conn, fo_id)
            day = self.floor.now().date().isoformat()
            manifest = db.manifest_open(conn, fo["carrier"], day)
            shipped_at = db.now_iso()
            if cartons:
                c = next((x for x in cartons if x["tracking_number"] == code), None)
                left = [x for x in cartons if x["status"] != "shipped"]
                if c is None:
                    want = left[0]["tracking_number"] if left else fo["tracking_number"]
                    raise WrongItem(f"label {s.text[:30]!r} is not this order's label {want}", next=f"Scan label {want}")
                if c["status"] == "shipped":
                    raise InvalidState(f"carton {c['seq']} ({code}) is already confirmed",
                                       next=f"Scan label {left[0]['tracking_number']}" if left else "Scan the next tote")
                db.fo_carton_set(conn, fo_id, c["seq"], status="shipped", shipped_at=shipped_at, manifest_id=manifest)
                left = [x for x in left if x["seq"] != c["seq"]]
                if left:
                    self.ok(conn, actor, "ship.carton", f"fo:{fo_id}", tracking=code, seq=c["seq"], manifest=manifest)
                    out = self.floor.packing.view(conn, fo)
                    out.update(shipped_carton={"seq": c["seq"], "tracking_number": code}, manifest_id=manifest,
                               next=f"Put carton {c['seq']} on the {fo['carrier']} cage; scan label "
                                    f"{left[0]['tracking_number']} (carton {left[0]['seq']} of {len(cartons)})")
                    return out
            elif code != fo["tracking_number"]:
                raise WrongItem(f"label {s.text[:30]!r} is not this order's label {fo['tracking_number']}",
                                next=f"Scan label {fo['tracking_number']}")
            lines = [{"line_id": ln["line_id"], "sku": ln["sku"], "qty": ln["picked"]}
                     for ln in db.fo_lines(conn, fo_id) if ln["picked"] > 0]
            transition(conn, fo, "shipped", shipped_at=shipped_at, manifest_id=manifest)
            body = {"fo_id": fo_id, "order_id": fo["order_id"], "tracking_number": fo["tracking_number"],
                    "carrier": fo["carrier"], "service": fo["service"], "weight_g": int(fo["weight_g"] or 0), "lines": lines,
                    "shipped_at": shipped_at}
            if len(cartons) > 1:
                body["cartons"] = [{"seq": x["seq"], "tracking_number": x["tracking_number"], "carton": x["carton"],
                                    "weight_g": x["weight_g"], "lines": x["lines"]} for x in cartons]
            edge_journal.emit(conn, "shipment.shipped", body, merchant_id=fo["merchant_id"])
            self.ok(conn, actor, "ship.confirm", f"fo:{fo_id}", tracking=fo["tracking_number"], manifest=manifest,
                    cartons=max(1, len(cartons)))
            return {"ok": True, "fo_id": fo_id, "status": "shipped", "tracking_number": fo["tracking_number"],
                    "cartons": max(1, len(cartons)), "manifest_id": manifest,
                    "next": f"Put the parcel on the {fo['carrier']} cage; scan the next tote" if len(cartons) <= 1 else
                            f"Put the last carton on the {fo['carrier']} cage; scan the next tote"}
        return self.run(actor, "ship.confirm", f"fo:{fo_id}", fn, scan_code=label_code)

    def close_manifest(self, actor: Actor, carrier: str) -> dict:
        actor.require("manager")

        def fn(conn):
            m = db.manifest_open_for(conn, carrier)
            if m is None:
                raise NotFound(f"no open manifest for carrier {str(carrier)[:20]!r}")
            shipments = db.manifest_parcels(conn, m["manifest_id"])
            db.manifest_close(conn, m["manifest_id"], actor.username)
            jobs = []
            pq = self.floor.print_queue
            if pq is not None and shipments:
                from edge.documents import manifest_document
                jobs.append(pq.queue_document(conn, "manifest", manifest_document(dict(m, shipments=shipments), self.site_id),
                                              actor.username))
            self.ok(conn, actor, "ship.manifest_close", f"manifest:{m['manifest_id']}", carrier=carrier,
                    parcels=len(shipments))
            return {"ok": True, "print_jobs": jobs, "manifest_id": m["manifest_id"], "carrier": carrier, "day": m["day"],
                    "parcels": len(shipments), "weight_g": sum(s["weight_g"] or 0 for s in shipments),
                    "shipments": shipments, "next": f"Hand {len(shipments)} parcel(s) to {carrier} and get the driver's signature"}
        out = self.run(actor, "ship.manifest_close", f"carrier:{str(carrier)[:20]}", fn)
        if out["print_jobs"] and self.floor.print_queue is not None:
            self.floor.print_queue.submit(out["print_jobs"])
        return out

    def manifest(self, manifest_id: str, actor: Actor | None = None) -> dict:
        """One manifest with every parcel on it (for the console, its CSV and its PDF)."""
        if actor is not None:
            actor.require("manager")

        def fn(conn):
            m = db.manifest_get(conn, manifest_id) if isinstance(manifest_id, str) else None
            if m is None:
                raise NotFound(f"manifest {str(manifest_id)[:40]} not found")
            m["shipments"] = db.manifest_parcels(conn, manifest_id)
            return _with_totals(m)
        return self.store.read(fn)

    def manifests(self, actor: Actor | None = None, limit: int = 20) -> list[dict]:
        """The latest manifests with their parcel count and weight, open ones first within a day."""
        if actor is not None:
            actor.require("manager")

        def fn(conn):
            return [_with_totals(dict(m, shipments=db.manifest_parcels(conn, m["manifest_id"])), keep_parcels=False)
                    for m in db.manifests_recent(conn, limit)]
        return self.store.read(fn)

    def manifest_pdf(self, actor: Actor, manifest_id: str) -> bytes:
        from edge.documents import manifest_document

        return manifest_document(self.manifest(manifest_id, actor), self.site_id)


def _with_totals(m: dict, *, keep_parcels: bool = True) -> dict:
    parcels = m["shipments"]
    m["parcels"] = len(parcels)
    m["weight_g"] = sum(int(p["weight_g"] or 0) for p in parcels)
    if not keep_parcels:
        del m["shipments"]
    return m
