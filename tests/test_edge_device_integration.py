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


# ---------------------------------------------------------------- the edge node with real devices

import json  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from devices.discovery import CONSOLE_TYPE, browse  # noqa: E402
from devices.sim.scanner import GS, ScannerSim  # noqa: E402
from edge.services import Actor  # noqa: E402
from tests.fixtures_edge import make_catalog, pick_all, release, sku_gtin  # noqa: E402

PICKER, MANAGER = Actor("picker1", "picker"), Actor("manager1", "manager")


def _node_cfg(tmp_path, printer_port: int, site_id: str = "EWR1", **devices):
    from floorsync import config as config_mod

    env = {"FLOORSYNC_GENERAL_DATA_DIR": str(tmp_path), "FLOORSYNC_EDGE_SITE_ID": site_id,
           "FLOORSYNC_DEVICES_SCAN_DEBOUNCE_MS": "0", "FLOORSYNC_DEVICES_PRINTER_KIND": "zpl",
           "FLOORSYNC_DEVICES_PRINTER_HOST": "127.0.0.1", "FLOORSYNC_DEVICES_PRINTER_PORT": str(printer_port),
           "FLOORSYNC_DEVICES_PRINTER_TIMEOUT_S": "1.0", "FLOORSYNC_DEVICES_HEALTH_POLL_S": "0.1",
           "FLOORSYNC_DEVICES_PRINT_RETRY_ATTEMPTS": "1", "FLOORSYNC_DEVICES_DISCOVERY_INTERFACE": "127.0.0.1"}
    env.update({f"FLOORSYNC_DEVICES_{k.upper()}": str(v) for k, v in devices.items() if k != "station_user"})
    if "station_user" in devices:
        env["FLOORSYNC_EDGE_STATION_USER"] = devices["station_user"]
    return config_mod.load(None, env=env)


