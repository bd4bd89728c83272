"""Central services on SQLite AND PostgreSQL: intake, allocation without oversell, lifecycle actions,
backorders, ledger, transfers, sync handlers."""
from __future__ import annotations

import threading

import pytest

from central.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from sync.core.envelope import Envelope
from tests.fixtures_central import *  # noqa: F401,F403
from tests.fixtures_central import inv, order_payload, outbox


def up(site, seq, kind, body, merchant="acme"):
    return Envelope(1, f"ev-{site}-{seq}", merchant, site, "up", seq, "e1", kind, "2026-01-01T00:00:00Z", body)


def apply(svc, env):
    from central import sync_handlers

    sync_handlers.configure(svc.ops)
    return svc.store.run(lambda conn: sync_handlers.apply_up_event(conn, env))


def test_intake_allocates_releases_and_emits_down_event(svc):
    order, created = svc.create_order("acme", order_payload("W-1", [("SKU-1", 3), ("SKU-2", 2)]))
    assert created is True
    assert order["status"] == "released"
    assert [ln["qty_allocated"] for ln in order["lines"]] == [3, 2]
    [fo] = order["fulfillment_orders"]          # EWR1 holds both lines: one package
    assert fo["site_id"] == "EWR1" and fo["tracking_number"] and fo["promised_date"]
    stock = inv(svc, "acme", "SKU-1")["EWR1"]
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 3, 7)
    [ev] = outbox(svc.store, "EWR1")
    assert ev.type == "fulfillment_order.released" and ev.body["fo_id"] == fo["fo_id"]
    assert ev.body["tracking_number"] == fo["tracking_number"]
    assert [(ln["sku"], ln["qty"]) for ln in ev.body["lines"]] == [("SKU-1", 3), ("SKU-2", 2)]
    kinds = [e["to_status"] for e in svc.order_timeline("acme", order["order_id"])]
    assert kinds == ["received", "routed", "allocated", "released"]


def test_idempotent_replay_and_conflict(svc):
    first, created = svc.create_order("acme", order_payload("W-2", [("SKU-1", 1)]))
    again, created2 = svc.create_order("acme", order_payload("W-2", [("SKU-1", 1)]))
    assert created and not created2 and again["order_id"] == first["order_id"]
    with pytest.raises(Conflict):
        svc.create_order("acme", order_payload("W-2", [("SKU-1", 2)]))
    assert inv(svc, "acme", "SKU-1")["EWR1"]["reserved"] == 1  # reserved once, not three times
    # the same channel order id for another merchant is a different order
    other, created3 = svc.create_order("bolt", order_payload("W-2", [("SKU-1", 1)]))
    assert created3 and other["order_id"] != first["order_id"]


def test_unknown_sku_is_422_and_nothing_stored(svc):
    with svc.store.read() as conn:
        before = svc.store.table_snapshot(conn)
    with pytest.raises(ValidationFailed) as exc:
        svc.create_order("acme", order_payload("W-3", [("SKU-1", 1), ("NOPE", 1)]))
    assert exc.value.fields == {"lines[1].sku": "unknown SKU NOPE"}
    with svc.store.read() as conn:
        assert svc.store.table_snapshot(conn) == before


def test_safety_stock_is_honoured_and_shortfall_backordered(svc):
    svc.adjust_inventory("acme", "SKU-2", "EWR1", {"safety_stock": 3})
    order, _ = svc.create_order("acme", order_payload("W-4", [("SKU-2", 2)]))  # available = 4 - 0 - 3 = 1
    assert order["status"] == "released"
    assert (order["lines"][0]["qty_allocated"], order["lines"][0]["qty_backordered"]) == (1, 1)
    assert inv(svc, "acme", "SKU-2")["EWR1"]["reserved"] == 1
    svc.adjust_inventory("acme", "SKU-2", "EWR1", {"safety_stock": 4})   # nothing allocatable now
    order2, _ = svc.create_order("acme", order_payload("W-5", [("SKU-2", 1)]))
    assert order2["status"] == "backordered" and order2["fulfillment_orders"] == []
    assert order2["backorders"][0]["qty"] == 1
    assert inv(svc, "acme", "SKU-2")["EWR1"]["reserved"] == 1


def test_concurrent_reservations_never_oversell(svc):
    """32 threads x 3 orders each race for SKU-1 (15 units across two sites)."""
    results = []
    lock = threading.Lock()

    def worker(n):
        for k in range(3):
            order, _ = svc.create_order("acme", order_payload(f"R-{n}-{k}", [("SKU-1", 1)]))
            with lock:
                results.append(order)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 96
    allocated = sum(ln["qty_allocated"] for o in results for ln in o["lines"])
    backordered = sum(ln["qty_backordered"] for o in results for ln in o["lines"])
    assert (allocated, backordered) == (15, 81)
    stock = inv(svc, "acme", "SKU-1")
    assert (stock["EWR1"]["reserved"], stock["LAX1"]["reserved"]) == (10, 5)
    check = svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0


