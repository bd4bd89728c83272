"""Picking: method choice, pick runs (discrete, batch, cluster, zone, wave), scan-driven pick path,
short picks, and putting back units of orders central cancelled."""
from __future__ import annotations

import uuid

from sync import edge_journal

from edge import store as db
from edge.core.picking import MethodRules, OrderProfile, allocate, choose_method, normalize_capabilities, pick_path
from edge.errors import InvalidScan, InvalidState, NotFound, OrderBlocked, OverPick, StaleTask, WrongItem, WrongLocation
from edge.services.base import Actor, Service, qty_of, resolve_sku, scan, stock_slots, transition

BLOCKED = ("on_hold", "cancelled")
_UNKNOWN = object()


def blocked_message(fo: dict, return_to: str | None = None) -> str:
    if fo["status"] == "cancelled":
        msg = f"Order {fo['fo_id']} cancelled"
        if return_to:
            msg += f" — return items to location {return_to}"
        return msg
    return f"Order {fo['fo_id']} on hold: {fo.get('hold_reason') or 'held by central'} — park the tote"


class Picking(Service):
    def rules(self) -> MethodRules:
        c = self.cfg
        return MethodRules(c.wave_min_lines, c.zone_min_skus, c.batch_min_units, c.cluster_min_lines, c.cluster_max_lines)

    def capabilities(self, conn) -> frozenset[str]:
        sc = db.site_config_get(conn)
        return normalize_capabilities(sc.get("capabilities") or self.cfg.capabilities)

    def method_for(self, conn, fo_row: dict) -> tuple[str, str]:
        prof = OrderProfile(fo_row["lines"] or 0, fo_row["units"] or 0, fo_row["distinct_skus"] or 0)
        return choose_method(prof, self.capabilities(conn), self.rules())

    # ---- allocation: order lines -> pick tasks (FEFO for lot/expiry-tracked SKUs, walk order otherwise)
    def _allocate(self, conn, actor: Actor, fo_id: str) -> None:
        fo = db.fo_get(conn, fo_id)
        for line in db.fo_lines(conn, fo_id):
            sku = db.sku_get(conn, line["sku"])
            fefo = bool(sku and (sku["lot_tracked"] or sku["expiry_tracked"]))
            slots = stock_slots(conn, line["sku"])
            need = line["qty"] - line["picked"] - line["short"]
            alloc = allocate(need, slots, fefo)
            for a in alloc.allocations:
                db.task_insert(conn, fo_id=fo_id, line_id=line["line_id"], sku=line["sku"], location=a.location, lot=a.lot,
                               zone=a.zone, walk_seq=a.walk_seq, qty=a.qty)
            if alloc.missing:
                # Nothing left in any bin of this site: a short right away, so central re-routes it now.
                db.fo_line_add(conn, fo_id, line["line_id"], short=alloc.missing)
                edge_journal.emit(conn, "pick.short", {"fo_id": fo_id, "line_id": line["line_id"], "sku": line["sku"],
                                                       "qty_short": alloc.missing, "location": "UNLOCATED"},
                                  merchant_id=fo["merchant_id"])
                self.ok(conn, actor, "pick.short", f"fo:{fo_id}", sku=line["sku"], qty_short=alloc.missing,
                        reason="no stock in any bin")

    def start(self, actor: Actor, method: str | None = None, zone: str | None = None, fo_id: str | None = None) -> dict:
        """Resume the actor's open run, or build the next one from the most urgent released orders."""
        actor.require("picker")
        self.floor.require_caught_up(actor)

        def fn(conn):
            mine = db.runs_open(conn, actor.username)
            if mine:
                return self._view(conn, mine[0]["run_id"], "Resuming your pick run")
            cands = db.fos_by_status(conn, ["released"], 200)
            if fo_id:
                fo = self.order(conn, fo_id)
                if fo["status"] in BLOCKED:
                    raise OrderBlocked(blocked_message(fo))
                cands = [c for c in cands if c["fo_id"] == fo_id]
            want_zone = zone or actor.zone
            if not cands:
                # zone picking: other zones of orders already started
                pending = db.fos_with_unclaimed_tasks(conn, want_zone, 1)
                if not pending:
                    return {"ok": True, "run_id": None, "task": None, "done": True, "next": "No work released: wait for new orders"}
                first = db.fos_by_status(conn, ["picking"], 500)
                first = [f for f in first if f["fo_id"] == pending[0]]
                chosen, m = first, "zone"
            else:
                lead = cands[0]
                if method and method not in self.capabilities(conn):
                    raise InvalidState(f"this site does not run {str(method)[:20]!r} picking "
                                       f"(capabilities: {', '.join(sorted(self.capabilities(conn)))})")
                m, _why = (method, "forced") if method else self.method_for(conn, lead)

                def same(c):
                    return bool(method) or self.method_for(conn, c)[0] == m
                if m == "cluster":
                    group = [c for c in cands if same(c)][: self.cfg.cluster_totes]
                elif m == "batch":
                    group = [c for c in cands if same(c)][: self.cfg.batch_orders]
                elif m == "wave":
                    # by carrier cut-off urgency, then ship-by; missed cut-offs roll to a later wave
                    plan = self.floor.waves.plan(conn, [c for c in cands if same(c)])
                    by_id = {c["fo_id"]: c for c in cands}
                    group = [by_id[p.order.fo_id] for p in plan.wave]
                else:
                    group = [lead]
                if m == "wave":
                    chosen = group
                else:
                    chosen = [lead] + [g for g in group if g["fo_id"] != lead["fo_id"]]
            run_id = "R" + uuid.uuid4().hex[:10].upper()
            db.run_insert(conn, run_id, m, actor.username, want_zone if m == "zone" else None)
            tasks = []
            for slot, fo in enumerate(chosen, 1):
                if fo["status"] == "released":
                    self._allocate(conn, actor, fo["fo_id"])
                    transition(conn, fo, "picking", method=m)
                db.run_add_order(conn, run_id, fo["fo_id"], f"T-{run_id[-4:]}-{slot}", slot)
                zone_filter = want_zone if m == "zone" else None
                got = db.tasks_unclaimed(conn, fo["fo_id"], zone_filter)
                if m == "zone" and not got:
                    zones = sorted({t["zone"] for t in db.tasks_unclaimed(conn, fo["fo_id"])})
                    got = db.tasks_unclaimed(conn, fo["fo_id"], zones[0]) if zones else []
                    db.run_set(conn, run_id, zone=zones[0] if zones else None)
                tasks += got
                self._maybe_finish_order(conn, fo["fo_id"])
            for seq, t in enumerate(pick_path(tasks), 1):
                db.task_claim(conn, t["task_id"], run_id, seq)
            self.ok(conn, actor, "pick.start", f"run:{run_id}", method=m, orders=[f["fo_id"] for f in chosen], tasks=len(tasks))
            if not tasks:
                db.run_set(conn, run_id, status="done", closed_at=db.now_iso())
            return self._view(conn, run_id, f"{m} pick run with {len(chosen)} order(s)")
        return self.run(actor, "pick.start", f"fo:{fo_id}" if fo_id else None, fn)

    def view(self, actor: Actor, run_id: str) -> dict:
        return self.store.read(lambda conn: self._view(conn, run_id))

    def _view(self, conn, run_id: str, note: str | None = None, *, run: dict | None = None, task=_UNKNOWN,
              sku: dict | None = None) -> dict:
        """The handheld's screen for a run. A scan passes what it already holds and knows to be
        current (the run row, the next task, its SKU row) so the hot path skips re-reading them."""
        if run is None:
            run = db.run_get(conn, run_id)
        if run is None:
            raise NotFound(f"pick run {run_id} not found")
        prog = db.run_progress(conn, run_id)
        alerts, returns = [], []
        rows = db.run_orders_status(conn, run_id)
        for b in rows:
            if b["status"] not in BLOCKED:
                continue
            alerts.append(blocked_message(b, b["return_to"]) + (f" (tote {b['tote']})" if b["status"] == "cancelled" and b["return_to"] else ""))
            if b["status"] == "cancelled" and b["return_to"]:
                returns.append({"fo_id": b["fo_id"], "tote": b["tote"], "locations": b["return_to"].split(",")})
        if task is _UNKNOWN:
            task = db.run_next_task(conn, run_id)
        orders = [{"run_id": o["run_id"], "fo_id": o["fo_id"], "tote": o["tote"], "slot": o["slot"]} for o in rows]
        out = {"ok": True, "run_id": run_id, "method": run["method"], "status": run["status"], "expect": run["expect"],
               "orders": orders,
               "progress": prog,
               "alerts": alerts, "returns": returns, "task": None}
        if note:
            out["note"] = note
        if task is None:
            if run["status"] == "open" and db.run_open_task_count(conn, run_id):
                out["next"] = "Remaining orders are on hold: park the totes and start a new run"
            else:
                out["next"] = "Run complete: take the totes to packing"
                out["done"] = True
            return out
        if sku is None or sku["sku"] != task["sku"]:
            sku = db.sku_get(conn, task["sku"]) or {"description": ""}
        remaining = task["qty"] - task["picked"]
        tote = next((o["tote"] for o in orders if o["fo_id"] == task["fo_id"]), None)
        out["task"] = {"task_id": task["task_id"], "fo_id": task["fo_id"], "location": task["location"], "sku": task["sku"],
                       "description": sku["description"], "lot": task["lot"] or None, "qty": task["qty"],
                       "picked": task["picked"], "remaining": remaining, "tote": tote}
        if run["expect"] == "location":
            out["next"] = f"Scan bin {task['location']}"
        else:
            lot = f" lot {task['lot']}" if task["lot"] else ""
            out["next"] = f"Scan item {task['sku']}{lot} — pick {remaining} into tote {out['task']['tote']}"
        return out

    def _current(self, conn, actor: Actor, run_id: str, task_id) -> tuple[dict, dict]:
        run = db.run_get(conn, run_id)
        if run is None:
            raise NotFound(f"pick run {run_id} not found")
        if run["username"] != actor.username and actor.role not in ("manager", "admin"):
            raise InvalidState(f"pick run {run_id} belongs to {run['username']}")
        if run["status"] != "open":
            raise InvalidState(f"pick run {run_id} is {run['status']}", next="Start a new pick run")
        task = db.run_next_task(conn, run_id)
        if task_id not in (None, ""):
            try:
                tid = int(task_id)
            except (TypeError, ValueError):
                raise StaleTask(f"task {str(task_id)[:20]!r} is not a task") from None
            if task is None or tid != task["task_id"]:
                old = db.task_get(conn, tid)
                fo = db.fo_get(conn, old["fo_id"]) if old else None
                if fo and fo["status"] in BLOCKED:
                    back = ",".join(sorted({t["location"] for t in db.tasks_to_put_back(conn, fo["fo_id"])})) or None
                    raise StaleTask("stale task: " + blocked_message(fo, back), next="Reload the pick run")
                state = old["status"] if old else "unknown"
                raise StaleTask(f"task {tid} is {state}, not the current task", next="Reload the pick run")
        if task is None:
            raise InvalidState(f"pick run {run_id} has no open task", next="Take the totes to packing")
        return run, task

    def scan(self, actor: Actor, run_id: str, code: str, task_id=None, qty=None) -> dict:
        actor.require("picker")
        max_qty = self.cfg.max_scan_qty
        try:   # parsing is pure: done here, off the single writer thread (a refusal is raised in fn, audited as before)
            parsed = scan(code)
        except InvalidScan as exc:
            parsed = exc

        def fn(conn):
            if isinstance(parsed, InvalidScan):
                raise parsed
            s = parsed
            run, task = self._current(conn, actor, run_id, task_id)
            if run["expect"] == "location":
                if s.kind != "code":
                    raise WrongLocation(f"scan the bin label first: {task['location']}", next=f"Scan bin {task['location']}")
                if s.text.upper() != task["location"]:
                    raise WrongLocation(f"wrong bin {s.text[:20]}: go to {task['location']}", next=f"Scan bin {task['location']}")
                db.run_set(conn, run_id, expect="item")
                self.ok(conn, actor, "pick.location", f"task:{task['task_id']}", location=task["location"])
                return self._view(conn, run_id, run={**run, "expect": "item"}, task=task)
            sku = resolve_sku(conn, s)
            if sku["sku"] != task["sku"]:
                raise WrongItem(f"wrong item {sku['sku']}: pick {task['sku']} here", next=f"Scan item {task['sku']}")
            if s.lot and task["lot"] and s.lot != task["lot"]:
                raise WrongItem(f"wrong lot {s.lot}: pick lot {task['lot']} (earliest expiry first)",
                                next=f"Scan item {task['sku']} lot {task['lot']}")
            n = qty_of(qty if qty not in (None, "") else s.count, max_qty)
            remaining = task["qty"] - task["picked"]
            if n > remaining:
                raise OverPick(f"over-pick: only {remaining} more of {task['sku']} needed here",
                               next=f"Put back {n - remaining}; pick {remaining}")
            db.task_add_picked(conn, task["task_id"], n)
            db.stock_add(conn, location=task["location"], sku=task["sku"], lot=task["lot"], expiry=None, delta=-n,
                         cause="pick", ref=f"fo:{task['fo_id']}", user=actor.username)
            db.fo_line_add(conn, task["fo_id"], task["line_id"], picked=n)
            detail = {"sku": task["sku"], "qty": n, "location": task["location"], "lot": task["lot"]}
            if n == remaining:
                db.task_set(conn, task["task_id"], status="done")
                fo = db.fo_get(conn, task["fo_id"])
                edge_journal.emit(conn, "pick.confirmed", {"fo_id": task["fo_id"], "line_id": task["line_id"],
                                                           "sku": task["sku"], "qty": task["qty"], "location": task["location"],
                                                           "lot": task["lot"] or None}, merchant_id=fo["merchant_id"])
                nxt = db.run_next_task(conn, run_id)
                db.run_set(conn, run_id, expect="item" if nxt and nxt["location"] == task["location"] else "location")
                self._maybe_finish_order(conn, task["fo_id"])
                self._maybe_finish_run(conn, run_id)
                self.ok(conn, actor, "pick.item", f"task:{task['task_id']}", **detail)
                return self._view(conn, run_id, task=nxt, sku=sku)
            self.ok(conn, actor, "pick.item", f"task:{task['task_id']}", **detail)
            return self._view(conn, run_id, run=run, task={**task, "picked": task["picked"] + n}, sku=sku)
        return self.run(actor, "pick.scan", f"run:{run_id}", fn, scan_code=code)

    def short(self, actor: Actor, run_id: str, task_id=None) -> dict:
        """The bin holds fewer units than the task needs: record the shortage, adjust the bin,
        and either re-allocate the rest from another bin or report a short pick to central."""
        actor.require("picker")

        def fn(conn):
            run, task = self._current(conn, actor, run_id, task_id)
            missing = task["qty"] - task["picked"]
            fo = db.fo_get(conn, task["fo_id"])
            row = db.stock_at(conn, task["location"], task["sku"])
            have = next((r["qty"] for r in row if r["lot"] == task["lot"]), 0)
            gone = min(have, missing)
            if gone:
                db.stock_add(conn, location=task["location"], sku=task["sku"], lot=task["lot"], expiry=None, delta=-gone,
                             cause="short_pick", ref=f"fo:{task['fo_id']}", user=actor.username)
            db.task_set(conn, task["task_id"], status="short")
            sku = db.sku_get(conn, task["sku"])
            fefo = bool(sku and (sku["lot_tracked"] or sku["expiry_tracked"]))
            slots = stock_slots(conn, task["sku"], exclude=(task["location"], task["lot"]))
            alloc = allocate(missing, slots, fefo)
            new_tasks = [db.task_insert(conn, fo_id=task["fo_id"], line_id=task["line_id"], sku=task["sku"],
                                        location=a.location, lot=a.lot, zone=a.zone, walk_seq=a.walk_seq, qty=a.qty)
                         for a in alloc.allocations]
            found_elsewhere = missing - alloc.missing
            if alloc.missing:
                db.fo_line_add(conn, task["fo_id"], task["line_id"], short=alloc.missing)
                edge_journal.emit(conn, "pick.short", {"fo_id": task["fo_id"], "line_id": task["line_id"], "sku": task["sku"],
                                                       "qty_short": alloc.missing, "location": task["location"]},
                                  merchant_id=fo["merchant_id"])
            # central applies pick.short as on_hand -= qty_short; the bin actually lost `gone` units
            adjust = alloc.missing - gone
            if adjust:
                edge_journal.emit(conn, "inventory.adjusted", {"sku": task["sku"], "delta": adjust,
                                                               "reason": f"short pick: not found at {task['location']}",
                                                               "location": task["location"]}, merchant_id=fo["merchant_id"])
            # the new tasks join this run, right after the shorted one in walk order
            if new_tasks:
                rest = [t for t in db.run_tasks(conn, run_id) if t["status"] == "open"] + \
                       [db.task_get(conn, i) for i in new_tasks]
                for seq, t in enumerate(pick_path(rest), 1):
                    db.task_set(conn, t["task_id"], run_id=run_id, seq=10_000 + seq)
            db.run_set(conn, run_id, expect="location")
            self.ok(conn, actor, "pick.short", f"task:{task['task_id']}", sku=task["sku"], location=task["location"],
                    missing=missing, reallocated=found_elsewhere, short=alloc.missing)
            self._maybe_finish_order(conn, task["fo_id"])
            self._maybe_finish_run(conn, run_id)
            out = self._view(conn, run_id)
            out["short"] = {"sku": task["sku"], "missing": missing, "reallocated": found_elsewhere, "reported_short": alloc.missing}
            return out
        return self.run(actor, "pick.short", f"run:{run_id}", fn)

    def _maybe_finish_order(self, conn, fo_id: str) -> None:
        if db.open_tasks_of_fo(conn, fo_id):
            return
        fo = db.fo_get(conn, fo_id)
        if fo["status"] != "picking":
            return
        lines = db.fo_lines(conn, fo_id)
        if all(ln["picked"] + ln["short"] >= ln["qty"] for ln in lines):
            transition(conn, fo, "picked" if any(ln["picked"] for ln in lines) else "unfulfillable")

    def _maybe_finish_run(self, conn, run_id: str) -> None:
        if db.run_open_task_count(conn, run_id) == 0:
            db.run_set(conn, run_id, status="done", closed_at=db.now_iso())

    def put_back(self, actor: Actor, fo_id: str, bin_code: str) -> dict:
        """Return the picked units of a cancelled order to the bin they came from (scan the bin)."""
        actor.require("picker")

        def fn(conn):
            s = scan(bin_code)
            fo = self.order(conn, fo_id)
            if fo["status"] != "cancelled":
                raise InvalidState(f"order {fo_id} is {fo['status']}, not cancelled: nothing to put back")
            loc = s.text.upper()
            tasks = db.tasks_to_put_back(conn, fo_id, loc)
            if not tasks:
                left = sorted({t["location"] for t in db.tasks_to_put_back(conn, fo_id)})
                raise WrongLocation(f"nothing of {fo_id} came from {loc[:20]}" + (f": return to {', '.join(left)}" if left else ""),
                                    next=f"Scan bin {left[0]}" if left else "Nothing left to return")
            units = 0
            for t in tasks:
                n = t["picked"] - t["returned"]
                db.stock_add(conn, location=t["location"], sku=t["sku"], lot=t["lot"], expiry=None, delta=n,
                             cause="putback", ref=f"fo:{fo_id}", user=actor.username)
                db.task_set(conn, t["task_id"], returned=t["picked"])
                db.fo_line_add(conn, fo_id, t["line_id"], returned=n)
                units += n
            self.ok(conn, actor, "pick.putback", f"fo:{fo_id}", location=loc, units=units)
            left = sorted({t["location"] for t in db.tasks_to_put_back(conn, fo_id)})
            return {"ok": True, "fo_id": fo_id, "returned_units": units, "location": loc,
                    "next": f"Return the rest to bin {left[0]}" if left else "All items returned"}
        return self.run(actor, "pick.putback", f"fo:{fo_id}", fn, scan_code=bin_code)
