"""Cycle counts: blind counts; a large variance needs a recount by another user; deltas to central."""
from __future__ import annotations

from sync import edge_journal

from edge import store as db
from edge.core.clock import iso, parse_iso
from edge.core.rules import CountRule, needs_recount
from edge.core.schedules import BinInfo, Schedule, check_schedule, classify_abc, due_counts, task_state
from edge.errors import Forbidden, InvalidQuantity, InvalidState, NotFound
from edge.services.base import SYSTEM, Actor, Service, resolve_sku, scan

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
        at = iso(self.floor.now())

        def fn(conn):
            if n is None or n < 0 or n > max_qty:
                raise InvalidQuantity(f"counted quantity must be a whole number 0..{max_qty}, got {str(counted)[:20]!r}")
            loc, sku, rows, expected = _bin_stock(conn, location, code)
            pending = db.count_pending(conn, loc["code"], sku["sku"])
            subject = f"count:{loc['code']}:{sku['sku']}"
            if pending is None and needs_recount(expected, n, rule):
                cid = db.count_insert(conn, location=loc["code"], sku=sku["sku"], expected=expected, counted=n,
                                      counted_by=actor.username, status="recount_required", reason=reason, created_at=at)
                self.ok(conn, actor, "count.first", subject, counted=n, expected=expected, count_id=cid)
                return {"ok": True, "count_id": cid, "status": "recount_required",
                        "next": f"Variance too high: another counter must recount {sku['sku']} in {loc['code']}"}
            if pending is not None:
                if pending["counted_by"] == actor.username:
                    raise Forbidden("the recount must be done by another user", next="Ask another counter")
                db.count_set(conn, pending["count_id"], recount=n, recount_by=actor.username, status="accepted",
                             closed_at=at, expected=expected)
                cid = pending["count_id"]
            else:
                cid = db.count_insert(conn, location=loc["code"], sku=sku["sku"], expected=expected, counted=n,
                                      counted_by=actor.username, status="accepted", reason=reason, closed_at=at,
                                      created_at=at)
            self._adjust(conn, actor, loc["code"], sku["sku"], rows, n - expected, cid)
            edge_journal.emit(conn, "cycle_count.recorded", {"sku": sku["sku"], "location": loc["code"], "counted": n,
                                                             "expected": expected}, merchant_id=sku["merchant_id"])
            self.ok(conn, actor, "count.accepted", subject, counted=n, expected=expected, count_id=cid)
            out = {"ok": True, "count_id": cid, "status": "accepted", "variance": n - expected,
                   "next": "Count recorded: scan the next bin"}
            task = self._task_progress(conn, actor, loc["code"], at)
            if task is not None:
                out["count_task"] = task
                if task["status"] == "open":
                    out["next"] = f"Count recorded: count {', '.join(task['left'])} in {loc['code']} too"
                else:
                    nxt = db.count_tasks(conn, "open", 1)
                    out["next"] = (f"Bin {loc['code']} done: next due count is bin {nxt[0]['location']}" if nxt
                                   else f"Bin {loc['code']} done: no scheduled counts left")
            return out
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
            loc, sku, rows, have = _bin_stock(conn, location, code)
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

    # ---- scheduled counts

    def _task_progress(self, conn, actor: Actor, location: str, at: str) -> dict | None:
        """After an accepted count: the bin's open scheduled task is done once every SKU stocked in
        the bin has an accepted count since the task was created."""
        task = db.count_task_open_at(conn, location)
        if task is None:
            return None
        stocked = {r["sku"] for r in db.stock_at(conn, location)}
        left = sorted(stocked - db.skus_counted_since(conn, location, task["created_at"]))
        if left:
            return {"task_id": task["task_id"], "status": "open", "left": left}
        db.count_task_set(conn, task["task_id"], status="done", done_at=at, done_by=actor.username)
        self.ok(conn, actor, "count.task_done", f"count_task:{task['task_id']}", location=location,
                schedule=task["schedule_id"])
        return {"task_id": task["task_id"], "status": "done", "left": []}

    def add_schedule(self, actor: Actor, schedule_id: str, scope: str, target: str, every_days) -> dict:
        """Create or change a count schedule (manager): a zone or an ABC class, every N days."""
        actor.require("manager")
        at = iso(self.floor.now())
        target = str(target or "").strip().upper()

        def fn(conn):
            zones = {b["zone"] for b in db.pick_bins_with_skus(conn)}
            why = check_schedule(str(schedule_id or ""), str(scope or ""), target, every_days, zones)
            if why:
                raise InvalidState(why, next="Fix the schedule and save it again")
            db.count_schedule_upsert(conn, schedule_id, scope, target, every_days, actor.username, at)
            self.ok(conn, actor, "count.schedule_set", f"count_schedule:{schedule_id}", scope=scope, target=target,
                    every_days=every_days)
            return {"ok": True, "schedule": db.count_schedule_get(conn, schedule_id),
                    "next": "Run the scheduler to create the counts that are due"}
        return self.run(actor, "count.schedule_set", f"count_schedule:{str(schedule_id)[:40]}", fn)

    def remove_schedule(self, actor: Actor, schedule_id: str) -> dict:
        """Deactivate a schedule; its open count tasks are cancelled."""
        actor.require("manager")

        def fn(conn):
            sch = db.count_schedule_get(conn, str(schedule_id))
            if sch is None or not sch["active"]:
                raise NotFound(f"no active count schedule {str(schedule_id)[:40]!r}")
            db.count_schedule_set(conn, schedule_id, active=0)
            cancelled = 0
            for t in db.count_tasks(conn, "open", 100_000):
                if t["schedule_id"] == schedule_id:
                    db.count_task_set(conn, t["task_id"], status="cancelled")
                    cancelled += 1
            self.ok(conn, actor, "count.schedule_removed", f"count_schedule:{schedule_id}", cancelled=cancelled)
            return {"ok": True, "schedule_id": schedule_id, "cancelled_tasks": cancelled, "next": "Schedule removed"}
        return self.run(actor, "count.schedule_removed", f"count_schedule:{str(schedule_id)[:40]}", fn)

    def schedules(self) -> list[dict]:
        return self.store.read(db.count_schedules)

    def abc_classes(self, conn, now) -> dict[str, str]:
        import datetime as _dt
        since = iso(now - _dt.timedelta(days=self.cfg.count_abc_days))
        skus = {s for b in db.stocked_bins(conn) for s in b["skus"]}
        return classify_abc(db.pick_velocity(conn, since), skus, self.cfg.count_abc_a_pct, self.cfg.count_abc_b_pct)

    def schedule_due(self, actor: Actor = SYSTEM) -> dict:
        """The scheduler: create a count task for every bin that is due now (idempotent; called by
        the runtime's periodic tick and by `floorsync edge counts schedule`)."""
        actor.require("manager")
        now = self.floor.now()
        at = iso(now)

        def fn(conn):
            rows = db.count_schedules(conn, active_only=True)
            schedules = [Schedule(r["schedule_id"], r["scope"], r["target"], r["every_days"], parse_iso(r["created_at"]))
                         for r in rows]
            bins = [BinInfo(b["code"], b["zone"], tuple(b["skus"])) for b in db.stocked_bins(conn)]
            classes = self.abc_classes(conn, now) if any(s.scope == "abc" for s in schedules) else {}
            last = {loc: parse_iso(t) for loc, t in db.last_counted(conn).items()}
            due = due_counts(schedules, bins, classes, last, db.count_task_open_locations(conn), now)
            for d in due:
                db.count_task_insert(conn, schedule_id=d.schedule_id, location=d.location, abc_class=d.abc_class,
                                     due_at=iso(d.due_at), created_at=at)
            for r in rows:
                db.count_schedule_set(conn, r["schedule_id"], last_run_at=at)
            by_schedule: dict[str, int] = {}
            for d in due:
                by_schedule[d.schedule_id] = by_schedule.get(d.schedule_id, 0) + 1
            if due:
                self.ok(conn, actor, "count.scheduled", "count_schedules", created=len(due), by_schedule=by_schedule)
            return {"ok": True, "created": len(due), "by_schedule": by_schedule,
                    "locations": [d.location for d in due], "open_tasks": len(db.count_task_open_locations(conn)),
                    "next": f"{len(due)} new count task(s): see the due counts" if due else "No new counts due"}
        return self.run(actor, "count.schedule_run", "count_schedules", fn)

    def due(self, actor: Actor | None = None) -> dict:
        """Open scheduled count tasks, each ``due`` or ``overdue`` (most overdue first, then walk order)."""
        if actor is not None:
            actor.require("counter")
        now = self.floor.now()
        tasks = self.store.read(lambda c: db.count_tasks(c, "open", 1000))
        for t in tasks:
            t["state"] = task_state(parse_iso(t["due_at"]), now, self.cfg.count_overdue_days)
        overdue = sum(t["state"] == "overdue" for t in tasks)
        return {"ok": True, "tasks": tasks, "due": len(tasks) - overdue, "overdue": overdue,
                "next": f"Count bin {tasks[0]['location']} first" if tasks else "No counts due"}


def _bin_stock(conn, location, code) -> tuple[dict, dict, list[dict], int]:
    """The storage bin, the scanned SKU, its stock rows in that bin and their total (count and adjust)."""
    loc = db.location_get(conn, location)
    if loc is None or loc["kind"] != "pick":
        raise NotFound(f"{str(location)[:20]!r} is not a storage bin of this site")
    sku = resolve_sku(conn, scan(code))
    rows = db.stock_at(conn, loc["code"], sku["sku"])
    return loc, sku, rows, sum(r["qty"] for r in rows)
