"""Every floor workflow end to end on a real SQLite file, with its refusals."""
from __future__ import annotations

import pytest

from edge import store as db
from edge.errors import (Forbidden, InvalidScan, InvalidState, NotFound, OrderBlocked, OverPick, StaleTask, WrongItem,
                         WrongLocation)
from edge.services import Actor
from edge.sync_handlers import inventory_digest
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import (audit_refusals, down, gs1, item_code, outbox, pack_and_ship, pick_all, release,
                                 sku_gtin, snapshot)

PICKER = Actor("picker1", "picker")
PICKER2 = Actor("picker2", "picker")
PACKER = Actor("packer1", "packer")
RECEIVER = Actor("receiver1", "receiver")
COUNTER = Actor("counter1", "counter")
COUNTER2 = Actor("counter2", "counter")
MANAGER = Actor("manager1", "manager")


def stock_of(floor, location, sku):
    return sum(r["qty"] for r in floor.store.read(lambda c: db.stock_at(c, location, sku)))


def bin_of(floor, sku):
    return floor.store.read(lambda c: db.stock_by_sku(c, sku))[0]["location"]


# ---------------------------------------------------------------- receiving

def test_receive_against_asn_with_over_receipt_then_put_away_to_the_suggested_bin(floor):
    down(floor.store, "receipt.expected", {"asn_id": "ASN-1", "supplier": "Acme Supply", "lines": [{"sku": "SKU-0002", "qty": 10}]})
    r = floor.receiving.receive(RECEIVER, sku_gtin("SKU-0002"), qty=8, asn_id="ASN-1")
    assert r["over_receipt"] == 0 and r["location"] == "DOCK-01" and not r["quarantine"]
    home = bin_of(floor, "SKU-0002")
    assert r["suggested_bin"] == home  # same SKU first
    assert r["next"] == f"Put away: scan bin {home}"
    r2 = floor.receiving.receive(RECEIVER, sku_gtin("SKU-0002"), qty=5, asn_id="ASN-1")
    assert r2["over_receipt"] == 3 and "over-receipt" in r2["warning"]
    asn = floor.store.read(lambda c: db.asn_get(c, "ASN-1"))
    assert asn["lines"][0]["received"] == 13 and asn["lines"][0]["expected"] == 10
    before = stock_of(floor, home, "SKU-0002")
    with pytest.raises(WrongLocation, match="not a storage bin"):
        floor.receiving.put_away(RECEIVER, r["receipt_id"], "DOCK-01")
    other = bin_of(floor, "SKU-0003")
    with pytest.raises(WrongLocation, match="do not mix SKUs"):
        floor.receiving.put_away(RECEIVER, r["receipt_id"], other)
    done = floor.receiving.put_away(RECEIVER, r["receipt_id"], home.lower())
    assert done["bin"] == home and stock_of(floor, home, "SKU-0002") == before + 8
    assert stock_of(floor, "DOCK-01", "SKU-0002") == 5
    with pytest.raises(InvalidState, match="already put away"):
        floor.receiving.put_away(RECEIVER, r["receipt_id"], home)
    ev = [e for e in outbox(floor.store) if e["type"] == "inventory.received"]
    assert [e["body"]["qty"] for e in ev] == [8, 5]
    assert ev[0]["body"] == {"sku": "SKU-0002", "qty": 8, "location": "DOCK-01", "quarantine": False, "lot": None,
                             "expiry": None, "asn_id": "ASN-1"}


