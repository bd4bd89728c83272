"""Customer returns graded C join the QC workflow: they wait in quarantine (QC-01) as QC receipts, are
listed with the receiving QC work, and are released into a bin or rejected (scrap / return to vendor)
with the same events — on a real SQLite file, and carried to central over the real sync runtime."""
from __future__ import annotations

import pytest

from edge import store as db
from edge.errors import InvalidQuantity, InvalidState, WrongLocation
from edge.services import Actor
from edge.sync_handlers import inventory_digest
from sync.core.events import validate_body
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import audit_refusals, down, outbox, sku_gtin, snapshot
from tests.fixtures_edge_sync import *  # noqa: F401,F403
from tests.fixtures_sync import *  # noqa: F401,F403
from tests.fixtures_sync import MERCHANT, central_on_hand, edge_on_hand, outbox_depth, wait_until

RECEIVER = Actor("receiver1", "receiver")


def stock_of(floor, location, sku):
    return sum(r["qty"] for r in floor.store.read(lambda c: db.stock_at(c, location, sku)))


def test_a_return_graded_c_is_released_to_a_bin_and_rejected_through_qc(floor):
    down(floor.store, "rma.created", {"rma_id": "RMA-7", "order_id": "O-77", "lines": [{"sku": "SKU-0008", "qty": 4}]})
    ret = floor.returns.receive(RECEIVER, sku_gtin("SKU-0008"), qty=4, rma_id="RMA-7")
    rid = ret["return_id"]
    home = floor.store.read(lambda c: db.stock_by_sku(c, "SKU-0008"))[0]["location"]   # where SKU-0008 lives
    bin_before = stock_of(floor, home, "SKU-0008")
    digest_before = floor.store.read(inventory_digest)["SKU-0008"]

    g = floor.returns.grade(RECEIVER, rid, "C")
    qc_id = g["qc_receipt_id"]
    assert (g["grade"], g["disposition"], g["location"]) == ("C", "quarantine", "QC-01")
    assert g["next"] == f"Put 4 x SKU-0008 in QC-01: QC receipt {qc_id} releases or rejects it; scan the next return"
    assert stock_of(floor, "QC-01", "SKU-0008") == 4 and stock_of(floor, "RET-01", "SKU-0008") == 0
    assert floor.store.read(inventory_digest)["SKU-0008"] == digest_before    # quarantine is not on hand

    # listed with the QC work, with where it came from and the bin a release would go to
    [pending] = floor.qc.pending()
    assert {k: pending[k] for k in ("receipt_id", "sku", "qty", "pending", "location", "return_id", "rma_id", "source",
                                    "asn_id", "suggested_bin")} == {
        "receipt_id": qc_id, "sku": "SKU-0008", "qty": 4, "pending": 4, "location": "QC-01", "return_id": rid,
        "rma_id": "RMA-7", "source": f"return {rid} (RMA RMA-7), graded C", "asn_id": None, "suggested_bin": home}
    view = floor.qc.inspect(RECEIVER, qc_id)
    assert view["next"] == f"Inspect 4 x SKU-0008: release by scanning bin {home}, or reject with a reason"

    # refusals change nothing and are audited
    before = snapshot(floor.store)
    with pytest.raises(InvalidQuantity, match="only 4 unit"):
        floor.qc.release(RECEIVER, qc_id, home, qty=5)
    with pytest.raises(WrongLocation, match="not a storage bin"):
        floor.qc.release(RECEIVER, qc_id, "RET-01", qty=1)
    with pytest.raises(InvalidState, match="already graded"):
        floor.returns.grade(RECEIVER, rid, "A", bin_code=home)
    assert snapshot(floor.store) == before
    assert {r["code"] for r in audit_refusals(floor.store, "qc.release")} == {"invalid_quantity", "wrong_location"}

    # QC: 2 pass back into stock, 1 defective goes back to the vendor, the last one is scrapped
    out = floor.qc.release(RECEIVER, qc_id, home, qty=2)
    assert (out["bin"], out["qty"], out["pending"]) == (home, 2, 2)
    out = floor.qc.reject(RECEIVER, qc_id, "defective", "return_to_vendor", qty=1)
    assert out["next"] == (f"Take 1 x SKU-0008 to the return-to-vendor shelf (return {rid} (RMA RMA-7), graded C); "
                           "1 unit(s) still in quarantine")
    out = floor.qc.reject(RECEIVER, qc_id, "damaged", "scrap")
    assert (out["qty"], out["pending"], out["next"]) == (1, 0, "Take 1 x SKU-0008 to the scrap cage")
    assert floor.qc.pending() == []
    assert (stock_of(floor, "QC-01", "SKU-0008"), stock_of(floor, home, "SKU-0008")) == (0, bin_before + 2)
    assert floor.store.read(inventory_digest)["SKU-0008"] == digest_before + 2
    with pytest.raises(InvalidState, match="nothing left to inspect"):
        floor.qc.release(RECEIVER, qc_id, home)

    # the same events as receiving QC, each valid against the contract
    evs = [(e["type"], e["body"]) for e in outbox(floor.store)
           if e["type"] in ("return.received", "return.graded", "stock.qc_released", "stock.qc_rejected")]
    for t, b in evs:
        validate_body(t, b)
    assert evs == [
        ("return.received", {"rma_id": "RMA-7", "order_id": "O-77", "sku": "SKU-0008", "qty": 4}),
        ("return.graded", {"rma_id": "RMA-7", "sku": "SKU-0008", "qty": 4, "grade": "C", "restocked": False}),
        ("stock.qc_released", {"receipt_id": qc_id, "sku": "SKU-0008", "qty": 2, "location": home, "lot": None}),
        ("stock.qc_rejected", {"receipt_id": qc_id, "sku": "SKU-0008", "qty": 1, "disposition": "return_to_vendor",
                               "reason": "defective", "asn_id": None}),
        ("stock.qc_rejected", {"receipt_id": qc_id, "sku": "SKU-0008", "qty": 1, "disposition": "scrap",
                               "reason": "damaged", "asn_id": None})]
    decisions = floor.qc.recent()
    assert [(d["receipt_id"], d["outcome"], d["disposition"], d["qty"], d["location"]) for d in reversed(decisions)] == [
        (qc_id, "released", "available", 2, home), (qc_id, "rejected", "return_to_vendor", 1, "QC-01"),
        (qc_id, "rejected", "scrap", 1, "QC-01")]
    graded = floor.store.read(lambda c: db.audit_rows(c, action="return.grade", limit=5))
    assert [(a["ok"], a["subject"]) for a in graded if a["ok"]] == [(1, f"return:{rid}")]