def test_new_stock_fills_oldest_backorder_first(svc):
    a, _ = svc.create_order("acme", order_payload("B-1", [("SKU-4", 2)]))
    b, _ = svc.create_order("acme", order_payload("B-2", [("SKU-4", 2)]))
    assert a["status"] == b["status"] == "backordered"
    apply(svc, up("EWR1", 1, "inventory.received", {"sku": "SKU-4", "qty": 3, "location": "A-1", "quarantine": False}))
    a2, b2 = svc.get_order("acme", a["order_id"]), svc.get_order("acme", b["order_id"])
    assert a2["status"] == "released" and a2["lines"][0]["qty_allocated"] == 2
    assert b2["status"] == "released"   # the rest (1 unit) went to the next-oldest, partially
    assert (b2["lines"][0]["qty_allocated"], b2["lines"][0]["qty_backordered"]) == (1, 1)
    assert inv(svc, "acme", "SKU-4")["EWR1"]["reserved"] == 3


def test_cancel_releases_reservation_and_is_refused_once_shipped(svc):
    order, _ = svc.create_order("acme", order_payload("C-1", [("SKU-1", 4)]))
    cancelled = svc.cancel_order("acme", order["order_id"], "customer asked")
    assert cancelled["status"] == "cancelled"
    assert inv(svc, "acme", "SKU-1")["EWR1"]["reserved"] == 0
    assert [e.type for e in outbox(svc.store, "EWR1")][-1] == "order.cancelled"
    with pytest.raises(InvalidTransition):
        svc.hold_order("acme", order["order_id"], "too late")
    # shipped orders cannot be cancelled
    o2, _ = svc.create_order("acme", order_payload("C-2", [("SKU-1", 1)]))
    fo = o2["fulfillment_orders"][0]
    apply(svc, up("EWR1", 1, "shipment.shipped", {
        "fo_id": fo["fo_id"], "order_id": o2["order_id"], "tracking_number": fo["tracking_number"], "carrier": "ups",
        "service": "ground", "weight_g": 150, "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 1}],
        "shipped_at": "2026-01-01T10:00:00Z"}))
    assert svc.get_order("acme", o2["order_id"])["status"] == "shipped"
    with pytest.raises(InvalidTransition):
        svc.cancel_order("acme", o2["order_id"], "")
    stock = inv(svc, "acme", "SKU-1")["EWR1"]
    assert (stock["on_hand"], stock["reserved"]) == (9, 0)


def test_shipment_after_cancel_becomes_exception(svc):
    order, _ = svc.create_order("acme", order_payload("X-1", [("SKU-1", 2)]))
    fo = order["fulfillment_orders"][0]
    svc.cancel_order("acme", order["order_id"], "fraud")
    apply(svc, up("EWR1", 1, "shipment.shipped", {
        "fo_id": fo["fo_id"], "order_id": order["order_id"], "tracking_number": "1Z999", "carrier": "ups",
        "service": "ground", "weight_g": 300, "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 2}],
        "shipped_at": "2026-01-01T10:00:00Z"}))
    after = svc.get_order("acme", order["order_id"])
    assert after["status"] == "exception"
    stock = inv(svc, "acme", "SKU-1")["EWR1"]
    assert (stock["on_hand"], stock["reserved"]) == (8, 0)  # physical fact applied, reservation not double-freed
    assert svc.verify_ledger()["mismatches"] == []


def test_short_pick_reroutes_missing_units(svc):
    order, _ = svc.create_order("acme", order_payload("S-1", [("SKU-1", 8)]))
    fo = order["fulfillment_orders"][0]
    assert fo["site_id"] == "EWR1"
    apply(svc, up("EWR1", 1, "pick.short", {"fo_id": fo["fo_id"], "line_id": "1", "sku": "SKU-1", "qty_short": 5,
                                           "location": "A-1"}))
    after = svc.get_order("acme", order["order_id"])
    sites = sorted((f["site_id"], sum(ln["qty"] for ln in f["lines"])) for f in after["fulfillment_orders"])
    assert sites == [("EWR1", 3), ("LAX1", 5)]
    stock = inv(svc, "acme", "SKU-1")
    assert (stock["EWR1"]["on_hand"], stock["EWR1"]["reserved"]) == (5, 3)
    assert stock["LAX1"]["reserved"] == 5
    assert "short_pick" in [e["kind"] for e in svc.order_timeline("acme", order["order_id"])]