def test_blind_receipt_of_lot_tracked_sku_needs_gs1_and_a_new_sku_goes_to_an_empty_bin_in_its_zone(floor):
    with pytest.raises(InvalidScan, match="lot-tracked"):
        floor.receiving.receive(RECEIVER, sku_gtin("SKU-0020"), qty=4)
    r = floor.receiving.receive(RECEIVER, gs1("SKU-0020", "LOT9", "280115"))
    assert (r["qty"], r["lot"], r["expiry"]) == (1, "LOT9", "2028-01-15")
    # SKU-0007 requires QC: quarantine, no put-away
    q = floor.receiving.receive(RECEIVER, sku_gtin("SKU-0007"), qty=3)
    assert q["quarantine"] and q["location"] == "QC-01" and "QC required" in q["next"]
    with pytest.raises(InvalidState, match="quarantine"):
        floor.receiving.put_away(RECEIVER, q["receipt_id"], "A-01-01-1")
    ev = [e["body"] for e in outbox(floor.store) if e["type"] == "inventory.received"]
    assert ev[-1]["quarantine"] is True and ev[0]["lot"] == "LOT9" and ev[0]["expiry"] == "2028-01-15"
    # a SKU with no stock anywhere gets an empty bin of its home zone
    floor.store.write(lambda c: db.sku_upsert(c, {"sku": "SKU-NEW", "home_zone": "B", "weight_g": 10}, ["4006381333931"], "M-ACME"))
    n = floor.receiving.receive(RECEIVER, "4006381333931", qty=2)
    assert n["suggested_bin"].startswith("B-") and stock_of(floor, n["suggested_bin"], "SKU-0001") == 0
    assert floor.store.read(lambda c: db.stock_at(c, n["suggested_bin"])) == []


def test_receiving_refuses_wrong_asn_item_and_unknown_asn(floor):
    down(floor.store, "receipt.expected", {"asn_id": "ASN-2", "supplier": "S", "lines": [{"sku": "SKU-0002", "qty": 1}]})
    with pytest.raises(WrongItem, match="not on ASN-2"):
        floor.receiving.receive(RECEIVER, sku_gtin("SKU-0003"), asn_id="ASN-2")
    with pytest.raises(NotFound):
        floor.receiving.receive(RECEIVER, sku_gtin("SKU-0003"), asn_id="ASN-404")
    with pytest.raises(Forbidden):
        floor.receiving.receive(PICKER, sku_gtin("SKU-0003"))
    assert {r["code"] for r in audit_refusals(floor.store, "receive")} == {"wrong_item", "not_found"}


# ---------------------------------------------------------------- picking

def test_discrete_pick_follows_the_walk_and_fefo_and_refuses_wrong_bin_item_and_over_pick(floor):
    release(floor.store, "FO-1", [("SKU-0010", 3), ("SKU-0001", 2)])
    run = floor.picking.start(PICKER)
    assert run["method"] == "discrete"
    t = run["task"]
    assert run["next"] == f"Scan bin {t['location']}"
    locs = floor.store.read(lambda c: db.run_tasks(c, run["run_id"]))
    assert [x["walk_seq"] for x in locs] == sorted(x["walk_seq"] for x in locs)
    # FEFO: SKU-0010 comes from the lot expiring first (L1), not the bin first on the walk (L2)
    assert {(x["sku"], x["lot"]) for x in locs} == {("SKU-0010", "L1"), ("SKU-0001", "")}
    with pytest.raises(WrongLocation, match=f"go to {t['location']}"):
        floor.picking.scan(PICKER, run["run_id"], "A-09-09-9")
    with pytest.raises(WrongLocation, match="bin label first"):
        floor.picking.scan(PICKER, run["run_id"], item_code(t))
    run = floor.picking.scan(PICKER, run["run_id"], t["location"])
    assert run["expect"] == "item" and run["next"].startswith(f"Scan item {t['sku']}")
    wrong = "SKU-0002"
    with pytest.raises(WrongItem, match=f"wrong item {wrong}"):
        floor.picking.scan(PICKER, run["run_id"], sku_gtin(wrong))
    if t["lot"]:
        with pytest.raises(WrongItem, match="wrong lot"):
            floor.picking.scan(PICKER, run["run_id"], gs1(t["sku"], "L2"))
    with pytest.raises(OverPick, match=f"only {t['remaining']} more"):
        floor.picking.scan(PICKER, run["run_id"], item_code(t), qty=t["remaining"] + 1)
    run = pick_all(floor, PICKER, run)
    assert run.get("done") and run["next"] == "Run complete: take the totes to packing"
    fo = floor.store.read(lambda c: db.fo_get(c, "FO-1"))
    assert fo["status"] == "picked"
    ev = [e["body"] for e in outbox(floor.store) if e["type"] == "pick.confirmed"]
    assert sorted((e["sku"], e["qty"], e["lot"]) for e in ev) == [("SKU-0001", 2, None), ("SKU-0010", 3, "L1")]
    codes = {r["code"] for r in audit_refusals(floor.store, "pick.scan")}
    assert codes >= {"wrong_location", "wrong_item", "over_pick"}
    # the picked units left their bins but still count as on hand until shipped
    assert floor.store.read(inventory_digest)["SKU-0001"] == 200


