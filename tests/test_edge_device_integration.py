"""The edge wired to the device layer with the real simulators: spooler-level reprints get their
own journal row, device health (printer ~HS probe over TCP) drives the console and the sync
heartbeat's ``printers_ok``, the console is advertised over zeroconf (127.0.0.1 only), and a
station serial scanner on a pty feeds the pack workflow."""
from __future__ import annotations

import pytest

from devices.printers import ZplTcpPrinter
from devices.printing import RetryPolicy
from devices.sim.zpl_printer import ZplPrinterSim
from edge import store as db
from edge.printing import build_print_queue
from tests.fixtures_edge import *  # noqa: F401,F403

LABEL = b"^XA^FO20,20^FDHELLO^FS^XZ"


@pytest.fixture
def zpl_sim():
    sim = ZplPrinterSim().start()
    yield sim
    sim.stop()


def _queue(edge_store, sim, tmp_path):
    return build_print_queue(edge_store, ZplTcpPrinter("127.0.0.1", sim.port, timeout_s=2.0), "zpl",
                             str(tmp_path / "documents"), retry=RetryPolicy(attempts=1, backoff_s=0.01))


def test_a_spooler_reprint_gets_its_own_audited_row_and_leaves_the_original_untouched(edge_store, zpl_sim, tmp_path):
    pq = _queue(edge_store, zpl_sim, tmp_path)
    pq.start()
    try:
        job_id = edge_store.write(lambda c: pq.queue_document(c, "shipping_label", LABEL, "packer1", printer="label"))
        pq.submit([job_id])
        assert pq.wait_idle(5.0) and zpl_sim.wait_for_labels(1, 5.0)
        original = edge_store.read(lambda c: db.print_job_get(c, job_id))
        assert (original["state"], original["attempts"], original["reprint_of"]) == ("done", 1, None)

        spooler = pq.spoolers["label"]
        new_spool_id = spooler.reprint(original["spool_id"], "manager1", "label smudged")
        assert pq.wait_idle(5.0) and zpl_sim.wait_for_labels(2, 5.0)
        rows = edge_store.read(lambda c: c.execute("SELECT job_id, spool_id, state, reprint_of, actor, reason, attempts "
                                                   "FROM print_jobs ORDER BY created_at, job_id").fetchall())
        by_id = {r["job_id"]: dict(r) for r in rows}
        assert len(by_id) == 2
        # the original keeps its own spool binding, state and attempt count
        assert by_id[job_id] == {"job_id": job_id, "spool_id": original["spool_id"], "state": "done", "reprint_of": None,
                                 "actor": "packer1", "reason": None, "attempts": 1}
        assert by_id[new_spool_id] == {"job_id": new_spool_id, "spool_id": new_spool_id, "state": "done",
                                       "reprint_of": job_id, "actor": "manager1", "reason": "label smudged", "attempts": 1}
        audit = edge_store.read(lambda c: db.audit_rows(c, action="print.reprint"))
        assert [(a["username"], a["subject"], a["ok"]) for a in audit] == [("manager1", f"print:{job_id}", 1)]
        assert [lbl.zpl for lbl in zpl_sim.labels] == [LABEL, LABEL]
    finally:
        pq.stop()


def test_a_reprint_after_a_restart_finds_the_job_in_the_store(edge_store, zpl_sim, tmp_path):
    pq = _queue(edge_store, zpl_sim, tmp_path)
    pq.start()
    job_id = edge_store.write(lambda c: pq.queue_document(c, "manifest", LABEL, "manager1", printer="label"))
    pq.submit([job_id])
    assert pq.wait_idle(5.0)
    pq.stop()
    spool_id = edge_store.read(lambda c: db.print_job_get(c, job_id))["spool_id"]
    pq2 = _queue(edge_store, zpl_sim, tmp_path)   # a fresh spooler knows nothing in memory
    pq2.start()
    try:
        new_id = pq2.spoolers["label"].reprint(spool_id, "manager1", "carrier lost it")
        assert pq2.wait_idle(5.0) and zpl_sim.wait_for_labels(2, 5.0)
        row = edge_store.read(lambda c: db.print_job_get(c, new_id))
        assert (row["kind"], row["state"], row["reprint_of"], row["reason"]) == ("manifest", "done", job_id, "carrier lost it")
        assert edge_store.read(lambda c: db.print_job_get(c, job_id))["spool_id"] == spool_id
    finally:
        pq2.stop()