def test_hold_release_address_service_split(svc):
    order, _ = svc.create_order("acme", order_payload("H-1", [("SKU-1", 1), ("SKU-2", 1)]))
    oid = order["order_id"]
    held = svc.hold_order("acme", oid, "address check")
    assert held["status"] == "on_hold" and held["held_from"] == "released"
    released = svc.release_order("acme", oid)
    assert released["status"] == "released"
    moved = svc.edit_address("acme", oid, {"ship_to": dict(order["ship_to"], line1="1 New St")})
    assert moved["ship_to"]["line1"] == "1 New St"
    changed = svc.change_service("acme", oid, {"service": "overnight"})
    assert changed["service"] == "overnight"
    assert changed["fulfillment_orders"][0]["tracking_number"] != order["fulfillment_orders"][0]["tracking_number"]
    split = svc.split_order("acme", oid, {"line_ids": ["2"]})
    active = [f for f in split["fulfillment_orders"] if f["status"] == "released"]
    assert sorted(len(f["lines"]) for f in active) == [1, 1]
    types = [e.type for e in outbox(svc.store, "EWR1")]
    assert types == ["fulfillment_order.released", "order.hold", "order.hold_released", "order.address_changed",
                     "order.service_changed", "order.cancelled", "fulfillment_order.released",
                     "fulfillment_order.released"]
    assert inv(svc, "acme", "SKU-1")["EWR1"]["reserved"] == 1  # split kept the reservation
    with pytest.raises(ValidationFailed) as exc:
        svc.edit_address("acme", oid, {"ship_to": dict(order["ship_to"], country="XX")})
    assert "ship_to.country" in exc.value.fields


def test_hold_at_intake_allocates_on_release(svc):
    order, _ = svc.create_order("acme", order_payload("H-2", [("SKU-1", 2)], hold=True))
    assert order["status"] == "on_hold" and order["fulfillment_orders"] == []
    assert inv(svc, "acme", "SKU-1")["EWR1"]["reserved"] == 0
    after = svc.release_order("acme", order["order_id"])
    assert after["status"] == "released" and after["fulfillment_orders"]


def test_replacement_references_original(svc):
    order, _ = svc.create_order("acme", order_payload("P-1", [("SKU-1", 1)]))
    repl, created = svc.create_replacement("acme", order["order_id"], {"reason": "arrived damaged"})
    assert created and repl["replacement_of"] == order["order_id"] and repl["channel"] == "replacement"
    assert repl["lines"][0]["sku"] == "SKU-1"
    kinds = [e["kind"] for e in svc.order_timeline("acme", order["order_id"])]
    assert "replacement_created" in kinds


def test_csv_import_reports_row_errors_and_imports_good_rows(svc):
    text = ("channel_order_id,name,line1,city,postal_code,country,sku,qty\n"
            "CSV-1,Ann,1 A St,Boston,02110,US,SKU-1,1\n"
            "CSV-1,Ann,1 A St,Boston,02110,US,SKU-2,1\n"
            "CSV-2,Bob,2 B St,Austin,78701,US,SKU-1,zero\n"
            "CSV-3,Cy,3 C St,Paris,75001,ZZ,SKU-1,1\n")
    out = svc.import_orders_csv("acme", text)
    assert (out["imported"], out["failed"]) == (1, 2)
    errs = {e["channel_order_id"]: e["fields"] for e in out["errors"]}
    assert errs["CSV-2"] == {"4": {"qty": "must be an integer"}}
    assert errs["CSV-3"] == {"5": {"country": "must be an ISO 3166-1 alpha-2 country code (e.g. US)"}}
    again = svc.import_orders_csv("acme", text)
    assert (again["imported"], again["replayed"]) == (0, 1)


def test_ledger_rebuild_equals_balances_and_explains_changes(svc):
    order, _ = svc.create_order("acme", order_payload("L-1", [("SKU-1", 2)]))
    svc.adjust_inventory("acme", "SKU-1", "EWR1", {"delta": -1, "reason": "damaged"})
    apply(svc, up("EWR1", 1, "cycle_count.recorded", {"sku": "SKU-1", "location": "A-1", "counted": 6,
                                                     "expected": 9}))
    apply(svc, up("EWR1", 2, "return.received", {"sku": "SKU-1", "qty": 1, "order_id": order["order_id"]}))
    apply(svc, up("EWR1", 3, "return.graded", {"sku": "SKU-1", "qty": 1, "grade": "A", "restocked": True}))
    rows = svc.ledger("acme", "SKU-1", "EWR1")
    causes = [r["cause"] for r in rows]
    assert causes == ["grading", "return", "cycle_count", "adjustment", "order", "seed"]
    assert [r["on_hand_after"] for r in rows] == [7, 6, 6, 9, 10, 10]
    check = svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0 and check["rows"] >= 5


