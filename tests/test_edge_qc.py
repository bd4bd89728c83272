"""Receiving QC: quarantined receipts are released into a bin (put-away scan) or rejected (scrap /
return to vendor) with a reason code, on a real SQLite file; central applies the two up events."""
from __future__ import annotations

import pytest

from edge import store as db
from edge.errors import Forbidden, InvalidQuantity, InvalidState, NotFound, WrongLocation
from edge.services import Actor
from edge.sync_handlers import inventory_digest
from sync.core.events import BodyError, validate_body
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge_central import *  # noqa: F401,F403
from tests.fixtures_edge_central import up
from tests.fixtures_edge import audit_refusals, down, outbox, sku_gtin, snapshot

RECEIVER = Actor("receiver1", "receiver")
PICKER = Actor("picker1", "picker")


def stock_of(floor, location, sku):
    return sum(r["qty"] for r in floor.store.read(lambda c: db.stock_at(c, location, sku)))


def first_empty_bin(floor, zone):
    bins = floor.store.read(db.pick_bins_with_skus)
    return min((b for b in bins if b["zone"] == zone and not b["skus"]), key=lambda b: b["walk_seq"])["code"]


def test_quarantined_receipt_is_released_to_a_bin_and_rejected_with_reason_codes(floor):
    down(floor.store, "receipt.expected", {"asn_id": "ASN-Q", "supplier": "Acme Supply",
                                           "lines": [{"sku": "SKU-0007", "qty": 10}]})
    r = floor.receiving.receive(RECEIVER, sku_gtin("SKU-0007"), qty=10, asn_id="ASN-Q")
    rid = r["receipt_id"]
    assert r["quarantine"] and r["location"] == "QC-01" and stock_of(floor, "QC-01", "SKU-0007") == 10
    home = first_empty_bin(floor, "A")   # SKU-0007 has no stock yet: an empty bin of its home zone A
    [pending] = floor.qc.pending()
    assert (pending["receipt_id"], pending["sku"], pending["qty"], pending["pending"], pending["suggested_bin"]) == \
        (rid, "SKU-0007", 10, 10, home)
    view = floor.qc.inspect(RECEIVER, rid)
    assert view["next"] == f"Inspect 10 x SKU-0007: release by scanning bin {home}, or reject with a reason"
    assert view["reasons"][0] == "damaged" and view["dispositions"] == ["scrap", "return_to_vendor"]
    assert floor.store.read(inventory_digest)["SKU-0007"] == 0   # quarantine is not on hand

    # refusals change nothing and land in the audit log
    before = snapshot(floor.store)
    with pytest.raises(WrongLocation, match="not a storage bin"):
        floor.qc.release(RECEIVER, rid, "DOCK-01", qty=6)
    occupied = floor.store.read(lambda c: db.stock_by_sku(c, "SKU-0001"))[0]["location"]
    with pytest.raises(WrongLocation, match="do not mix SKUs"):
        floor.qc.release(RECEIVER, rid, occupied, qty=6)
    with pytest.raises(InvalidQuantity, match="only 10 unit"):
        floor.qc.release(RECEIVER, rid, home, qty=11)
    with pytest.raises(InvalidState, match="reason must be one of"):
        floor.qc.reject(RECEIVER, rid, "looks odd", "scrap")
    with pytest.raises(InvalidState, match="disposition must be one of"):
        floor.qc.reject(RECEIVER, rid, "damaged", "donate")
    with pytest.raises(Forbidden):
        floor.qc.release(PICKER, rid, home, qty=1)
    with pytest.raises(NotFound):
        floor.qc.release(RECEIVER, 999, home, qty=1)
    assert snapshot(floor.store) == before
    assert {r["code"] for r in audit_refusals(floor.store, "qc.release")} == {"wrong_location", "invalid_quantity", "not_found"}
    assert [r["code"] for r in audit_refusals(floor.store, "qc.reject")] == ["invalid_state", "invalid_state"]

    # release 6 into the suggested bin (scanned in lower case, as a wedge may send it)
    out = floor.qc.release(RECEIVER, rid, home.lower(), qty=6)
    assert (out["bin"], out["qty"], out["pending"]) == (home, 6, 4)
    assert out["next"] == f"4 unit(s) of receipt {rid} still in quarantine: release or reject them"
    assert (stock_of(floor, "QC-01", "SKU-0007"), stock_of(floor, home, "SKU-0007")) == (4, 6)
    assert floor.store.read(inventory_digest)["SKU-0007"] == 6
    # reject 3 damaged back to the vendor, then the last one (default: all still pending) scrapped
    out = floor.qc.reject(RECEIVER, rid, "damaged", "return_to_vendor", qty=3)
    assert out["next"] == "Take 3 x SKU-0007 to the return-to-vendor shelf (ASN ASN-Q); 1 unit(s) still in quarantine"
    out = floor.qc.reject(RECEIVER, str(rid), "expired", "scrap")
    assert (out["qty"], out["pending"], out["next"]) == (1, 0, "Take 1 x SKU-0007 to the scrap cage")
    assert stock_of(floor, "QC-01", "SKU-0007") == 0 and floor.qc.pending() == []
    with pytest.raises(InvalidState, match="nothing left to inspect"):
        floor.qc.release(RECEIVER, rid, home)
    assert floor.qc.inspect(RECEIVER, rid)["next"] == f"Receipt {rid} is fully inspected"

    events = [(e["type"], e["body"]) for e in outbox(floor.store) if e["type"].startswith("stock.qc_")]
    assert events == [
        ("stock.qc_released", {"receipt_id": rid, "sku": "SKU-0007", "qty": 6, "location": home, "lot": None}),
        ("stock.qc_rejected", {"receipt_id": rid, "sku": "SKU-0007", "qty": 3, "disposition": "return_to_vendor",
                               "reason": "damaged", "asn_id": "ASN-Q"}),
        ("stock.qc_rejected", {"receipt_id": rid, "sku": "SKU-0007", "qty": 1, "disposition": "scrap",
                               "reason": "expired", "asn_id": "ASN-Q"}),
    ]
    for t, b in events:
        validate_body(t, b)
    ledger = floor.store.read(lambda c: [(r["location"], r["delta"], r["cause"]) for r in db.ledger_rows(c, "SKU-0007")])
    assert ledger[::-1] == [("QC-01", 10, "receipt"), ("QC-01", -6, "qc_release"), (home, 6, "qc_release"),
                            ("QC-01", -3, "qc_reject"), ("QC-01", -1, "qc_reject")]
    decisions = floor.store.read(lambda c: [(d["outcome"], d["disposition"], d["qty"], d["reason"])
                                            for d in db.qc_decisions(c, rid)])
    assert decisions == [("released", "available", 6, None), ("rejected", "return_to_vendor", 3, "damaged"),
                         ("rejected", "scrap", 1, "expired")]
    ok_audit = floor.store.read(lambda c: [r["action"] for r in db.audit_rows(c, subject=f"receipt:{rid}", ok=True)])
    assert ok_audit == ["qc.reject", "qc.reject", "qc.release", "receive"]


