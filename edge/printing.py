"""Print jobs on the edge store: the journal behind ``devices.printing.PrintSpooler``.

Job rows are inserted (state ``queued``) in the same transaction as the pack step that needs them,
so a crash never loses a label. After the commit they are handed to a spooler, whose thread does
all printer I/O and reports state changes back through :class:`StoreJobJournal` (never on a
request thread). Two spoolers: ``label`` (the configured label printer) and ``sheet`` (packing
slips and manifests as PDF files under ``<data_dir>/documents`` when the label printer cannot
print them). On start, jobs left ``sent`` by a crash become ``unknown`` (never resent
automatically) and ``queued`` jobs are submitted again.
"""
from __future__ import annotations

import logging
import os
import uuid

from edge import store as db
from floorsync.log import log_event

logger = logging.getLogger("edge.printing")


class StoreJobJournal:
    """``devices.printing`` journal protocol (``record``/``update``) on the edge store."""

    def __init__(self, store, printer_key: str = "label"):
        self.store = store
        self.printer_key = printer_key

    def record(self, job) -> None:
        ref = job.ref or job.job_id

        def fn(conn):
            if db.print_job_by_spool(conn, job.job_id) is not None:
                return  # already recorded (idempotent)
            if job.reprint_of:
                # ``PrintSpooler.reprint()`` keeps the original's ``ref``: binding to that row would
                # overwrite the original's audit trail. A reprint always gets its own row.
                self._record_reprint(conn, job)
                return
            if db.print_job_get(conn, ref) is None:  # submitted outside the pack flow
                db.print_job_insert(conn, ref, job.description or "document", None, job.data, printer=self.printer_key,
                                    actor=job.actor or None, reason=job.reason or None)
            db.print_job_bind(conn, ref, job.job_id)
        self.store.write(fn)

    def _record_reprint(self, conn, job) -> None:
        original = db.print_job_by_spool(conn, job.reprint_of) or (db.print_job_get(conn, job.ref) if job.ref else None)
        original_id = original["job_id"] if original else job.reprint_of
        db.print_job_insert(conn, job.job_id, (original or {}).get("kind") or job.description or "document",
                            (original or {}).get("fo_id"), job.data, printer=self.printer_key, reprint_of=original_id,
                            actor=job.actor or None, reason=(job.reason or "")[:300] or None)
        db.print_job_bind(conn, job.job_id, job.job_id)
        db.audit(conn, user=job.actor or None, action="print.reprint", ok=True, subject=f"print:{original_id}",
                 detail={"new_job": job.job_id, "reason": (job.reason or "")[:300],
                         "original_state": (original or {}).get("state")})

    def get(self, spool_id: str):
        """The spooler's view of a recorded job (lets ``PrintSpooler.reprint`` find jobs printed
        before a restart)."""
        from devices.printing import PrintJob

        row = self.store.read(lambda c: db.print_job_by_spool(c, spool_id))
        if row is None:
            return None
        return PrintJob(job_id=spool_id, data=bytes(row["payload"]), description=row["kind"], ref=row["job_id"],
                        state=row["state"], attempts=row["attempts"], error=row["error"] or "",
                        reprint_of=row["reprint_of"], actor=row["actor"] or "", reason=row["reason"] or "",
                        printer=row["printer"])

    def update(self, job_id: str, state: str, error: str | None) -> None:
        def fn(conn):
            row = db.print_job_by_spool(conn, job_id)
            if row is not None:
                db.print_job_set(conn, row["job_id"], state, error)
            if state in ("done", "failed", "unknown"):
                db.device_set_status(conn, f"printer:{self.printer_key}", "online" if state == "done" else "error", error)
        self.store.write(fn)


