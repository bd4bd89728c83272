"""Multi-carton packing: close a carton and start the next, a weight gate and a label (its own
tracking number) per carton, ship confirm per carton, the manifest lists each carton, and the
shipment event carries the cartons. The single-carton flow stays as it was (test_edge_workflows)."""
from __future__ import annotations

import pytest

from devices.printers import ZplTcpPrinter
from devices.printing import RetryPolicy
from devices.sim.zpl_printer import ZplPrinterSim
from edge import store as db
from edge.core.packing import Carton, Item, carton_tracking, split_cartons
from edge.errors import Forbidden, InvalidState, WrongItem
from edge.printing import build_print_queue
from edge.services import Actor, Floor
from sync.core.events import validate_body
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge_central import *  # noqa: F401,F403
from tests.fixtures_edge_central import up
from tests.fixtures_edge import audit_refusals, make_catalog, outbox, pick_all, release, sku_gtin

PICKER, PACKER, MANAGER = Actor("picker1", "picker"), Actor("packer1", "packer"), Actor("manager1", "manager")


def _picked(floor, fo_id, lines):
    release(floor.store, fo_id, lines)
    pick_all(floor, PICKER, floor.picking.start(PICKER, fo_id=fo_id))


@pytest.fixture
def zfloor(edge_cfg, edge_store, tmp_path):
    """A floor with a real ZPL printer (simulator on TCP) and a settable weight."""
    from edge.seed import seed
    from edge.weighing import FixedWeightSource

    sim = ZplPrinterSim().start()
    pq = build_print_queue(edge_store, ZplTcpPrinter("127.0.0.1", sim.port, timeout_s=2.0), "zpl",
                           str(tmp_path / "documents"), retry=RetryPolicy(attempts=2, backoff_s=0.05))
    floor = Floor(edge_cfg, edge_store, weight_source=FixedWeightSource(0), print_queue=pq)
    seed(floor, make_catalog())
    pq.start()
    yield floor, sim, pq
    pq.stop()
    sim.stop()