def test_cluster_run_takes_several_orders_into_their_own_totes(floor):
    for i in range(3):
        release(floor.store, f"FO-C{i}", [(f"SKU-{j:04d}", 1) for j in range(8 + i, 20 + i)])  # 12 lines: cluster band
    run = floor.picking.start(PICKER)
    assert run["method"] == "cluster"
    assert [o["fo_id"] for o in run["orders"]] == ["FO-C0", "FO-C1", "FO-C2"]
    assert len({o["tote"] for o in run["orders"]}) == 3
    assert run["progress"]["units"] == 36
    run = pick_all(floor, PICKER, run)
    assert run.get("done")
    assert floor.store.read(lambda c: db.fo_status_counts(c)) == {"picked": 3}


def test_batch_and_wave_methods_group_orders_and_zone_picking_splits_by_zone(edge_cfg, edge_store, catalog, tmp_path):
    from edge.seed import seed
    from edge.services import Floor
    from edge.weighing import FixedWeightSource

    floor = Floor(edge_cfg, edge_store, weight_source=FixedWeightSource(0))
    seed(floor, catalog)
    release(floor.store, "FO-B1", [("SKU-0001", 60), ("SKU-0002", 60)])       # 120 units: batch
    release(floor.store, "FO-B2", [("SKU-0003", 101)])
    run = floor.picking.start(PICKER)
    assert run["method"] == "batch" and [o["fo_id"] for o in run["orders"]] == ["FO-B1", "FO-B2"]
    pick_all(floor, PICKER, run)
    # zone: 22 distinct SKUs over zones A, B, C; a picker of zone B gets only zone B tasks
    release(floor.store, "FO-Z", [(f"SKU-{j:04d}", 1) for j in range(1, 23) if j != 7])
    zb = floor.picking.start(Actor("picker2", "picker", zone="B"))
    assert zb["method"] == "zone"
    zones = floor.store.read(lambda c: {t["zone"] for t in db.run_tasks(c, zb["run_id"])})
    assert zones == {"B"}
    pick_all(floor, Actor("picker2", "picker", zone="B"), zb)
    assert floor.store.read(lambda c: db.fo_get(c, "FO-Z"))["status"] == "picking"  # zones A and C still open
    for z in ("A", "C"):
        r = floor.picking.start(Actor("picker1", "picker", zone=z))
        assert r["method"] == "zone"
        pick_all(floor, PICKER, r)
    assert floor.store.read(lambda c: db.fo_get(c, "FO-Z"))["status"] == "picked"
    # wave: forced for today's ship-by orders
    release(floor.store, "FO-W1", [("SKU-0004", 1)], ship_by="2026-11-24T18:00:00Z")
    release(floor.store, "FO-W2", [("SKU-0005", 1)], ship_by="2026-11-24T20:00:00Z")
    release(floor.store, "FO-W3", [("SKU-0006", 1)], ship_by="2026-11-26T20:00:00Z")
    w = floor.picking.start(PICKER, method="wave")
    assert w["method"] == "wave" and [o["fo_id"] for o in w["orders"]] == ["FO-W1", "FO-W2"]


def test_urgent_orders_are_picked_first(floor):
    release(floor.store, "FO-LATE", [("SKU-0001", 1)], ship_by="2026-11-25T20:00:00Z")
    release(floor.store, "FO-SOON", [("SKU-0002", 1)], ship_by="2026-11-24T20:00:00Z")
    release(floor.store, "FO-URG", [("SKU-0003", 1)], ship_by="2026-11-26T20:00:00Z", urgent=True)
    firsts = []
    for _ in range(3):
        r = floor.picking.start(PICKER)
        firsts.append(r["orders"][0]["fo_id"])
        pick_all(floor, PICKER, r)
    assert firsts == ["FO-URG", "FO-SOON", "FO-LATE"]