def _until(pred, timeout_s: float = 5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    return pred()


@pytest.fixture
def node_factory(tmp_path):
    nodes = []

    def make(cfg, seed_catalog=True):
        from edge.runtime import EdgeNode
        from edge.seed import seed

        node = EdgeNode(cfg)
        nodes.append(node)
        if seed_catalog:
            seed(node.floor, make_catalog())
        return node
    yield make
    for n in nodes:
        n.stop()


def test_printer_health_drives_the_console_and_the_heartbeats_printers_ok(tmp_path, zpl_sim, node_factory):
    node = node_factory(_node_cfg(tmp_path, zpl_sim.port))
    app = node.start(with_sync=False)
    assert _until(lambda: node.health()["printers_ok"]), node.health()
    hb = node.health()
    assert hb["label_printer"] == "zpl" and hb["devices"]["label-printer"]["state"] == "online"
    assert json.loads(json.dumps(hb)) == hb     # travels as-is in the sync heartbeat's ``devices``
    assert zpl_sim.status_queries >= 1          # the probe asked the printer (~HS over TCP)

    zpl_sim.set_fault("head_open")
    assert _until(lambda: not node.health()["printers_ok"])
    hb = node.health()
    assert hb["devices"]["label-printer"]["state"] == "error" and "head" in hb["devices"]["label-printer"]["last_error"].lower()
    # the same state reaches the console page's data (a manager's view)
    client = app.test_client()
    tok = client.post("/api/login", json={"username": "manager1", "pin": "9999"}).json["token"]
    console = client.get("/api/console", headers={"Authorization": "Bearer " + tok}).json
    assert console["printers_ok"] is False
    assert [(d["device"], d["kind"], d["state"]) for d in console["device_health"]] == [("label-printer", "printer", "error")]

    zpl_sim.clear_faults()
    assert _until(lambda: node.health()["printers_ok"])
    zpl_sim.stop()                              # unplugged: offline, not a crash
    assert _until(lambda: node.health()["devices"]["label-printer"]["state"] == "offline")
    assert node.health()["printers_ok"] is False


def test_the_console_is_advertised_on_loopback_while_serving_and_withdrawn_on_stop(tmp_path, zpl_sim, node_factory):
    site = "ZC" + uuid.uuid4().hex[:8].upper()   # loopback mDNS is shared with anything else running here
    node = node_factory(_node_cfg(tmp_path, zpl_sim.port, site_id=site), seed_catalog=False)
    node.start(with_sync=False, http_port=18_123, http_host="127.0.0.1")
    found = [s for s in browse((CONSOLE_TYPE,), timeout_s=1.5, interface="127.0.0.1") if s.properties.get("site_id") == site]
    assert [(s.port, s.addresses, s.properties["role"], s.properties["path"]) for s in found] == \
        [(18_123, ("127.0.0.1",), "edge", "/console")]
    node.stop()
    assert node.advertiser._zc is None
    assert [s for s in browse((CONSOLE_TYPE,), timeout_s=1.0, interface="127.0.0.1")
            if s.properties.get("site_id") == site] == []


def _pack_station(tmp_path, zpl_sim, node_factory, sim, fo_id: str, **devices):
    """A started edge node whose pack station reads the pty scanner ``sim``, and a picked order ``fo_id``
    (2 x SKU-0001, 1 x SKU-0002) in its tote. ``scan(code, method="scan")`` sends one read through the
    simulator and returns the station's ``last`` once it was handled."""
    node = node_factory(_node_cfg(tmp_path, zpl_sim.port, scanner_port=sim.path, station_user="packer1", **devices))
    node.start(with_sync=False)
    station = node.station
    assert station is not None and _until(station.scanner.connected.is_set)
    release(node.floor.store, fo_id, [("SKU-0001", 2), ("SKU-0002", 1)])
    run = pick_all(node.floor, PICKER, node.floor.picking.start(PICKER, fo_id=fo_id))
    n = 0

    def scan(code, method="scan"):
        nonlocal n
        getattr(sim, method)(code)
        n += 1
        assert station.wait_events(n, 10.0)
        return station.station.status()["last"]
    return node, station, run["orders"][0]["tote"], scan


def test_a_pack_station_serial_scanner_packs_and_ships_through_the_same_workflow(tmp_path, zpl_sim, node_factory):
    sim = ScannerSim(path=str(tmp_path / "scanner")).start()
    try:
        node, station, tote, scan = _pack_station(tmp_path, zpl_sim, node_factory, sim, "FO-ST1")
        floor = node.floor

        assert scan(tote)["fo_id"] == "FO-ST1"                                   # tote -> order in hand
        # a GS1-128 read with symbology id and count AI 37 verifies both units of SKU-0001 at once
        assert scan("]C1" + "01" + sku_gtin("SKU-0001").zfill(14) + "372" + GS)["ok"] is True
        wrong = scan(sku_gtin("SKU-0003"))
        assert (wrong["ok"], wrong["error"]) == (False, "wrong_item")
        garbled = scan(sku_gtin("SKU-0002"), "scan_with_control")               # a BEL mid-code: refused by the driver
        assert (garbled["ok"], garbled["error"]) == (False, "invalid_scan")
        assert scan(sku_gtin("SKU-0002"))["ok"] is True
        v = floor.packing.get("FO-ST1")
        assert (v["to_verify"], [ln["packed"] for ln in v["lines"]]) == (0, [2, 1])
        assert scan(v["suggested_carton"])["ok"] is True                           # carton
        expected = floor.store.read(lambda c: db.fo_get(c, "FO-ST1"))["expected_weight_g"]
        packer = station.station.actor
        assert floor.packing.weigh(packer, "FO-ST1", grams=expected)["status"] == "packed"
        last = scan(v["tracking_number"])                                          # shipping label
        assert (last["ok"], last["status"]) == (True, "shipped")
        st = station.station.status()
        assert (st["fo_id"], st["scans"], st["refused"]) == (None, 7, 2)
        refusals = floor.store.read(lambda c: db.audit_rows(c, ok=False, limit=10))
        assert [(r["action"], r["code"], r["username"]) for r in refusals][:2] == \
            [("pack.station_scan", "invalid_scan", "packer1"), ("pack.verify", "wrong_item", "packer1")]
        assert node.health()["devices"][f"scanner:{sim.path}"]["state"] == "online"
    finally:
        sim.stop()


def test_a_pack_station_closes_cartons_with_the_printed_close_carton_command(tmp_path, zpl_sim, node_factory):
    """The bench's command sheet: scanning ``CMD-CLOSE-CARTON`` on the serial scanner closes the carton
    being filled, weighed on the station's pty scale through the gate, with its own tracking number and
    label; after the last unit it closes the last carton and packs the order; then both labels ship it."""
    from devices.sim.scale import ScaleSim
    from edge.core.commands import CLOSE_CARTON, command_code
    from tests.fixtures_edge import outbox

    close = command_code(CLOSE_CARTON)
    assert close == "CMD-CLOSE-CARTON"
    sim = ScannerSim(path=str(tmp_path / "scanner")).start()
    scale = ScaleSim("mt-sics", path=str(tmp_path / "scale"), sics_stable_wait_s=0.2).start()
    try:
        node, station, tote, scan = _pack_station(tmp_path, zpl_sim, node_factory, sim, "FO-CC1", scale_protocol="mt-sics",
                                                  scale_port=scale.path, scale_timeout_s=2.0)
        floor = node.floor
        master = floor.packing.get("FO-CC1")["tracking_number"]

        # no order in hand yet: the command is refused, audited, and changes nothing
        refused = scan(close)
        assert (refused["ok"], refused["error"], refused["command"]) == (False, "invalid_state", CLOSE_CARTON)
        assert refused["message"] == "CLOSE CARTON: no order at this station"
        assert scan(tote)["fo_id"] == "FO-CC1"
        assert scan(sku_gtin("SKU-0001"))["ok"] and scan(sku_gtin("SKU-0001"))["ok"]
        # carton 1: 2 x SKU-0001 (110 g) in the smallest carton BOX-XS (tare 90 g) = 310 g expected
        scale.set_weight(312)
        first = scan(close)
        assert (first["ok"], first["command"], first["status"]) == (True, CLOSE_CARTON, "picked")
        assert first["message"] == f"Carton 1 closed: {master}, 312 g"
        v = floor.packing.get("FO-CC1")
        assert [(c["seq"], c["carton"], c["tracking_number"], c["weight_g"], c["expected_weight_g"]) for c in v["cartons"]] \
            == [(1, "BOX-XS", master, 312, 310)]
        assert (v["to_verify"], v["open_carton"]) == (1, {"seq": 2, "units": 0})
        # carton 2: the last unit; an AIM-prefixed read of the command (]C0 = Code 128) works the same
        assert scan(sku_gtin("SKU-0002"))["ok"]
        scale.set_weight(209)                       # 120 g + BOX-XS 90 g = 210 g expected
        last = scan("]C0" + close)
        assert (last["ok"], last["status"]) == (True, "packed")
        v = floor.packing.get("FO-CC1")
        assert [(c["seq"], c["tracking_number"], c["weight_g"], c["lines"]) for c in v["cartons"]] == [
            (1, master, 312, [{"line_id": "1", "sku": "SKU-0001", "qty": 2}]),
            (2, f"{master}-02", 209, [{"line_id": "2", "sku": "SKU-0002", "qty": 1}])]
        fo = floor.store.read(lambda c: db.fo_get(c, "FO-CC1"))
        assert (fo["status"], fo["weight_g"], fo["expected_weight_g"]) == ("packed", 521, 520)
        # both labels ship it: the station lets go of the order after the last one
        assert scan(master)["status"] == "packed"
        shipped = scan(f"{master}-02")
        assert (shipped["ok"], shipped["status"]) == (True, "shipped")
        st = station.station.status()
        assert (st["fo_id"], st["scans"], st["refused"]) == (None, 9, 1)
        [body] = [e["body"] for e in outbox(floor.store) if e["type"] == "shipment.shipped"]
        assert (body["tracking_number"], body["weight_g"]) == (master, 521)
        assert [(c["seq"], c["tracking_number"], c["carton"], c["weight_g"]) for c in body["cartons"]] == [
            (1, master, "BOX-XS", 312), (2, f"{master}-02", "BOX-XS", 209)]
        audit = floor.store.read(lambda c: db.audit_rows(c, action="pack.close_carton", limit=10))
        assert sorted((a["ok"], a["username"], a["code"]) for a in audit) == [(0, "packer1", "invalid_state"),
                                                                            (1, "packer1", None)]
        assert zpl_sim.wait_for_labels(2, 10.0)
        labels = b"".join(lbl.zpl for lbl in zpl_sim.labels)
        assert master.encode() in labels and f"{master}-02".encode() in labels
    finally:
        scale.stop()
        sim.stop()


def test_command_barcodes_parse_with_or_without_an_aim_prefix_and_nothing_else_is_a_command():
    from edge.core.commands import CLOSE_CARTON, LABELS, command_code, parse_command

    assert [parse_command(c) for c in ("CMD-CLOSE-CARTON", " cmd-close-carton ", "]C0CMD-CLOSE-CARTON",
                                       "]Q1CMD-CLOSE-CARTON")] == [CLOSE_CARTON] * 4
    assert [parse_command(c) for c in ("CMD-CLOSE", "CMD-CLOSE-CARTONX", "4006380000017", "TOTE-0001", "", None)] == \
        [None] * 6
    assert (command_code(CLOSE_CARTON), LABELS[CLOSE_CARTON]) == ("CMD-CLOSE-CARTON", "CLOSE CARTON")
    with pytest.raises(ValueError):
        command_code("self_destruct")
