"""Floor services: each use case composes the pure rules (edge.core) with the store and devices.

``Floor(cfg, store, ...)`` builds them all; the web app and the CLI use only this object.
"""
from __future__ import annotations

import datetime as _dt
import time
from typing import Callable

from edge.errors import CatchingUp
from edge.services.base import SYSTEM, Actor, ScanGate

__all__ = ["Floor", "Actor", "ScanGate", "SYSTEM"]


class Floor:
    def __init__(self, cfg, store, *, weight_source=None, print_queue=None, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], _dt.datetime] | None = None):
        from edge.services.auth import Auth
        from edge.services.counting import Counting
        from edge.services.packing import Packing
        from edge.services.picking import Picking
        from edge.services.qc import Qc
        from edge.services.receiving import Receiving
        from edge.services.returns import Returns
        from edge.services.shipping import Shipping
        from edge.services.transfers import Transfers
        from edge.services.waves import Waves

        self.full_cfg = cfg
        self.cfg = cfg.edge
        self.store = store
        self.site_id = store.site_id
        self.weight_source = weight_source
        self.print_queue = print_queue
        self.device_health: Callable[[], dict] | None = None   # set by edge.runtime.EdgeNode (devices.health snapshot)
        # set by edge.runtime.EdgeNode to EdgeSync.floor_gate: why new work waits after a reconnect, or None
        self.sync_gate: Callable[[], str | None] | None = None
        self.scan_gate = ScanGate(cfg.devices.scan_debounce_ms, clock)
        # wall clock (aware, UTC) for cut-offs and count schedules; tests pass a fixed one
        self.now: Callable[[], _dt.datetime] = now or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.auth = Auth(self)
        self.receiving = Receiving(self)
        self.picking = Picking(self)
        self.packing = Packing(self)
        self.shipping = Shipping(self)
        self.counting = Counting(self)
        self.transfers = Transfers(self)
        self.returns = Returns(self)
        self.qc = Qc(self)
        self.waves = Waves(self)

    def require_caught_up(self, actor: Actor) -> None:
        """Refuse new floor work for the few seconds after a reconnect in which central's queued holds
        and cancels are still being applied (DESIGN §3: they apply before any new pick or label)."""
        gate = self.sync_gate
        why = gate() if gate is not None else None
        if why:
            raise CatchingUp(why, next="Wait a few seconds and scan again", user=actor.username)

    def console_summary(self) -> dict:
        """Everything the site manager's console shows, in one read transaction."""
        from edge import store as db

        def fn(conn):
            return {
                "ok": True, "site_id": self.site_id,
                "orders_by_status": db.fo_status_counts(conn),
                "open_orders": db.fos_by_status(conn, ["released", "picking", "picked", "packed"], 60),
                "holds": db.fos_by_status(conn, ["on_hold", "cancelled"], 30),
                "weight_holds": db.fos_by_status(conn, ["weight_hold"], 30),
                "runs": db.runs_open(conn),
                "short_picks": db.short_picks(conn, 30),
                "print_jobs": db.print_jobs(conn, None, 30),
                "print_states": db.print_state_counts(conn),
                "exceptions": db.audit_rows(conn, ok=False, limit=30),
                "counts": db.counts_recent(conn, 20),
                "devices": db.devices_all(conn),
                "outbox_depth": db.outbox_depth(conn),
                "next": "Resolve weight holds and exceptions first",
            }
        out = self.store.read(fn)
        from edge.errors import EdgeError
        out["qc"] = self.qc.pending()[:30]
        out["manifests"] = self.shipping.manifests(limit=10)
        out["count_due"] = self.counting.due()
        try:
            out["wave"] = self.waves.preview(SYSTEM)
        except EdgeError as exc:   # a bad cut-off setting must not take the console down
            out["wave"] = {"ok": False, "message": exc.message, "wave": [], "waiting": [], "deferred": []}
        if self.device_health is not None:
            snap = self.device_health()
            out["device_health"] = [{"device": name, **d} for name, d in snap["devices"].items()]
            out["printers_ok"] = snap["printers_ok"]
            out["station"] = snap.get("station")
        return out

    def reprint(self, actor, job_id: str, reason: str) -> dict:
        from edge.errors import InvalidState

        actor.require("manager")
        if self.print_queue is None:
            raise InvalidState("printing is not configured on this edge (devices.printer_kind = none)")
        try:
            new_id = self.print_queue.reprint(actor, job_id, reason)
        except Exception as exc:
            from edge.errors import EdgeError
            if isinstance(exc, EdgeError):
                self.auth.refused(actor, "print.reprint", f"print:{str(job_id)[:40]}", exc, None, None)
            raise
        return {"ok": True, "job_id": new_id, "reprint_of": job_id, "next": "Check the printer output"}