def test_low_stock_alert_fires_once_when_crossed(svc):
    svc.adjust_inventory("acme", "SKU-1", "EWR1", {"low_stock_threshold": 6})
    svc.subscribe_webhook("acme", {"url": "http://127.0.0.1:9/hook", "events": ["inventory.low_stock"]})
    svc.create_order("acme", order_payload("T-1", [("SKU-1", 4)]))  # available 10 -> 6: not below
    assert svc.list_alerts("acme") == []
    svc.create_order("acme", order_payload("T-2", [("SKU-1", 1)]))  # 6 -> 5: crossed
    svc.create_order("acme", order_payload("T-3", [("SKU-1", 1)]))  # 5 -> 4: already below
    alerts = svc.list_alerts("acme")
    assert [(a["kind"], a["sku"], a["site_id"], a["detail"]["available"]) for a in alerts] == [
        ("low_stock", "SKU-1", "EWR1", 5)]
    hook = svc.list_webhooks("acme")[0]
    [d] = svc.webhook_deliveries("acme", hook["webhook_id"])
    assert d["event_type"] == "inventory.low_stock" and d["payload"]["data"]["available"] == 5


def test_transfer_moves_stock_through_in_transit(svc):
    t = svc.create_transfer("acme", {"from_site": "EWR1", "to_site": "LAX1", "lines": [{"sku": "SKU-2", "qty": 3}]})
    assert t["status"] == "created"
    assert [e.type for e in outbox(svc.store, "LAX1")] == ["transfer.created"]
    svc.transfer_step("acme", t["transfer_id"], "ship")
    s = inv(svc, "acme", "SKU-2")
    assert (s["EWR1"]["on_hand"], s["LAX1"]["in_transit"], s["LAX1"]["on_hand"]) == (1, 3, 0)
    assert svc.inventory_for_sku("acme", "SKU-2")["totals"]["in_transit"] == 3
    svc.transfer_step("acme", t["transfer_id"], "receive")
    s = inv(svc, "acme", "SKU-2")
    assert (s["EWR1"]["on_hand"], s["LAX1"]["in_transit"], s["LAX1"]["on_hand"]) == (1, 0, 3)
    with pytest.raises(InvalidTransition):
        svc.transfer_step("acme", t["transfer_id"], "receive")


def test_tenant_isolation_in_services(svc):
    order, _ = svc.create_order("acme", order_payload("I-1", [("SKU-1", 1)]))
    with pytest.raises(NotFound):
        svc.get_order("bolt", order["order_id"])
    with pytest.raises(NotFound):
        svc.cancel_order("bolt", order["order_id"], "")
    assert svc.list_orders("bolt", {})[0] == []
    assert inv(svc, "bolt", "SKU-1")["EWR1"]["on_hand"] == 7  # same SKU code, separate stock


def test_sync_rejects_foreign_fulfillment_orders(svc):
    from central.errors import Forbidden

    order, _ = svc.create_order("acme", order_payload("F-1", [("SKU-1", 1)]))
    fo = order["fulfillment_orders"][0]
    with pytest.raises(Forbidden):
        apply(svc, up("LAX1", 1, "pick.confirmed", {"fo_id": fo["fo_id"], "line_id": "1", "sku": "SKU-1", "qty": 1,
                                                   "location": "A"}))
    with pytest.raises(ValidationFailed):
        apply(svc, up("EWR1", 1, "inventory.adjusted", {"sku": "SKU-1", "delta": "x", "reason": "", "location": "A"}))


def test_digest_drift_raises_alert(svc):
    from central import sync_handlers

    with svc.store.read() as conn:
        assert sync_handlers.expected_balances(conn, "EWR1") == {"SKU-1": 17, "SKU-2": 4}
    out = apply(svc, up("EWR1", 1, "inventory.digest", {"as_of_seq": 1, "balances": {"SKU-1": 17, "SKU-2": 3}}))
    assert out["drift"] == {"SKU-2": {"edge": 3, "central": 4}}
    assert svc.list_alerts("acme")[0]["kind"] == "drift"