def test_short_pick_reallocates_from_another_bin_or_reports_the_shortage(floor):
    release(floor.store, "FO-S", [("SKU-0010", 150)])   # lot L1 (100 units) then L2 bin
    run = floor.picking.start(PICKER)
    if run["task"]["lot"] == "L2":   # L2's bin may come first on the walk: pick its 50 units fully
        t = run["task"]
        run = floor.picking.scan(PICKER, run["run_id"], t["location"])
        run = floor.picking.scan(PICKER, run["run_id"], item_code(t), qty=t["remaining"])
    first = run["task"]
    assert (first["lot"], first["qty"]) == ("L1", 100)   # FEFO: all of the older lot first
    run = floor.picking.scan(PICKER, run["run_id"], first["location"])
    run = floor.picking.scan(PICKER, run["run_id"], item_code(first), qty=40)
    run = floor.picking.short(PICKER, run["run_id"], task_id=first["task_id"])
    # 60 missing at the L1 bin: the L2 bin still holds 50 free units
    assert run["short"] == {"sku": "SKU-0010", "missing": 60, "reallocated": 50, "reported_short": 10}
    assert stock_of(floor, first["location"], "SKU-0010") == 0
    run = pick_all(floor, PICKER, run)
    lines = floor.store.read(lambda c: db.fo_lines(c, "FO-S"))
    assert (lines[0]["picked"], lines[0]["short"]) == (140, 10)
    ev = [(e["type"], e["body"]) for e in outbox(floor.store) if e["type"] in ("pick.short", "inventory.adjusted")]
    assert ev == [("pick.short", {"fo_id": "FO-S", "line_id": "1", "sku": "SKU-0010", "qty_short": 10, "location": first["location"]}),
                  ("inventory.adjusted", {"sku": "SKU-0010", "delta": -50, "reason": f"short pick: not found at {first['location']}",
                                          "location": first["location"]})]
    # edge on hand = 200 - 60 vanished; central applies -10 (short) - 50 (adjusted) = the same
    assert floor.store.read(inventory_digest)["SKU-0010"] == 140


def test_order_with_no_stock_anywhere_is_shorted_at_once(floor):
    release(floor.store, "FO-NONE", [("SKU-0007", 2)])  # SKU-0007 has no stock at EWR1
    run = floor.picking.start(PICKER)
    assert run.get("done")
    assert floor.store.read(lambda c: db.fo_get(c, "FO-NONE"))["status"] == "unfulfillable"
    assert [e["body"]["location"] for e in outbox(floor.store) if e["type"] == "pick.short"] == ["UNLOCATED"]


def test_cancel_mid_pick_blocks_the_stale_task_and_items_go_back_to_their_bin(floor):
    release(floor.store, "FO-X", [("SKU-0001", 2), ("SKU-0002", 1)])
    run = floor.picking.start(PICKER)
    t = run["task"]
    run = floor.picking.scan(PICKER, run["run_id"], t["location"])
    run = floor.picking.scan(PICKER, run["run_id"], item_code(t), qty=t["remaining"])
    stale = run["task"]
    effect = down(floor.store, "order.cancelled", {"order_id": "OFO-X", "fo_id": "FO-X", "reason": "customer changed mind"})
    assert "cancelled; 1 open pick task(s) cancelled" in effect and t["location"] in effect
    before = snapshot(floor.store)
    with pytest.raises(StaleTask, match=f"cancelled — return items to location {t['location']}"):
        floor.picking.scan(PICKER, run["run_id"], stale["location"], task_id=stale["task_id"])
    assert snapshot(floor.store) == before
    view = floor.picking.view(PICKER, run["run_id"])
    assert view["alerts"] == [f"Order FO-X cancelled — return items to location {t['location']} (tote {view['orders'][0]['tote']})"]
    assert view["returns"] == [{"fo_id": "FO-X", "tote": view["orders"][0]["tote"], "locations": [t["location"]]}]
    with pytest.raises(OrderBlocked):
        floor.packing.start(PACKER, "FO-X")
    with pytest.raises(WrongLocation, match=f"return to {t['location']}"):
        floor.picking.put_back(PICKER, "FO-X", "C-01-01-1")
    back = floor.picking.put_back(PICKER, "FO-X", t["location"])
    assert back["returned_units"] == t["qty"] and back["next"] == "All items returned"
    assert stock_of(floor, t["location"], t["sku"]) == 200
    assert floor.store.read(inventory_digest)[t["sku"]] == 200


