"""QC release/reject and a multi-carton shipment on the real edge services, carried to central over
the generated Mosquitto by the real sync runtime: central's balances and order follow the floor."""
from __future__ import annotations

import pytest

from edge import store as db
from edge.services import Actor, Floor
from edge.weighing import FixedWeightSource
from sync.central_node import CentralSync
from sync.edge_node import EdgeSync
from tests.fixtures_edge import edge_config
from tests.fixtures_sync import *  # noqa: F401,F403
from tests.fixtures_sync import (MERCHANT, central_on_hand, edge_on_hand, open_central, open_edge, outbox_depth,
                                 small_catalog, wait_until)

pytestmark = pytest.mark.mqtt
RECEIVER, PICKER, PACKER = Actor("receiver1", "receiver"), Actor("picker1", "picker"), Actor("packer1", "packer")


def central_row(svc, sku):
    return {s["site_id"]: s for s in svc.inventory_for_sku(MERCHANT, sku)["sites"]}["EWR1"]


def test_qc_decisions_and_a_two_carton_shipment_reach_central(sync_broker, tmp_path):
    from central import sync_handlers
    from central.services import CentralService
    from tests.fixtures_central import order_payload

    cat = small_catalog(("EWR1",))
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    svc = CentralService(cstore)
    sync_handlers.configure(svc.ops)
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", cat)
    qc_sku, ship_sku = cat["skus"][0]["sku"], next(r["sku"] for r in cat["stock"] if r["site_id"] == "EWR1" and r["qty"] >= 2)

    def extras(conn):   # what `edge seed` adds around the sync fixture's one-bin site
        db.location_upsert(conn, "DOCK-01", "X", 0, 0, 0, 100_000, kind="dock")
        db.location_upsert(conn, "QC-01", "X", 0, 0, 0, 100_001, kind="quarantine")
        db.location_upsert(conn, "B-01-01-1", "B", 1, 1, 1, 500)
        db.carton_upsert(conn, {"code": "BOX-XL", "length_mm": 600, "width_mm": 500, "height_mm": 400, "tare_g": 800})
    estore.write(extras)
    central = CentralSync(sync_broker.cfg("central"), cstore, set_health=svc.set_site_health)
    central.start()
    assert central.wait_ready()
    edge = EdgeSync(sync_broker.cfg("EWR1"), estore, digest_fn=False)
    edge.start()
    assert edge.wait_ready()
    floor = Floor(edge_config(tmp_path), estore, weight_source=FixedWeightSource(0))
    try:
        # the catalog central seeded reaches the edge first (sku.upsert); then this SKU needs QC
        wait_until(lambda: central.status()["sites"]["EWR1"]["down"]["outbox_depth"] == 0, 30, "catalog delivered")
        estore.write(lambda c: c.execute("UPDATE skus SET requires_qc = 1 WHERE sku = ?", (qc_sku,)))
        before = central_row(svc, qc_sku)
        # QC: 10 received into quarantine, 6 released into a bin, 4 scrapped
        rid = floor.receiving.receive(RECEIVER, qc_sku, qty=10)["receipt_id"]
        floor.qc.release(RECEIVER, rid, "B-01-01-1", qty=6)
        floor.qc.reject(RECEIVER, rid, "damaged", "scrap")
        wait_until(lambda: outbox_depth(estore) == 0, 30, "QC events acknowledged")
        after = central_row(svc, qc_sku)
        assert (after["on_hand"] - before["on_hand"], after["quarantine"] - before["quarantine"]) == (6, 0)

        # a two-carton shipment of an order central released to the site
        order, _ = svc.create_order(MERCHANT, order_payload("MC-1", [(ship_sku, 2)]))
        [fo] = order["fulfillment_orders"]
        fo_id = fo["fo_id"]
        wait_until(lambda: estore.read(lambda c: db.fo_get(c, fo_id)), 20, "order released to the edge")
        run = floor.picking.start(PICKER, fo_id=fo_id)
        while run.get("task"):
            t = run["task"]
            if run["expect"] == "location":
                run = floor.picking.scan(PICKER, run["run_id"], t["location"], task_id=t["task_id"])
            run = floor.picking.scan(PICKER, run["run_id"], t["sku"], task_id=t["task_id"], qty=run["task"]["remaining"])
        floor.packing.start(PACKER, fo_id)
        floor.packing.scan_item(PACKER, fo_id, ship_sku)
        v = floor.packing.carton(PACKER, fo_id, "BOX-XL")
        floor.weight_source.set(v["expected_weight_g"])
        c1 = floor.packing.close_carton(PACKER, fo_id)["closed_carton"]
        floor.packing.scan_item(PACKER, fo_id, ship_sku)
        out = floor.packing.weigh(PACKER, fo_id)
        assert out["status"] == "packed" and [c["tracking_number"] for c in out["cartons"]] == [
            fo["tracking_number"], fo["tracking_number"] + "-02"]
        on_hand = central_row(svc, ship_sku)["on_hand"]
        floor.shipping.confirm(PACKER, fo_id, fo["tracking_number"] + "-02")
        floor.shipping.confirm(PACKER, fo_id, c1["tracking_number"])
        wait_until(lambda: svc.get_order(MERCHANT, order["order_id"])["status"] == "shipped", 20, "order shipped at central")
        row = central_row(svc, ship_sku)
        assert (row["on_hand"], row["reserved"]) == (on_hand - 2, 0)
        wait_until(lambda: outbox_depth(estore) == 0, 10, "everything acknowledged")
        central_now = central_on_hand(cstore, "EWR1")
        assert central_now == {k: v for k, v in edge_on_hand(estore).items() if v or k in central_now}
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()
