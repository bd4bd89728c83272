"""Down events applied on the edge store, and the inventory digest."""
from __future__ import annotations

import pytest

from edge import store as db
from edge.errors import InvalidEvent, WrongSite
from edge.sync_handlers import HANDLERS, apply_down_event, inventory_digest
from sync.core.events import DOWN, SCHEMAS
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import down, envelope, fo_body, release, sku_gtin, snapshot


def test_every_down_event_type_has_a_handler():
    assert set(HANDLERS) == {t for t, (stream, _s) in SCHEMAS.items() if stream == DOWN}


def test_release_stores_the_order_with_preassigned_tracking(floor):
    release(floor.store, "FO-1", [("SKU-0001", 2)], urgent=True, tracking="1Z0001")
    fo = floor.store.read(lambda c: db.fo_get(c, "FO-1"))
    assert (fo["status"], fo["tracking_number"], fo["carrier"], fo["urgent"]) == ("released", "1Z0001", "ups", True)
    assert fo["ship_to"]["postal_code"] == "07102" and fo["merchant_id"] == "M-ACME"
    with pytest.raises(InvalidEvent, match="already released"):
        release(floor.store, "FO-1", [("SKU-0001", 2)])
    audit = floor.store.read(lambda c: db.audit_rows(c, subject="fo:FO-1"))
    assert audit[-1]["action"] == "sync.fulfillment_order.released" and audit[-1]["username"] == "central"


def test_event_for_another_site_or_with_a_bad_body_changes_nothing(floor):
    before = snapshot(floor.store)
    with pytest.raises(WrongSite, match="LAX1"):
        floor.store.write(lambda c: apply_down_event(c, envelope("fulfillment_order.released",
                                                                 fo_body("FO-9", [("SKU-0001", 1)]), site="LAX1")))
    bad = fo_body("FO-9", [("SKU-0001", 0)])
    with pytest.raises(InvalidEvent, match="qty"):
        floor.store.write(lambda c: apply_down_event(c, envelope("fulfillment_order.released", bad)))
    with pytest.raises(InvalidEvent, match="not a down-stream"):
        floor.store.write(lambda c: apply_down_event(c, envelope("pick.confirmed", {})))
    with pytest.raises(InvalidEvent, match="unknown event type"):
        floor.store.write(lambda c: apply_down_event(c, envelope("order.teleported", {})))
    evil = fo_body("FO-9", [("SKU-0001", 1)])
    evil["ship_to"]["name"] = "Bob\x00^XA^FDinjected"
    with pytest.raises(InvalidEvent, match="control characters"):
        floor.store.write(lambda c: apply_down_event(c, envelope("fulfillment_order.released", evil)))
    assert snapshot(floor.store) == before


def test_hold_release_address_service_changes(floor):
    release(floor.store, "FO-2", [("SKU-0001", 1)])
    assert down(floor.store, "order.hold", {"order_id": "OFO-2", "fo_id": "FO-2", "reason": "fraud"}) == "held (was released)"
    assert down(floor.store, "order.hold_released", {"order_id": "OFO-2", "fo_id": "FO-2"}) == "hold released (back to released)"
    addr = dict(fo_body("x", [])["ship_to"], city="Hoboken")
    down(floor.store, "order.address_changed", {"order_id": "OFO-2", "fo_id": "FO-2", "ship_to": addr})
    down(floor.store, "order.service_changed", {"order_id": "OFO-2", "fo_id": "FO-2", "service": "next_day", "carrier": "fedex",
                                                "tracking_number": "7777", "promised_date": "2026-11-25"})
    fo = floor.store.read(lambda c: db.fo_get(c, "FO-2"))
    assert (fo["ship_to"]["city"], fo["service"], fo["carrier"], fo["tracking_number"]) == ("Hoboken", "next_day", "fedex", "7777")
    assert down(floor.store, "order.hold", {"order_id": "O", "fo_id": "FO-NOPE", "reason": "x"}) == "unknown order: ignored"


def test_master_data_events(floor):
    down(floor.store, "sku.upsert", {"sku": "SKU-9000", "description": "New thing", "gtins": ["4006381333931"], "weight_g": 250,
                                     "length_mm": 10, "width_mm": 10, "height_mm": 10, "lot_tracked": False,
                                     "expiry_tracked": False, "hazmat": True, "requires_qc": False})
    assert floor.store.read(lambda c: db.sku_by_code(c, "04006381333931"))["sku"] == "SKU-9000"
    down(floor.store, "site.config", {"timezone": "America/New_York", "cutoffs": {"ground": "17:00"}, "holidays": ["2026-12-25"],
                                      "capabilities": ["discrete"]})
    assert floor.store.read(db.site_config_get)["capabilities"] == ["discrete"]
    with pytest.raises(InvalidEvent, match="does not involve"):
        down(floor.store, "transfer.created", {"transfer_id": "T", "from_site": "LAX1", "to_site": "ORD1", "lines": []})
    down(floor.store, "receipt.expected", {"asn_id": "A1", "supplier": "S", "lines": [{"sku": "SKU-0001", "qty": 5}]})
    down(floor.store, "rma.created", {"rma_id": "R1", "order_id": None, "lines": [{"sku": "SKU-0001", "qty": 1}]})
    assert floor.store.read(lambda c: db.asn_get(c, "A1"))["lines"][0]["expected"] == 5
    assert floor.store.read(lambda c: db.rma_get(c, "R1"))["status"] == "open"


def test_site_capabilities_from_central_drive_the_pick_method(floor):
    from edge.services import Actor

    down(floor.store, "site.config", {"timezone": "UTC", "cutoffs": {}, "holidays": [], "capabilities": ["discrete"]})
    release(floor.store, "FO-C", [(f"SKU-{j:04d}", 1) for j in range(8, 20)])
    assert floor.picking.start(Actor("picker1", "picker"))["method"] == "discrete"


def test_inventory_digest_counts_bins_and_picked_units_but_not_quarantine(floor):
    from edge.services import Actor

    d = floor.store.read(inventory_digest)
    assert d["SKU-0001"] == 200 and d["SKU-0007"] == 0 and len(d) == 30
    floor.receiving.receive(Actor("r", "receiver"), sku_gtin("SKU-0007"), qty=5)   # SKU-0007 -> QC
    assert floor.store.read(inventory_digest)["SKU-0007"] == 0
    assert floor.store.read(db.quarantine_by_sku)["SKU-0007"] == 5