def test_grades_other_than_c_file_no_qc_receipt(floor):
    for grade in ("B", "scrap"):
        r = floor.returns.receive(RECEIVER, sku_gtin("SKU-0009"))
        g = floor.returns.grade(RECEIVER, r["return_id"], grade)
        assert "qc_receipt_id" not in g and g["next"] == "Graded: scan the next return"
    assert floor.qc.pending() == []


@pytest.mark.mqtt
def test_return_qc_decisions_reach_central_balances_over_the_real_sync(synced_site):
    svc, floor, estore = synced_site.svc, synced_site.floor, synced_site.estore
    sku = synced_site.cat["skus"][0]["sku"]

    def central_row():
        row = synced_site.row(sku)
        return (row["on_hand"], row["quarantine"]) if row else (0, 0)

    on_hand, quarantine = central_row()
    # 5 returned units wait in returns, then grade C: central keeps them in quarantine
    ret = floor.returns.receive(RECEIVER, sku, qty=5)
    qc_id = floor.returns.grade(RECEIVER, ret["return_id"], "C")["qc_receipt_id"]
    wait_until(lambda: outbox_depth(estore) == 0, 30, "return events acknowledged")
    assert central_row() == (on_hand, quarantine + 5)
    # QC releases 3 into a bin (on hand), rejects 2 (they leave the building)
    floor.qc.release(RECEIVER, qc_id, "B-01-01-1", qty=3)
    wait_until(lambda: outbox_depth(estore) == 0, 30, "release acknowledged")
    assert central_row() == (on_hand + 3, quarantine + 2)
    floor.qc.reject(RECEIVER, qc_id, "contaminated", "scrap")
    wait_until(lambda: outbox_depth(estore) == 0, 30, "reject acknowledged")
    assert central_row() == (on_hand + 3, quarantine)
    ledger = [(r["cause"], r["d_on_hand"], r["d_quarantine"]) for r in svc.ledger(MERCHANT, sku, "EWR1")
              if r["cause"] in ("return", "grading")]
    assert sorted(ledger) == sorted([("return", 0, 5), ("grading", 3, -3), ("grading", 0, -2)])
    central_now = central_on_hand(synced_site.cstore, "EWR1")
    assert central_now == {k: v for k, v in edge_on_hand(estore).items() if v or k in central_now}