def test_hold_pauses_picking_and_packing_until_released(floor):
    release(floor.store, "FO-H", [("SKU-0001", 1)])
    run = floor.picking.start(PICKER)
    down(floor.store, "order.hold", {"order_id": "OFO-H", "fo_id": "FO-H", "reason": "fraud check"})
    view = floor.picking.view(PICKER, run["run_id"])
    assert view["task"] is None and view["alerts"] == ["Order FO-H on hold: fraud check — park the tote"]
    with pytest.raises(InvalidState, match="no open task"):
        floor.picking.scan(PICKER, run["run_id"], "A-01-01-1")
    down(floor.store, "order.hold_released", {"order_id": "OFO-H", "fo_id": "FO-H"})
    view = floor.picking.view(PICKER, run["run_id"])
    assert view["task"]["fo_id"] == "FO-H"
    pick_all(floor, PICKER, view)
    down(floor.store, "order.hold", {"order_id": "OFO-H", "fo_id": "FO-H", "reason": "address check"})
    with pytest.raises(OrderBlocked, match="on hold: address check"):
        floor.packing.start(PACKER, "FO-H")
    down(floor.store, "order.hold_released", {"order_id": "OFO-H", "fo_id": "FO-H"})
    assert floor.store.read(lambda c: db.fo_get(c, "FO-H"))["status"] == "picked"


def test_a_picker_cannot_drive_another_pickers_run(floor):
    release(floor.store, "FO-1", [("SKU-0001", 1)])
    run = floor.picking.start(PICKER)
    with pytest.raises(InvalidState, match="belongs to picker1"):
        floor.picking.scan(PICKER2, run["run_id"], run["task"]["location"])
    again = floor.picking.start(PICKER)  # resume, not a second run
    assert again["run_id"] == run["run_id"] and again["note"] == "Resuming your pick run"


# ---------------------------------------------------------------- packing and shipping

def _picked(floor, fo_id, lines):
    release(floor.store, fo_id, lines)
    pick_all(floor, PICKER, floor.picking.start(PICKER, fo_id=fo_id))


def test_pack_verifies_every_unit_chooses_the_smallest_carton_and_gates_the_weight(floor):
    _picked(floor, "FO-P", [("SKU-0001", 2), ("SKU-0002", 1)])
    v = floor.packing.start(PACKER, "FO-P")
    tote = floor.store.read(lambda c: c.execute("SELECT tote FROM totes WHERE fo_id='FO-P'").fetchone()[0])
    assert floor.packing.start(PACKER, tote)["fo_id"] == "FO-P"   # scanning the tote finds the order
    assert v["to_verify"] == 3 and v["suggested_carton"] == "BOX-XS"
    with pytest.raises(WrongItem, match="not in order FO-P"):
        floor.packing.scan_item(PACKER, "FO-P", sku_gtin("SKU-0003"))
    with pytest.raises(InvalidState, match="verify every unit"):
        floor.packing.weigh(PACKER, "FO-P")
    floor.packing.scan_item(PACKER, "FO-P", sku_gtin("SKU-0001"))
    floor.packing.scan_item(PACKER, "FO-P", sku_gtin("SKU-0001"))
    with pytest.raises(WrongItem, match="already verified"):
        floor.packing.scan_item(PACKER, "FO-P", sku_gtin("SKU-0001"))
    v = floor.packing.scan_item(PACKER, "FO-P", sku_gtin("SKU-0002"))
    assert v["next"] == "Scan carton BOX-XS"
    v = floor.packing.carton(PACKER, "FO-P", "BOX-XS")
    # items 2 x 110 g + 120 g + BOX-XS tare 90 g
    assert v["expected_weight_g"] == 430
    floor.weight_source.set(481)    # 51 g over, tolerance max(3 %, 50 g) = 50 g
    out = floor.packing.weigh(PACKER, "FO-P")
    assert out["ok"] is False and out["status"] == "weight_hold" and "+51 g" in out["message"]
    with pytest.raises(InvalidState, match="only packed orders ship"):
        floor.shipping.confirm(PACKER, "FO-P", out["tracking_number"])
    with pytest.raises(Forbidden):
        floor.packing.override(PACKER, "FO-P", "looks fine")
    # re-verify path: start again resets the verification, then a good weight packs it
    v = floor.packing.start(PACKER, "FO-P")
    assert v["to_verify"] == 3 and v["note"] == "Re-verify: scan every unit again"
    for code in (sku_gtin("SKU-0001"), sku_gtin("SKU-0001"), sku_gtin("SKU-0002")):
        floor.packing.scan_item(PACKER, "FO-P", code)
    floor.weight_source.set(470)
    out = floor.packing.weigh(PACKER, "FO-P")
    assert out["ok"] and out["status"] == "packed" and out["next"] == f"Scan the shipping label {out['tracking_number']} to ship"
    with pytest.raises(WrongItem, match="not this order's label"):
        floor.shipping.confirm(PACKER, "FO-P", "1ZWRONG")
    s = floor.shipping.confirm(PACKER, "FO-P", out["tracking_number"])
    assert s["status"] == "shipped"
    ev = {e["type"]: e["body"] for e in outbox(floor.store)}
    assert ev["pack.confirmed"] == {"fo_id": "FO-P", "carton": "BOX-XS", "weight_g": 470, "expected_weight_g": 430}
    shipped = ev["shipment.shipped"]
    assert shipped["tracking_number"] == "1ZFOP" and shipped["weight_g"] == 470
    assert shipped["lines"] == [{"line_id": "1", "sku": "SKU-0001", "qty": 2}, {"line_id": "2", "sku": "SKU-0002", "qty": 1}]
    holds = [r for r in audit_refusals(floor.store, "pack.weigh") if r["code"] == "weight_out_of_tolerance"]
    assert len(holds) == 1 and "481 g vs expected 430 g" in holds[0]["message"]
    assert floor.store.read(inventory_digest)["SKU-0001"] == 198


