"""Packing with the real device drivers against the simulators: MT-SICS scale on a pty, ZPL
printer on TCP. Labels print from the spooler thread; every job's state is on the edge store."""
from __future__ import annotations

import pytest

from devices.printers import ZplTcpPrinter
from devices.printing import RetryPolicy
from devices.scales import open_scale
from devices.sim.scale import ScaleSim
from devices.sim.zpl_printer import ZplPrinterSim
from edge import store as db
from edge.errors import ScaleFailure
from edge.printing import build_print_queue
from edge.seed import seed
from edge.services import Actor, Floor
from edge.weighing import ScaleWeightSource
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import make_catalog, pick_all, release, sku_gtin

PICKER, PACKER, MANAGER = Actor("picker1", "picker"), Actor("packer1", "packer"), Actor("manager1", "manager")


@pytest.fixture
def rig(edge_cfg, edge_store, tmp_path):
    printer_sim = ZplPrinterSim().start()
    scale_sim = ScaleSim("mt-sics", path=str(tmp_path / "scale"), sics_stable_wait_s=0.3).start()
    scale = ScaleWeightSource(open_scale("mt-sics", scale_sim.path))
    pq = build_print_queue(edge_store, ZplTcpPrinter("127.0.0.1", printer_sim.port, timeout_s=2.0), "zpl",
                           str(tmp_path / "documents"), retry=RetryPolicy(attempts=2, backoff_s=0.05))
    floor = Floor(edge_cfg.replace("edge", scale_timeout_s=1.0), edge_store, weight_source=scale, print_queue=pq)
    seed(floor, make_catalog(), users=False)
    pq.start()
    yield floor, printer_sim, scale_sim, pq
    pq.stop()
    scale.close()
    scale_sim.stop()
    printer_sim.stop()


def _ready_to_weigh(floor, fo_id):
    release(floor.store, fo_id, [("SKU-0001", 2)])
    pick_all(floor, PICKER, floor.picking.start(PICKER, fo_id=fo_id))
    floor.packing.start(PACKER, fo_id)
    floor.packing.scan_item(PACKER, fo_id, sku_gtin("SKU-0001"), qty=2)
    return floor.packing.carton(PACKER, fo_id, "BOX-XS")["expected_weight_g"]


def test_stable_scale_reading_packs_and_the_label_prints_on_the_zpl_printer(rig, tmp_path):
    floor, printer_sim, scale_sim, pq = rig
    expected = _ready_to_weigh(floor, "FO-1")
    assert expected == 2 * 110 + 90
    scale_sim.set_weight(expected + 12)
    out = floor.packing.weigh(PACKER, "FO-1")
    assert out["ok"] and out["status"] == "packed" and out["weight_g"] == expected + 12
    assert len(out["print_jobs"]) == 2
    assert printer_sim.wait_for_labels(1, 5.0)
    assert pq.wait_idle(5.0)
    jobs = floor.store.read(lambda c: db.print_jobs_for_fo(c, "FO-1"))
    assert [(j["kind"], j["state"]) for j in jobs] == [("shipping_label", "done"), ("packing_slip", "done")]
    zpl = printer_sim.labels[0].zpl
    assert zpl.startswith(b"^XA") and b"^FH" in zpl and b"1ZFO1" in zpl
    slips = list((tmp_path / "documents").glob("*.pdf"))
    assert len(slips) == 1 and slips[0].read_bytes().startswith(b"%PDF")
    floor.shipping.confirm(PACKER, "FO-1", "1ZFO1")
    m = floor.shipping.close_manifest(MANAGER, "ups")
    assert pq.wait_idle(5.0)
    assert floor.store.read(lambda c: db.print_job_get(c, m["print_jobs"][0]))["state"] == "done"


def test_unstable_scale_does_not_count(rig):
    floor, _printer, scale_sim, _pq = rig
    _ready_to_weigh(floor, "FO-2")
    scale_sim.set_motion(True)
    with pytest.raises(ScaleFailure, match="no stable weight"):
        floor.packing.weigh(PACKER, "FO-2")
    assert floor.store.read(lambda c: db.fo_get(c, "FO-2"))["status"] == "picked"
    assert floor.store.read(lambda c: db.audit_rows(c, ok=False, action="pack.weigh"))[0]["code"] == "scale_failure"


def test_printer_fault_marks_the_job_failed_never_silently_reprinted(rig):
    floor, printer_sim, scale_sim, pq = rig
    expected = _ready_to_weigh(floor, "FO-3")
    printer_sim.set_fault("head_open")
    scale_sim.set_weight(expected)
    out = floor.packing.weigh(PACKER, "FO-3")
    assert out["status"] == "packed"    # packing is not blocked by the printer; the job shows the fault
    assert pq.wait_idle(5.0)
    label = floor.store.read(lambda c: db.print_jobs_for_fo(c, "FO-3"))[0]
    assert label["state"] == "failed" and "head" in (label["error"] or "").lower()
    assert printer_sim.labels == []
    dev = {d["device_id"]: d for d in floor.store.read(db.devices_all)}
    assert dev["printer:label"]["status"] == "error"
    # the manager closes the head and reprints on purpose (audited); nothing was reprinted by itself
    printer_sim.clear_faults()
    with pytest.raises(Exception, match="reason"):
        floor.reprint(MANAGER, label["job_id"], "")
    new = floor.reprint(MANAGER, label["job_id"], "head closed, label lost")
    assert pq.wait_idle(5.0) and printer_sim.wait_for_labels(1, 5.0)
    row = floor.store.read(lambda c: db.print_job_get(c, new["job_id"]))
    assert (row["state"], row["reprint_of"], row["actor"]) == ("done", label["job_id"], "manager1")
    assert floor.store.read(db.devices_all)[0]["status"] == "online"
    assert floor.store.read(lambda c: db.audit_rows(c, action="print.reprint", ok=True))[0]["username"] == "manager1"


def test_jobs_interrupted_by_a_crash_become_unknown_and_queued_ones_are_resent(edge_store):
    edge_store.write(lambda c: (db.print_job_insert(c, "j-sent", "shipping_label", None, b"^XA^XZ"),
                                db.print_job_set(c, "j-sent", "sent"),
                                db.print_job_insert(c, "j-queued", "shipping_label", None, b"^XA^FDx^FS^XZ")))
    sim = ZplPrinterSim().start()
    try:
        pq = build_print_queue(edge_store, ZplTcpPrinter("127.0.0.1", sim.port, timeout_s=2.0), "zpl", "/tmp/unused-sheets")
        pq.start()
        assert pq.wait_idle(5.0) and sim.wait_for_labels(1, 5.0)
        pq.stop()
        states = {j: edge_store.read(lambda c, j=j: db.print_job_get(c, j))["state"] for j in ("j-sent", "j-queued")}
        assert states == {"j-sent": "unknown", "j-queued": "done"}
        assert len(sim.labels) == 1
    finally:
        sim.stop()
