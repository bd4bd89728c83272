"""Cycle counts: blind counts; a large variance needs a recount by another user; deltas to central."""
from __future__ import annotations

from sync import edge_journal

from edge import store as db
from edge.core.rules import CountRule, needs_recount
from edge.errors import Forbidden, InvalidQuantity, NotFound
from edge.services.base import Actor, Service, resolve_sku, scan

ADJUST_REASONS = ("damaged", "found", "expired", "lost", "other")


class Counting(Service):
    def rule(self) -> CountRule:
        return CountRule(self.cfg.count_variance_units, self.cfg.count_variance_pct)

    def task(self, actor: Actor, location: str) -> dict:
        """What to count at a bin (blind: no expected quantities are shown)."""
        actor.require("counter")

        def fn(conn):
            loc = db.location_get(conn, location)
            if loc is None:
                raise NotFound(f"{location[:20]!r} is not a bin of this site")
            skus = sorted({r["sku"] for r in db.stock_at(conn, loc["code"])})
            return {"ok": True, "location": loc["code"], "skus": skus,
                    "next": f"Count every unit in {loc['code']}: scan an item, enter the quantity"}
        return self.store.read(fn)

    def submit(self, actor: Actor, location: str, code: str, counted, reason: str = "cycle count") -> dict:
        actor.require("counter")
        max_qty = self.cfg.max_scan_qty * 100
        try:
            n = int(counted) if not isinstance(counted, bool) else None
        except (TypeError, ValueError):
            n = None
        rule = self.rule()

        def fn(conn):
            if n is None or n < 0 or n > max_qty:
                raise InvalidQuantity(f"counted quantity must be a whole number 0..{max_qty}, got {str(counted)[:20]!r}")
            loc = db.location_get(conn, location)
            if loc is None or loc["kind"] != "pick":
                raise NotFound(f"{str(location)[:20]!r} is not a storage bin of this site")
            sku = resolve_sku(conn, scan(code))
            rows = db.stock_at(conn, loc["code"], sku["sku"])
            expected = sum(r["qty"] for r in rows)
            pending = db.count_pending(conn, loc["code"], sku["sku"])
            subject = f"count:{loc['code']}:{sku['sku']}"
            if pending is None and needs_recount(expected, n, rule):
                cid = db.count_insert(conn, location=loc["code"], sku=sku["sku"], expected=expected, counted=n,
                                      counted_by=actor.username, status="recount_required", reason=reason)
                self.ok(conn, actor, "count.first", subject, counted=n, expected=expected, count_id=cid)
                return {"ok": True, "count_id": cid, "status": "recount_required",
                        "next": f"Variance too high: another counter must recount {sku['sku']} in {loc['code']}"}
            if pending is not None:
                if pending["counted_by"] == actor.username:
                    raise Forbidden("the recount must be done by another user", next="Ask another counter")
                db.count_set(conn, pending["count_id"], recount=n, recount_by=actor.username, status="accepted",
                             closed_at=db.now_iso(), expected=expected)
                cid = pending["count_id"]
            else:
                cid = db.count_insert(conn, location=loc["code"], sku=sku["sku"], expected=expected, counted=n,
                                      counted_by=actor.username, status="accepted", reason=reason, closed_at=db.now_iso())
            self._adjust(conn, actor, loc["code"], sku["sku"], rows, n - expected, cid)
            edge_journal.emit(conn, "cycle_count.recorded", {"sku": sku["sku"], "location": loc["code"], "counted": n,
                                                             "expected": expected}, merchant_id=sku["merchant_id"])
            self.ok(conn, actor, "count.accepted", subject, counted=n, expected=expected, count_id=cid)
            return {"ok": True, "count_id": cid, "status": "accepted", "variance": n - expected,
                    "next": "Count recorded: scan the next bin"}
        return self.run(actor, "count.submit", f"count:{str(location)[:20]}", fn, scan_code=None)

    def _adjust(self, conn, actor: Actor, location: str, sku: str, rows: list[dict], delta: int, cid: int) -> None:
        if delta > 0:
            lot = rows[0]["lot"] if rows else ""
            db.stock_add(conn, location=location, sku=sku, lot=lot, expiry=None, delta=delta,
                         cause="cycle_count" if cid else "adjustment", ref=f"count:{cid}" if cid else None,
                         user=actor.username)
        elif delta < 0:
            left = -delta
            for r in rows:  # earliest expiry first
                take = min(left, r["qty"])
                if take:
                    db.stock_add(conn, location=location, sku=sku, lot=r["lot"], expiry=None, delta=-take,
                                 cause="cycle_count" if cid else "adjustment", ref=f"count:{cid}" if cid else None,
                                 user=actor.username)
                    left -= take

    def adjust(self, actor: Actor, location: str, code: str, delta, reason: str) -> dict:
        """A manager's stock adjustment at a bin (damage, found, expired, ...) with a reason code;
        sent to central as ``inventory.adjusted`` (a delta)."""
        actor.require("manager")
        max_qty = self.cfg.max_scan_qty

        def fn(conn):
            if reason not in ADJUST_REASONS:
                raise InvalidQuantity(f"reason must be one of {', '.join(ADJUST_REASONS)}")
            try:
                d = int(delta) if not isinstance(delta, bool) else 0
            except (TypeError, ValueError):
                d = 0
            if d == 0 or abs(d) > max_qty:
                raise InvalidQuantity(f"adjustment must be a non-zero whole number within ±{max_qty}")
            loc = db.location_get(conn, location)
            if loc is None or loc["kind"] != "pick":
                raise NotFound(f"{str(location)[:20]!r} is not a storage bin of this site")
            sku = resolve_sku(conn, scan(code))
            rows = db.stock_at(conn, loc["code"], sku["sku"])
            have = sum(r["qty"] for r in rows)
            if have + d < 0:
                raise InvalidQuantity(f"only {have} {sku['sku']} in {loc['code']}: cannot remove {-d}")
            self._adjust(conn, actor, loc["code"], sku["sku"], rows, d, 0)
            edge_journal.emit(conn, "inventory.adjusted", {"sku": sku["sku"], "delta": d, "reason": reason,
                                                           "location": loc["code"]}, merchant_id=sku["merchant_id"])
            self.ok(conn, actor, "stock.adjust", f"count:{loc['code']}:{sku['sku']}", delta=d, reason=reason)
            return {"ok": True, "sku": sku["sku"], "location": loc["code"], "delta": d, "on_hand": have + d,
                    "next": "Adjustment recorded"}
        return self.run(actor, "stock.adjust", f"bin:{str(location)[:20]}", fn)

    def recent(self) -> list[dict]:
        return self.store.read(db.counts_recent)