def test_manager_override_of_a_weight_hold_is_audited_with_the_reason(floor):
    _picked(floor, "FO-O", [("SKU-0001", 1)])
    floor.packing.start(PACKER, "FO-O")
    floor.packing.scan_item(PACKER, "FO-O", sku_gtin("SKU-0001"))
    floor.weight_source.set(5000)
    assert floor.packing.weigh(PACKER, "FO-O")["status"] == "weight_hold"
    with pytest.raises(InvalidState, match="needs a reason"):
        floor.packing.override(MANAGER, "FO-O", "  ")
    out = floor.packing.override(MANAGER, "FO-O", "gel pack added by customer request")
    assert out["status"] == "packed"
    row = floor.store.read(lambda c: db.audit_rows(c, subject="fo:FO-O", action="pack.override"))[0]
    assert row["username"] == "manager1" and "gel pack" in row["detail"]


def test_shipping_refused_for_an_order_cancelled_after_packing_and_manifest_per_carrier(floor):
    _picked(floor, "FO-A", [("SKU-0001", 1)])
    _picked(floor, "FO-B", [("SKU-0002", 1)])
    pack_and_ship(floor, PACKER, "FO-A")
    v = floor.packing.start(PACKER, "FO-B")
    floor.packing.scan_item(PACKER, "FO-B", sku_gtin("SKU-0002"))
    floor.weight_source.set(floor.store.read(lambda c: db.fo_get(c, "FO-B"))["expected_weight_g"] or 0)
    floor.packing.carton(PACKER, "FO-B", v["suggested_carton"])
    floor.weight_source.set(floor.store.read(lambda c: db.fo_get(c, "FO-B"))["expected_weight_g"])
    assert floor.packing.weigh(PACKER, "FO-B")["status"] == "packed"
    down(floor.store, "order.cancelled", {"order_id": "OFO-B", "fo_id": "FO-B", "reason": "fraud"})
    with pytest.raises(OrderBlocked, match="FO-B cancelled"):
        floor.shipping.confirm(PACKER, "FO-B", "1ZFOB")
    with pytest.raises(Forbidden):
        floor.shipping.close_manifest(PACKER, "ups")
    m = floor.shipping.close_manifest(MANAGER, "ups")
    assert m["parcels"] == 1 and [s["fo_id"] for s in m["shipments"]] == ["FO-A"]
    with pytest.raises(NotFound):
        floor.shipping.close_manifest(MANAGER, "ups")
    assert [e["body"]["fo_id"] for e in outbox(floor.store) if e["type"] == "shipment.shipped"] == ["FO-A"]


def test_a_cancel_after_shipping_changes_nothing(floor):
    _picked(floor, "FO-Q", [("SKU-0001", 1)])
    pack_and_ship(floor, PACKER, "FO-Q")
    effect = down(floor.store, "order.cancelled", {"order_id": "OFO-Q", "fo_id": "FO-Q", "reason": "late"})
    assert "already shipped" in effect
    assert floor.store.read(lambda c: db.fo_get(c, "FO-Q"))["status"] == "shipped"