class PrintQueue:
    def __init__(self, store, spoolers: dict, *, printer_kind: str = "zpl"):
        self.store = store
        self.spoolers = spoolers
        self.printer_kind = printer_kind

    def queue_order_documents(self, conn, fo: dict, user: str) -> list[str]:
        """Insert the shipping label and packing slip jobs (inside the caller's transaction)."""
        from edge.documents import order_documents

        lines = db.fo_lines(conn, fo["fo_id"])
        skus = db.skus_get(conn, [ln["sku"] for ln in lines])
        docs = order_documents(fo, lines, skus, db.meta_get(conn, "site_id"), self.printer_kind, db.site_config_get(conn))
        ids = []
        for kind, printer, payload in docs:
            job_id = uuid.uuid4().hex
            db.print_job_insert(conn, job_id, kind, fo["fo_id"], payload, printer=printer, actor=user)
            ids.append(job_id)
        return ids

    def queue_document(self, conn, kind: str, payload: bytes, user: str, printer: str = "sheet") -> str:
        job_id = uuid.uuid4().hex
        db.print_job_insert(conn, job_id, kind, None, payload, printer=printer, actor=user)
        return job_id

    def submit(self, job_ids: list[str]) -> None:
        """Hand committed jobs to their spooler (a queue put: no printer I/O here)."""
        for job_id in job_ids:
            row = self.store.read(lambda c: db.print_job_get(c, job_id))
            if row and row["state"] == "queued":
                self.spoolers[row["printer"]].submit(bytes(row["payload"]), row["kind"], job_id)

    def reprint(self, actor, job_id: str, reason: str) -> str:
        """Queue a copy of a finished job (an operator's explicit, audited decision — e.g. for an
        ``unknown`` label after checking the printer)."""
        from edge.errors import InvalidState, NotFound

        r = (reason or "").strip()

        def fn(conn):
            row = db.print_job_get(conn, job_id)
            if row is None:
                raise NotFound(f"print job {str(job_id)[:40]} not found")
            if row["state"] not in ("done", "failed", "unknown"):
                raise InvalidState(f"print job {job_id} is still {row['state']}")
            if len(r) < 3:
                raise InvalidState("a reprint needs a reason")
            new_id = uuid.uuid4().hex
            db.print_job_insert(conn, new_id, row["kind"], row["fo_id"], bytes(row["payload"]), printer=row["printer"],
                                reprint_of=job_id, actor=actor.username, reason=r[:300])
            db.audit(conn, user=actor.username, action="print.reprint", ok=True, subject=f"print:{job_id}",
                     detail={"new_job": new_id, "reason": r[:300], "original_state": row["state"]})
            return new_id
        new_id = self.store.write(fn)
        self.submit([new_id])
        return new_id

    def start(self) -> None:
        for key, sp in self.spoolers.items():
            self.store.write(lambda c, key=key, sp=sp: db.device_upsert(c, f"printer:{key}", "printer",
                                                                         str(getattr(sp.printer, "name", key)), "configured"))
        n = self.store.write(db.print_jobs_interrupted)
        if n:
            log_event(logger, "edge_print_jobs_unknown_after_restart", count=n)
        for sp in self.spoolers.values():
            sp.start()
        for row in self.store.read(db.print_jobs_queued):
            if row["printer"] in self.spoolers:
                self.spoolers[row["printer"]].submit(bytes(row["payload"]), row["kind"], row["job_id"])

    def stop(self) -> None:
        for sp in self.spoolers.values():
            sp.stop()

    def wait_idle(self, timeout_s: float) -> bool:
        """Until every job on the store is finished (done/failed/unknown) — tests and shutdown."""
        import time
        deadline = time.monotonic() + timeout_s
        if not all(sp.wait_idle(timeout_s) for sp in self.spoolers.values()):
            return False
        while time.monotonic() < deadline:
            if not self.store.read(lambda c: db.print_jobs(c, ("queued", "sent"), 1)):
                return True
            time.sleep(0.01)
        return False

    def ok(self) -> bool:
        last = self.store.read(lambda c: db.print_jobs(c, None, 1))
        return not last or last[0]["state"] not in ("failed", "unknown")


LABEL_DEVICE = "label-printer"   # the label printer's name in devices.health (devices.health.monitor_for uses it)


def build_print_queue(store, label_printer, printer_kind: str, sheet_dir: str, retry=None, health=None) -> PrintQueue:
    """Spoolers for the label printer and the PDF sheet "printer". ``health`` (a
    ``devices.health.DeviceHealth``) receives the label spooler's job outcomes under
    ``label-printer``; the PDF sheet printer is not a label printer and stays out of it."""
    from devices.printers import PdfFilePrinter
    from devices.printing import PrintSpooler

    spoolers = {"label": PrintSpooler(label_printer, StoreJobJournal(store, "label"), retry=retry, health=health,
                                      device_name=LABEL_DEVICE),
                "sheet": PrintSpooler(PdfFilePrinter(sheet_dir, name="sheet"), StoreJobJournal(store, "sheet"), retry=retry,
                                      device_name="sheet")}
    return PrintQueue(store, spoolers, printer_kind=printer_kind)


def open_print_queue(cfg, store, health=None) -> PrintQueue | None:
    """The print queue for the configured printer (``devices.printer_kind``; ``none`` = no printing)."""
    if cfg.devices.printer_kind == "none":
        return None
    from devices.printers import open_printer
    from devices.printing import RetryPolicy

    printer = open_printer(cfg.devices, cfg.general.data_dir)
    retry = RetryPolicy(attempts=cfg.devices.print_retry_attempts, backoff_s=cfg.devices.print_retry_backoff_s)
    return build_print_queue(store, printer, cfg.devices.printer_kind, os.path.join(cfg.general.data_dir, "documents"),
                             retry=retry, health=health)