def test_two_cartons_each_gated_labelled_and_shipped_then_manifested_per_carton(zfloor):
    floor, sim, pq = zfloor
    _picked(floor, "FO-M", [("SKU-0001", 2), ("SKU-0002", 1)])
    floor.packing.start(PACKER, "FO-M")
    with pytest.raises(InvalidState, match="no verified unit"):
        floor.packing.close_carton(PACKER, "FO-M", "BOX-XS")
    floor.packing.scan_item(PACKER, "FO-M", sku_gtin("SKU-0001"), qty=2)
    # carton 1 (2 x 110 g + BOX-XS 90 g = 310 g) weighs 400 g: the order is held on that carton
    floor.weight_source.set(400)
    out = floor.packing.close_carton(PACKER, "FO-M", "BOX-XS")
    assert (out["ok"], out["status"], out["carton"], out["expected_weight_g"]) == (False, "weight_hold", "BOX-XS", 310)
    with pytest.raises(InvalidState, match="is weight_hold: no carton to close") as e:
        floor.packing.close_carton(PACKER, "FO-M")
    assert e.value.next == "Resolve the weight hold first"
    with pytest.raises(Forbidden):
        floor.packing.override(PACKER, "FO-M", "gel pack")
    # a manager accepts carton 1 as weighed; packing goes on with carton 2
    out = floor.packing.override(MANAGER, "FO-M", "ice pack added")
    assert out["status"] == "picked" and out["open_carton"] == {"seq": 2, "units": 0}
    assert out["closed_carton"] == {"seq": 1, "carton": "BOX-XS", "tracking_number": "1ZFOM", "weight_g": 400,
                                    "expected_weight_g": 310}
    assert [ln["boxed"] for ln in out["lines"]] == [2, 0] and out["to_verify"] == 1
    assert out["next"] == "Scan each item for carton 2: 1 unit(s) left to verify, Close carton when full"
    assert out["suggested_carton"] == "BOX-XS" and out["carton"] is None
    # carton 2: the last one; Weigh closes it. Out of tolerance first, then re-verified.
    floor.packing.scan_item(PACKER, "FO-M", sku_gtin("SKU-0002"))
    floor.weight_source.set(290)      # expected 120 + 90 = 210, tolerance 50
    out = floor.packing.weigh(PACKER, "FO-M")
    assert out["status"] == "weight_hold" and out["expected_weight_g"] == 210
    v = floor.packing.start(PACKER, "FO-M")
    assert v["note"] == "Re-verify: scan every unit again" and v["to_verify"] == 1   # carton 1 stays closed
    assert [ln["packed"] for ln in v["lines"]] == [2, 0]
    floor.packing.scan_item(PACKER, "FO-M", sku_gtin("SKU-0002"))
    floor.weight_source.set(215)
    out = floor.packing.weigh(PACKER, "FO-M")
    assert (out["ok"], out["status"], out["weight_g"], out["expected_weight_g"]) == (True, "packed", 615, 520)
    assert [(c["seq"], c["carton"], c["tracking_number"], c["weight_g"]) for c in out["cartons"]] == [
        (1, "BOX-XS", "1ZFOM", 400), (2, "BOX-XS", "1ZFOM-02", 215)]
    assert out["next"] == "Scan the shipping label 1ZFOM (carton 1 of 2) to ship"
    # one label per carton, each with its own tracking number, plus the packing slip
    assert sim.wait_for_labels(2, 5.0) and pq.wait_idle(5.0)
    jobs = floor.store.read(lambda c: db.print_jobs_for_fo(c, "FO-M"))
    assert [(j["kind"], j["state"]) for j in jobs] == [("shipping_label", "done"), ("shipping_label", "done"),
                                                       ("packing_slip", "done")]
    assert b"1ZFOM-02" not in sim.labels[0].zpl and b"1ZFOM" in sim.labels[0].zpl and b"1ZFOM-02" in sim.labels[1].zpl

    # ship confirm per carton, in any order
    with pytest.raises(WrongItem, match="not this order's label 1ZFOM"):
        floor.shipping.confirm(PACKER, "FO-M", "1ZFOM-03")
    s = floor.shipping.confirm(PACKER, "FO-M", "1ZFOM-02")
    assert s["status"] == "packed" and s["shipped_carton"] == {"seq": 2, "tracking_number": "1ZFOM-02"}
    assert s["next"] == "Put carton 2 on the ups cage; scan label 1ZFOM (carton 1 of 2)"
    with pytest.raises(InvalidState, match="carton 2 .* already confirmed"):
        floor.shipping.confirm(PACKER, "FO-M", "1ZFOM-02")
    assert not [e for e in outbox(floor.store) if e["type"] == "shipment.shipped"]
    s = floor.shipping.confirm(PACKER, "FO-M", "1ZFOM")
    assert (s["status"], s["cartons"]) == ("shipped", 2)
    ev = {e["type"]: e["body"] for e in outbox(floor.store)}
    assert ev["pack.confirmed"] == {"fo_id": "FO-M", "carton": "BOX-XS", "weight_g": 615, "expected_weight_g": 520,
                                    "cartons": 2}
    shipped = ev["shipment.shipped"]
    assert shipped["tracking_number"] == "1ZFOM" and shipped["weight_g"] == 615
    assert shipped["lines"] == [{"line_id": "1", "sku": "SKU-0001", "qty": 2}, {"line_id": "2", "sku": "SKU-0002", "qty": 1}]
    assert shipped["cartons"] == [
        {"seq": 1, "tracking_number": "1ZFOM", "carton": "BOX-XS", "weight_g": 400,
         "lines": [{"line_id": "1", "sku": "SKU-0001", "qty": 2}]},
        {"seq": 2, "tracking_number": "1ZFOM-02", "carton": "BOX-XS", "weight_g": 215,
         "lines": [{"line_id": "2", "sku": "SKU-0002", "qty": 1}]}]
    validate_body("shipment.shipped", shipped)
    validate_body("pack.confirmed", ev["pack.confirmed"])
    # the end-of-day manifest lists each carton
    m = floor.shipping.close_manifest(MANAGER, "ups")
    assert m["parcels"] == 2 and m["weight_g"] == 615
    assert [(p["fo_id"], p["carton_seq"], p["tracking_number"], p["weight_g"]) for p in m["shipments"]] == [
        ("FO-M", 2, "1ZFOM-02", 215), ("FO-M", 1, "1ZFOM", 400)]
    refusals = {r["code"] for r in audit_refusals(floor.store) if r["subject"] == "fo:FO-M"}
    assert {"invalid_state", "weight_out_of_tolerance", "wrong_item"} <= refusals