# ---------------------------------------------------------------- cycle counts

def test_cycle_count_within_threshold_is_accepted_at_once(floor):
    loc = bin_of(floor, "SKU-0003")
    task = floor.counting.task(COUNTER, loc)
    assert task["skus"] == ["SKU-0003"] and "expected" not in str(task)   # blind
    r = floor.counting.submit(COUNTER, loc, sku_gtin("SKU-0003"), 198)
    assert r["status"] == "accepted" and r["variance"] == -2
    assert stock_of(floor, loc, "SKU-0003") == 198
    ev = [e["body"] for e in outbox(floor.store) if e["type"] == "cycle_count.recorded"]
    assert ev == [{"sku": "SKU-0003", "location": loc, "counted": 198, "expected": 200}]


def test_large_variance_needs_a_recount_by_another_user(floor):
    loc = bin_of(floor, "SKU-0004")
    r = floor.counting.submit(COUNTER, loc, sku_gtin("SKU-0004"), 150)
    assert r["status"] == "recount_required"
    assert stock_of(floor, loc, "SKU-0004") == 200 and outbox(floor.store) == []
    with pytest.raises(Forbidden, match="another user"):
        floor.counting.submit(COUNTER, loc, sku_gtin("SKU-0004"), 150)
    r = floor.counting.submit(COUNTER2, loc, sku_gtin("SKU-0004"), 160)
    assert r["status"] == "accepted" and r["variance"] == -40
    assert stock_of(floor, loc, "SKU-0004") == 160
    c = floor.store.read(lambda c: db.count_get(c, r["count_id"]))
    assert (c["counted"], c["recount"], c["counted_by"], c["recount_by"]) == (150, 160, "counter1", "counter2")
    assert [e["body"]["counted"] for e in outbox(floor.store)] == [160]


def test_manager_adjustment_with_reason_code(floor):
    from edge.errors import InvalidQuantity

    loc = bin_of(floor, "SKU-0005")
    with pytest.raises(Forbidden):
        floor.counting.adjust(COUNTER, loc, sku_gtin("SKU-0005"), -3, "damaged")
    with pytest.raises(InvalidQuantity, match="reason must be"):
        floor.counting.adjust(MANAGER, loc, sku_gtin("SKU-0005"), -3, "because")
    with pytest.raises(InvalidQuantity, match="cannot remove 201"):
        floor.counting.adjust(MANAGER, loc, sku_gtin("SKU-0005"), -201, "lost")
    r = floor.counting.adjust(MANAGER, loc, sku_gtin("SKU-0005"), -3, "damaged")
    assert r["on_hand"] == 197 and stock_of(floor, loc, "SKU-0005") == 197
    assert [e["body"] for e in outbox(floor.store)] == [{"sku": "SKU-0005", "delta": -3, "reason": "damaged", "location": loc}]
    assert floor.store.read(lambda c: db.ledger_rows(c, "SKU-0005"))[0]["cause"] == "adjustment"


# ---------------------------------------------------------------- transfers

def test_transfer_out_and_in(floor):
    down(floor.store, "transfer.created", {"transfer_id": "TR-1", "from_site": "EWR1", "to_site": "LAX1",
                                           "lines": [{"sku": "SKU-0005", "qty": 30}]})
    down(floor.store, "transfer.created", {"transfer_id": "TR-2", "from_site": "LAX1", "to_site": "EWR1",
                                           "lines": [{"sku": "SKU-0006", "qty": 4}]})
    with pytest.raises(InvalidState, match="receive it instead"):
        floor.transfers.ship(RECEIVER, "TR-2")
    out = floor.transfers.ship(RECEIVER, "TR-1")
    assert out["status"] == "shipped" and floor.store.read(inventory_digest)["SKU-0005"] == 170
    with pytest.raises(InvalidState, match="already shipped"):
        floor.transfers.ship(RECEIVER, "TR-1")
    r = floor.transfers.receive(RECEIVER, "TR-2", sku_gtin("SKU-0006"), qty=3)
    assert r["status"] == "receiving"
    with pytest.raises(OverPick, match="only 1 more"):
        floor.transfers.receive(RECEIVER, "TR-2", sku_gtin("SKU-0006"), qty=2)
    with pytest.raises(WrongItem):
        floor.transfers.receive(RECEIVER, "TR-2", sku_gtin("SKU-0001"), qty=1)
    r = floor.transfers.receive(RECEIVER, "TR-2", sku_gtin("SKU-0006"), qty=1)
    assert r["status"] == "received"
    floor.receiving.put_away(RECEIVER, r["receipt_id"], r["suggested_bin"])
    assert floor.store.read(inventory_digest)["SKU-0006"] == 204
    ev = [(e["type"], e["body"]) for e in outbox(floor.store)]
    assert ev == [("transfer.shipped", {"transfer_id": "TR-1", "lines": [{"sku": "SKU-0005", "qty": 30}]}),
                  ("transfer.received", {"transfer_id": "TR-2", "lines": [{"sku": "SKU-0006", "qty": 3}]}),
                  ("transfer.received", {"transfer_id": "TR-2", "lines": [{"sku": "SKU-0006", "qty": 1}]})]


