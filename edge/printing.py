"""Print jobs on the edge store: the journal behind ``devices.printing.PrintSpooler``.

Job rows are inserted (state ``queued``) in the same transaction as the pack step that needs them,
so a crash never loses a label. After the commit they are handed to the spooler, whose thread does
all printer I/O and reports state changes back through :class:`StoreJobJournal`. On start, jobs
left ``sent`` by a crash become ``unknown`` (never resent automatically) and ``queued`` jobs are
submitted again.
"""
from __future__ import annotations

import logging
import uuid

from edge import store as db
from floorsync.log import log_event

logger = logging.getLogger("edge.printing")


class StoreJobJournal:
    """``devices.printing`` journal protocol (record/update) on the edge store."""

    def __init__(self, store):
        self.store = store

    def record(self, job) -> None:
        ref = job.ref or job.job_id
        def fn(conn):
            if db.print_job_get(conn, ref) is None:  # a job submitted outside the pack flow (e.g. a reprint)
                db.print_job_insert(conn, ref, job.description or "document", None, job.data,
                                    reprint_of=job.reprint_of, actor=job.actor or None, reason=job.reason or None)
            db.print_job_bind(conn, ref, job.job_id)
        self.store.write(fn)

    def update(self, job_id: str, state: str, error: str | None) -> None:
        def fn(conn):
            row = db.print_job_by_spool(conn, job_id)
            if row is not None:
                db.print_job_set(conn, row["job_id"], state, error)
        self.store.write(fn)

    def get(self, job_id: str):
        return None


class PrintQueue:
    def __init__(self, store, spooler, renderer, *, kind: str = "zpl"):
        self.store = store
        self.spooler = spooler
        self.renderer = renderer
        self.kind = kind

    def queue_order_documents(self, conn, fo: dict, user: str) -> list[str]:
        """Insert the shipping label and packing slip jobs (inside the caller's transaction)."""
        ids = []
        lines = db.fo_lines(conn, fo["fo_id"])
        skus = db.skus_get(conn, [ln["sku"] for ln in lines])
        site = db.meta_get(conn, "site_id")
        for kind, payload in self.renderer(fo, lines, skus, site, self.kind):
            job_id = uuid.uuid4().hex
            db.print_job_insert(conn, job_id, kind, fo["fo_id"], payload, actor=user)
            ids.append(job_id)
        return ids

    def submit(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            row = self.store.read(lambda c: db.print_job_get(c, job_id))
            if row and row["state"] == "queued":
                self.spooler.submit(bytes(row["payload"]), row["kind"], job_id)

    def start(self) -> None:
        n = self.store.write(db.print_jobs_interrupted)
        if n:
            log_event(logger, "edge_print_jobs_unknown_after_restart", count=n)
        self.spooler.start()
        queued = self.store.read(db.print_jobs_queued)
        for row in queued:
            self.spooler.submit(bytes(row["payload"]), row["kind"], row["job_id"])

    def stop(self) -> None:
        self.spooler.stop()

    def ok(self) -> bool:
        states = self.store.read(lambda c: db.print_jobs(c, None, 5))
        return not states or states[0]["state"] not in ("failed", "unknown")


def render_order_documents(fo: dict, lines: list[dict], skus: dict, site: str, kind: str) -> list[tuple[str, bytes]]:
    from edge.documents import order_documents

    return order_documents(fo, lines, skus, site, kind)


def open_print_queue(cfg, store):
    if cfg.devices.printer_kind == "none":
        return None
    try:
        from devices.printers import open_printer
        from devices.printing import PrintSpooler
        import labels.render  # noqa: F401
    except ModuleNotFoundError as exc:
        log_event(logger, "edge_printing_unavailable", level=logging.WARNING, error=str(exc))
        return None
    printer = open_printer(cfg.devices, cfg.general.data_dir)
    spooler = PrintSpooler(printer, StoreJobJournal(store))
    return PrintQueue(store, spooler, render_order_documents, kind=cfg.devices.printer_kind)