def test_an_order_too_heavy_for_one_carton_gets_a_split_plan(floor):
    # 150 x SKU-0011 (210 g each) is 31.5 kg: no carton takes it (30 kg limit with tare); 139 units fill
    # a BOX-XL to the weight limit and fit a BOX-L by volume, the other 11 a BOX-S
    _picked(floor, "FO-H", [("SKU-0011", 150)])
    v = floor.packing.start(PACKER, "FO-H")
    assert v["carton_plan"] == [{"carton": "BOX-L", "items": [{"sku": "SKU-0011", "qty": 139}]},
                                {"carton": "BOX-S", "items": [{"sku": "SKU-0011", "qty": 11}]}]
    assert v["suggested_carton"] == "BOX-L"
    assert v["next"] == "Too much for one carton (2 needed): fill carton 1 (BOX-L), then Close carton; 150 unit(s) left to verify"
    floor.packing.scan_item(PACKER, "FO-H", sku_gtin("SKU-0011"), qty=139)
    with pytest.raises(WrongItem, match="do not fit carton BOX-M") as e:
        floor.packing.carton(PACKER, "FO-H", "BOX-M")
    assert e.value.next == "Use carton BOX-L"
    v = floor.packing.carton(PACKER, "FO-H", "BOX-L")       # holds the 139 verified units
    assert v["expected_weight_g"] == 139 * 210 + 520
    floor.weight_source.set(29_710)
    out = floor.packing.close_carton(PACKER, "FO-H")
    assert out["ok"] and out["closed_carton"]["tracking_number"] == "1ZFOH" and out["status"] == "picked"
    assert out["suggested_carton"] == "BOX-S" and out["carton_plan"] is None
    floor.packing.scan_item(PACKER, "FO-H", sku_gtin("SKU-0011"), qty=11)
    floor.weight_source.set(11 * 210 + 160)
    out = floor.packing.close_carton(PACKER, "FO-H")        # nothing left to verify: the last carton
    assert out["status"] == "packed" and [c["carton"] for c in out["cartons"]] == ["BOX-L", "BOX-S"]
    assert floor.shipping.confirm(PACKER, "FO-H", "1ZFOH-02")["status"] == "packed"
    assert floor.shipping.confirm(PACKER, "FO-H", "1ZFOH")["status"] == "shipped"


def test_close_carton_over_the_api_says_what_to_do_next(floor):
    from edge.web import create_app

    _picked(floor, "FO-W", [("SKU-0001", 1), ("SKU-0002", 1)])
    manual = Floor(floor.full_cfg, floor.store)        # no scale: the packer types the weight
    client = create_app(floor.full_cfg, floor.store, floor=manual).test_client()
    h = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "packer1", "pin": "2222"}).json["token"]}
    client.post("/api/pack/start", json={"code": "FO-W"}, headers=h)
    client.post("/api/pack/FO-W/scan", json={"code": sku_gtin("SKU-0001")}, headers=h)
    r = client.post("/api/pack/FO-W/close-carton", json={"code": "BOX-XS", "grams": 200}, headers=h)
    assert r.status_code == 200 and r.json["closed_carton"]["tracking_number"] == "1ZFOW"
    assert r.json["next"] == "Scan each item for carton 2: 1 unit(s) left to verify, Close carton when full"
    r = client.post("/api/pack/FO-W/close-carton", json={}, headers=h)
    assert r.status_code == 400 and r.json["error"] == "invalid_quantity"        # no grams typed, no scale
    r = client.post("/api/pack/FO-W/close-carton", json={"grams": 210}, headers=h)
    assert r.status_code == 409 and r.json["error"] == "invalid_state" and r.json["next"] == "Scan the items of this carton"