# ---------------------------------------------------------------- returns

def test_returns_against_rma_and_unexpected_with_every_grade(floor):
    down(floor.store, "rma.created", {"rma_id": "RMA-1", "order_id": "O-9", "lines": [{"sku": "SKU-0008", "qty": 3}]})
    r = floor.returns.receive(RECEIVER, sku_gtin("SKU-0008"), qty=2, rma_id="RMA-1")
    assert r["location"] == "RET-01"
    with pytest.raises(OverPick, match="only 1 more"):
        floor.returns.receive(RECEIVER, sku_gtin("SKU-0008"), qty=2, rma_id="RMA-1")
    with pytest.raises(WrongItem, match="unexpected return"):
        floor.returns.receive(RECEIVER, sku_gtin("SKU-0009"), rma_id="RMA-1")
    digest_before = floor.store.read(inventory_digest)["SKU-0008"]
    with pytest.raises(WrongLocation, match="scan the bin"):
        floor.returns.grade(RECEIVER, r["return_id"], "A")
    home = bin_of(floor, "SKU-0008")
    g = floor.returns.grade(RECEIVER, r["return_id"], "A", bin_code=home)
    assert g["disposition"] == "restock" and stock_of(floor, home, "SKU-0008") == 202
    assert floor.store.read(inventory_digest)["SKU-0008"] == digest_before + 2
    with pytest.raises(InvalidState, match="already graded"):
        floor.returns.grade(RECEIVER, r["return_id"], "B")
    results = {}
    for grade in ("B", "C", "scrap"):
        u = floor.returns.receive(RECEIVER, sku_gtin("SKU-0009"))   # unexpected returns
        results[grade] = floor.returns.grade(RECEIVER, u["return_id"], grade)["location"]
    assert results == {"B": "REF-01", "C": "QC-01", "scrap": None}
    with pytest.raises(InvalidState, match="grade must be"):
        floor.returns.grade(RECEIVER, floor.returns.receive(RECEIVER, sku_gtin("SKU-0009"))["return_id"], "Z")
    graded = [e["body"] for e in outbox(floor.store) if e["type"] == "return.graded"]
    assert [(g["grade"], g["restocked"]) for g in graded] == [("A", True), ("B", False), ("C", False), ("scrap", False)]
    received = [e["body"] for e in outbox(floor.store) if e["type"] == "return.received"]
    assert received[0] == {"rma_id": "RMA-1", "order_id": "O-9", "sku": "SKU-0008", "qty": 2}
    assert received[1]["rma_id"] is None


def test_user_roles_and_pins(floor):
    from edge.errors import AuthError

    token, who = floor.auth.login("picker1", "1111")
    assert who.role == "picker" and floor.auth.verify(token).username == "picker1"
    with pytest.raises(AuthError):
        floor.auth.login("picker1", "0000")
    with pytest.raises(AuthError):
        floor.auth.verify(token[:-2] + "xx")
    with pytest.raises(InvalidState, match="role must be"):
        floor.auth.add_user("zed", "Zed", "overlord", "1234")
    pin_hash = floor.store.read(lambda c: db.user_get(c, "picker1"))["pin_hash"]
    assert "1111" not in pin_hash and pin_hash.startswith("scrypt$")
    assert [r["code"] for r in audit_refusals(floor.store, "auth.login")] == ["unauthorized"]