def test_site_health_keeps_work_away(svc):
    svc.set_site_health("EWR1", stale=True, sync_lag_s=0, printers_ok=True, last_heartbeat_at="2026-01-01T00:00:00Z",
                        detail="missed 3 heartbeats")
    order, _ = svc.create_order("acme", order_payload("G-1", [("SKU-1", 2)]))
    assert [f["site_id"] for f in order["fulfillment_orders"]] == ["LAX1"]
    assert svc.get_site("acme", "EWR1")["stale"] is True


def test_shipped_and_inventory_webhooks_are_queued(svc):
    hook = svc.subscribe_webhook("acme", {"url": "http://127.0.0.1:9/h",
                                          "events": ["order.shipped", "inventory.updated", "order.exception"]})
    apply(svc, up("LAX1", 1, "inventory.received", {"sku": "SKU-2", "qty": 6, "location": "R-1", "quarantine": False}))
    order, _ = svc.create_order("acme", order_payload("WS-1", [("SKU-1", 2)]))
    fo = order["fulfillment_orders"][0]
    apply(svc, up(fo["site_id"], 2, "shipment.shipped", {
        "fo_id": fo["fo_id"], "order_id": order["order_id"], "tracking_number": fo["tracking_number"],
        "carrier": fo["carrier"], "service": "ground", "weight_g": 250,
        "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 2}], "shipped_at": "2026-01-01T10:00:00Z"}))
    got = [(d["event_type"], d["payload"]["data"]) for d in reversed(svc.webhook_deliveries("acme", hook["webhook_id"]))]
    # the receipt, the reservation at intake, the shipment (stock first, then the order event)
    assert [t for t, _ in got] == ["inventory.updated", "inventory.updated", "inventory.updated", "order.shipped"]
    assert got[0][1] == {"sku": "SKU-2", "site_id": "LAX1", "on_hand": 6, "reserved": 0, "safety_stock": 0,
                         "available": 6, "in_transit": 0, "quarantine": 0}
    assert fo["site_id"] == "EWR1"
    assert [(d["sku"], d["site_id"], d["on_hand"], d["reserved"], d["available"]) for _, d in got[1:3]] == [
        ("SKU-1", "EWR1", 10, 2, 8), ("SKU-1", "EWR1", 8, 0, 8)]
    assert got[3][1]["tracking_number"] == fo["tracking_number"] and got[3][1]["status"] == "shipped"


def test_concurrent_replays_create_one_order(svc):
    """8 clients retrying the same request at once: one order, one reservation."""
    ids, errors = [], []

    def send():
        try:
            ids.append(svc.create_order("acme", order_payload("DUP-1", [("SKU-1", 3)]))[0]["order_id"])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(ids) == 8 and len(set(ids)) == 1
    stock = inv(svc, "acme", "SKU-1")
    assert stock["EWR1"]["reserved"] + stock["LAX1"]["reserved"] == 3
    assert svc.verify_ledger()["mismatches"] == []


def test_catalog_seed_sets_site_closures_with_reasons(svc):
    import copy

    from tests.fixtures_central import CATALOG

    cat = copy.deepcopy(CATALOG)
    cat["sites"][0]["closures"] = [{"date": "2026-12-25", "reason": "Christmas Day"},
                                   {"date": "2026-12-24", "reason": "Stock count"}]
    svc.seed_catalog(cat)
    site = svc.get_site("acme", "EWR1")
    assert site["closures"] == ["2026-12-24", "2026-12-25"]
    assert site["closure_details"] == [{"date": "2026-12-24", "reason": "Stock count"},
                                       {"date": "2026-12-25", "reason": "Christmas Day"}]
    assert svc.site_closures("acme", "EWR1")["closures"] == site["closure_details"]
    assert svc.get_site("acme", "LAX1")["closure_details"] == []
    svc.seed_catalog(copy.deepcopy(CATALOG))          # a site without "closures" keeps its closures
    assert svc.get_site("acme", "EWR1")["closures"] == ["2026-12-24", "2026-12-25"]
    bad = copy.deepcopy(CATALOG)
    bad["sites"][1]["closures"] = [{"date": "2026-02-30", "reason": "x"}, {"reason": "y"}]
    with pytest.raises(ValidationFailed) as e:
        svc.seed_catalog(bad)
    assert e.value.fields == {"sites[1].closures[0].date": "must be a calendar date YYYY-MM-DD",
                              "sites[1].closures[1].date": "is required"}
    assert svc.get_site("acme", "LAX1")["closures"] == []
    # a closure date set through the store only (no reason) is listed with an empty reason
    with svc.store.transaction() as conn:
        svc.store.set_site_closures(conn, "LAX1", ["2026-07-03"])
    assert svc.get_site("acme", "LAX1")["closure_details"] == [{"date": "2026-07-03", "reason": ""}]