def test_lot_tracked_release_keeps_lot_and_a_normal_receipt_is_not_a_qc_receipt(floor):
    floor.store.write(lambda c: c.execute("UPDATE skus SET requires_qc = 1 WHERE sku = 'SKU-0020'"))
    r = floor.receiving.receive(RECEIVER, "01" + sku_gtin("SKU-0020").zfill(14) + "17280115" + "10LQ7", qty=4)
    assert r["quarantine"]
    home = floor.qc.pending()[0]["suggested_bin"]
    out = floor.qc.release(RECEIVER, r["receipt_id"], home)
    assert out["qty"] == 4 and out["next"] == "QC done: pick the next quarantined receipt"
    row = [x for x in floor.store.read(lambda c: db.stock_at(c, home, "SKU-0020")) if x["lot"] == "LQ7"][0]
    assert (row["qty"], row["expiry"]) == (4, "2028-01-15")
    assert outbox(floor.store)[-1]["body"]["lot"] == "LQ7"
    plain = floor.receiving.receive(RECEIVER, sku_gtin("SKU-0002"), qty=2)
    with pytest.raises(InvalidState, match="did not go to quarantine"):
        floor.qc.release(RECEIVER, plain["receipt_id"], home)


def test_qc_event_bodies_are_checked_against_the_contract():
    good = {"receipt_id": 3, "sku": "SKU-1", "qty": 2, "disposition": "scrap", "reason": "damaged", "asn_id": None}
    validate_body("stock.qc_rejected", good)
    with pytest.raises(BodyError, match="disposition"):
        validate_body("stock.qc_rejected", dict(good, disposition="donate"))
    with pytest.raises(BodyError, match="qty"):
        validate_body("stock.qc_released", {"receipt_id": 3, "sku": "SKU-1", "qty": 0, "location": "A-01-01-1"})


def test_central_moves_quarantine_to_on_hand_or_out_per_qc_event(central_svc):
    from central.errors import Forbidden as CentralForbidden
    from tests.fixtures_central import inv

    svc = central_svc
    up(svc, 1, "inventory.received", {"sku": "SKU-2", "qty": 10, "location": "QC-01", "quarantine": True, "lot": None,
                                      "expiry": None, "asn_id": "ASN-Q"})
    s = inv(svc, "acme", "SKU-2")["EWR1"]
    assert (s["on_hand"], s["quarantine"]) == (4, 10)
    up(svc, 2, "stock.qc_released", {"receipt_id": 1, "sku": "SKU-2", "qty": 6, "location": "A-01-01-1", "lot": None})
    up(svc, 3, "stock.qc_rejected", {"receipt_id": 1, "sku": "SKU-2", "qty": 3, "disposition": "return_to_vendor",
                                     "reason": "damaged", "asn_id": "ASN-Q"})
    s = inv(svc, "acme", "SKU-2")["EWR1"]
    assert (s["on_hand"], s["quarantine"], s["available"]) == (10, 1, 10)
    with svc.store.read() as conn:
        rows = svc.ops.q.ledger_rows(conn, "acme", "SKU-2", "EWR1")
    qc = [(r["cause"], r["d_on_hand"], r["d_quarantine"]) for r in rows if "qc receipt" in r["ref"]]
    assert sorted(qc) == [("grading", 0, -3), ("grading", 6, -6)]
    with pytest.raises(CentralForbidden):   # a site outside the merchant's network
        up(svc, 9, "stock.qc_released", {"receipt_id": 1, "sku": "SKU-2", "qty": 1, "location": "A", "lot": None},
           site="DFW9")
