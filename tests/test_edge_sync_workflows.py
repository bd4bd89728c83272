"""QC release/reject and a multi-carton shipment on the real edge services, carried to central over
the generated Mosquitto by the real sync runtime: central's balances and order follow the floor."""
from __future__ import annotations

import pytest

from edge import store as db
from edge.services import Actor
from tests.fixtures_edge_sync import *  # noqa: F401,F403
from tests.fixtures_sync import *  # noqa: F401,F403
from tests.fixtures_sync import MERCHANT, central_on_hand, edge_on_hand, outbox_depth, wait_until

pytestmark = pytest.mark.mqtt
RECEIVER, PICKER, PACKER = Actor("receiver1", "receiver"), Actor("picker1", "picker"), Actor("packer1", "packer")


def central_row(svc, sku):
    return {s["site_id"]: s for s in svc.inventory_for_sku(MERCHANT, sku)["sites"]}["EWR1"]


def test_qc_decisions_and_a_two_carton_shipment_reach_central(synced_site):
    from tests.fixtures_central import order_payload

    site = synced_site
    cat, svc, cstore, estore, floor = site.cat, site.svc, site.cstore, site.estore, site.floor
    qc_sku, ship_sku = cat["skus"][0]["sku"], next(r["sku"] for r in cat["stock"] if r["site_id"] == "EWR1" and r["qty"] >= 2)
    # the catalog central seeded reached the edge first (sku.upsert); then this SKU needs QC
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
    # central keeps each package's own tracking number and weight (REST order view, webhook, ops page)
    got = svc.get_order(MERCHANT, order["order_id"])["fulfillment_orders"][0]["cartons"]
    assert [(c["seq"], c["tracking_number"], c["carton"], c["weight_g"], c["lines"]) for c in got] == [
        (1, fo["tracking_number"], "BOX-XL", c1["weight_g"], [{"line_id": "1", "sku": ship_sku, "qty": 1}]),
        (2, fo["tracking_number"] + "-02", "BOX-XL", out["cartons"][1]["weight_g"],
         [{"line_id": "1", "sku": ship_sku, "qty": 1}])]
    wait_until(lambda: outbox_depth(estore) == 0, 10, "everything acknowledged")
    central_now = central_on_hand(cstore, "EWR1")
    assert central_now == {k: v for k, v in edge_on_hand(estore).items() if v or k in central_now}