def test_carton_tracking_and_split_rules():
    assert [carton_tracking("1Z999AA10123456784", k) for k in (1, 2, 12)] == [
        "1Z999AA10123456784", "1Z999AA10123456784-02", "1Z999AA10123456784-12"]
    with pytest.raises(ValueError):
        carton_tracking("1Z", 0)
    box = [Carton("S", 300, 200, 100, 100, 2000), Carton("L", 600, 400, 300, 400, 5000)]
    plan = split_cartons(box, [Item("A", 3, 500, 300, 200, 1000), Item("B", 4, 100, 100, 100, 200)])
    # L holds 61.2 l at 85 %: two A (30 l each) and one B (1 l); the third A opens a second L
    assert [(c.code, [(i.sku, i.qty) for i in share]) for c, share in plan] == [
        ("L", [("A", 2), ("B", 1)]), ("L", [("A", 1), ("B", 3)])]
    heavy = split_cartons(box, [Item("B", 10, 100, 100, 100, 500)])    # weight-bound: 4600 g net per L -> 9 units
    assert [(c.code, share[0].qty) for c, share in heavy] == [("L", 9), ("S", 1)]
    assert split_cartons(box, [Item("X", 1, 900, 100, 100, 10)]) is None   # longer than any carton


def test_central_applies_a_multi_carton_shipment_once_with_the_summed_lines(central_svc):
    from tests.fixtures_central import inv, order_payload

    svc = central_svc
    order, _ = svc.create_order("acme", order_payload("MC-1", [("SKU-1", 3)]))
    [fo] = order["fulfillment_orders"]
    t = fo["tracking_number"]
    body = {"fo_id": fo["fo_id"], "order_id": order["order_id"], "tracking_number": t, "carrier": fo["carrier"],
            "service": fo["service"], "weight_g": 900, "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 3}],
            "shipped_at": "2026-11-24T18:00:00Z",
            "cartons": [{"seq": 1, "tracking_number": t, "carton": "BOX-S", "weight_g": 600,
                         "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 2}]},
                        {"seq": 2, "tracking_number": carton_tracking(t, 2), "carton": "BOX-XS", "weight_g": 300,
                         "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 1}]}]}
    up(svc, 1, "shipment.shipped", body, site=fo["site_id"])
    s = inv(svc, "acme", "SKU-1")[fo["site_id"]]
    assert (s["on_hand"], s["reserved"]) == (7, 0)
    got = svc.get_order("acme", order["order_id"])
    assert got["status"] == "shipped" and got["fulfillment_orders"][0]["tracking_number"] == t


def test_an_order_packed_before_the_upgrade_ships_as_one_parcel(tmp_path, edge_cfg, catalog, monkeypatch):
    """A database at schema 1 holding a packed order (no carton rows) migrates to 2 and ships as before."""
    import edge.store as store_mod
    from edge.seed import seed
    from edge.store import EdgeStore
    from edge.weighing import FixedWeightSource

    path = str(tmp_path / "old.db")
    monkeypatch.setattr(store_mod, "MIGRATIONS", [store_mod.MIGRATIONS[0]])
    old = EdgeStore(path, "EWR1")
    assert old.schema_version == 1
    f = Floor(edge_cfg, old, weight_source=FixedWeightSource(0))
    seed(f, catalog, users=False)
    _picked(f, "FO-L", [("SKU-0001", 1)])

    def packed_by_the_old_code(conn):
        conn.execute("UPDATE fo_lines SET packed = picked WHERE fo_id = 'FO-L'")
        db.fo_set(conn, "FO-L", status="packed", carton="BOX-XS", expected_weight_g=200, weight_g=205)
    old.write(packed_by_the_old_code)
    old.close()
    monkeypatch.undo()
    st = EdgeStore(path, "EWR1")
    try:
        assert st.schema_version == store_mod.MIGRATIONS[-1][0]
        f = Floor(edge_cfg, st, weight_source=FixedWeightSource(0))
        assert f.packing.get("FO-L")["next"] == "Scan the shipping label 1ZFOL to ship"
        s = f.shipping.confirm(PACKER, "FO-L", "1ZFOL")
        assert (s["status"], s["cartons"]) == ("shipped", 1)
        body = [e["body"] for e in outbox(st) if e["type"] == "shipment.shipped"][0]
        assert "cartons" not in body and body["weight_g"] == 205
        m = f.shipping.close_manifest(MANAGER, "ups")
        assert [(p["fo_id"], p["carton_seq"], p["tracking_number"], p["weight_g"]) for p in m["shipments"]] == [
            ("FO-L", 1, "1ZFOL", 205)]
    finally:
        st.close()
