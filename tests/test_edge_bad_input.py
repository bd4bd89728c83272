"""Bad input at every scan point: a clear typed error, nothing changed, the refusal in the audit log."""
from __future__ import annotations

import pytest

from edge import store as db
from edge.errors import (DuplicateScan, EdgeError, InvalidQuantity, InvalidScan, NotFound, StaleTask, UnknownBarcode)
from edge.services import Actor, Floor
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import audit_refusals, down, edge_config, gtin13, item_code, release, sku_gtin, snapshot

PICKER = Actor("picker1", "picker", device="hh-07")
PACKER = Actor("packer1", "packer")
RECEIVER = Actor("receiver1", "receiver")

GOOD_GTIN = gtin13(1)
BAD_CHECK = GOOD_GTIN[:-1] + str((int(GOOD_GTIN[-1]) + 1) % 10)
BAD_INPUTS = [
    ("unknown barcode", "4006389999999"[:-1] + "0", UnknownBarcode, "unknown_barcode"),
    ("control character", "A-01\x07-01-1", InvalidScan, "invalid_scan"),
    ("escape sequence", "\x1b[2J" + GOOD_GTIN, InvalidScan, "invalid_scan"),
    ("bad GTIN check digit", BAD_CHECK, InvalidScan, "invalid_scan"),
    ("bad GS1 check digit", "01" + BAD_CHECK.zfill(14) + "10LOT1", InvalidScan, "invalid_scan"),
    ("over-long scan", "X" * 600, InvalidScan, "invalid_scan"),
    ("empty scan", "   ", InvalidScan, "invalid_scan"),
    ("not text", 12345, InvalidScan, "invalid_scan"),
]


def _fix_unknown():
    from biip.checksums import gs1_standard_check_digit
    body = "400638999999"
    return body + str(gs1_standard_check_digit(body))


BAD_INPUTS[0] = ("unknown barcode", _fix_unknown(), UnknownBarcode, "unknown_barcode")


@pytest.mark.parametrize("label,code,exc,err", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_scans_at_receiving_change_nothing_and_are_audited(floor, label, code, exc, err):
    before = snapshot(floor.store)
    with pytest.raises(exc):
        floor.receiving.receive(RECEIVER, code, qty=1)
    assert snapshot(floor.store) == before
    rows = audit_refusals(floor.store, "receive")
    assert rows[0]["code"] == err and rows[0]["username"] == "receiver1"


@pytest.mark.parametrize("label,code,exc,err", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_scans_while_picking_change_nothing_and_are_audited(floor, label, code, exc, err):
    release(floor.store, "FO-1", [("SKU-0002", 2)])
    run = floor.picking.start(PICKER)
    run = floor.picking.scan(PICKER, run["run_id"], run["task"]["location"])   # now expecting the item
    before = snapshot(floor.store)
    with pytest.raises(exc):
        floor.picking.scan(PICKER, run["run_id"], code)
    assert snapshot(floor.store) == before
    assert audit_refusals(floor.store, "pick.scan")[0]["code"] == err


@pytest.mark.parametrize("qty", [0, -3, 1000, 10**12, "2.5", "ten", True])
def test_absurd_quantities_are_refused(floor, qty):
    release(floor.store, "FO-1", [("SKU-0002", 2)])
    run = floor.picking.start(PICKER)
    run = floor.picking.scan(PICKER, run["run_id"], run["task"]["location"])
    before = snapshot(floor.store)
    with pytest.raises(InvalidQuantity):
        floor.picking.scan(PICKER, run["run_id"], sku_gtin("SKU-0002"), qty=qty)
    with pytest.raises(InvalidQuantity):
        floor.receiving.receive(RECEIVER, sku_gtin("SKU-0002"), qty=qty)
    with pytest.raises(InvalidQuantity):
        floor.counting.submit(Actor("counter1", "counter"), run["task"]["location"], sku_gtin("SKU-0002"),
                              -1 if qty in (0, True) else qty if not isinstance(qty, int) or qty < 0 else 10**9)
    assert snapshot(floor.store) == before
    assert {r["code"] for r in audit_refusals(floor.store)} == {"invalid_quantity"}


def test_another_sites_order_is_not_found_here(floor):
    # LAX1's orders never reach this edge: any scan of one is refused as not ours
    with pytest.raises(NotFound, match="not an order or tote of site EWR1"):
        floor.packing.start(PACKER, "FO-LAX1-0001")
    with pytest.raises(NotFound, match="not an order of site EWR1"):
        floor.picking.start(PICKER, fo_id="FO-LAX1-0001")
    with pytest.raises(NotFound):
        floor.shipping.confirm(PACKER, "FO-LAX1-0001", "1Z1")
    assert [r["code"] for r in audit_refusals(floor.store)] == ["not_found"] * 3


def test_double_scan_within_the_debounce_window_is_refused_once(tmp_path, edge_store, catalog):
    from edge.seed import seed
    now = [100.0]
    cfg = edge_config(tmp_path).replace("devices", scan_debounce_ms=400)
    floor = Floor(cfg, edge_store, clock=lambda: now[0])
    seed(floor, catalog, users=False)
    release(floor.store, "FO-1", [("SKU-0002", 3)])
    run = floor.picking.start(PICKER)
    t = run["task"]
    run = floor.picking.scan(PICKER, run["run_id"], t["location"])
    run = floor.picking.scan(PICKER, run["run_id"], item_code(t))
    before = snapshot(floor.store)
    now[0] += 0.2
    with pytest.raises(DuplicateScan, match="within 400 ms"):
        floor.picking.scan(PICKER, run["run_id"], item_code(t))
    assert snapshot(floor.store) == before
    assert audit_refusals(floor.store, "pick.scan")[0]["code"] == "duplicate_scan"
    now[0] += 0.5   # a deliberate second unit after the window counts
    run = floor.picking.scan(PICKER, run["run_id"], item_code(t))
    assert run["task"]["picked"] == 2
    # another handheld is not debounced by this one
    other = Actor("picker1", "picker", device="hh-08")
    run = floor.picking.scan(other, run["run_id"], item_code(t))
    assert run.get("done")


def test_stale_task_after_a_cancel(floor):
    release(floor.store, "FO-1", [("SKU-0002", 1)])
    release(floor.store, "FO-2", [("SKU-0003", 1)])
    run = floor.picking.start(PICKER, method="batch")
    assert len(run["orders"]) == 2
    t = run["task"]
    down(floor.store, "order.cancelled", {"order_id": "O" + t["fo_id"], "fo_id": t["fo_id"], "reason": "x"})
    before = snapshot(floor.store)
    with pytest.raises(StaleTask, match=f"Order {t['fo_id']} cancelled"):
        floor.picking.scan(PICKER, run["run_id"], t["location"], task_id=t["task_id"])
    with pytest.raises(StaleTask):
        floor.picking.short(PICKER, run["run_id"], task_id=t["task_id"])
    with pytest.raises(StaleTask, match="is not a task"):
        floor.picking.scan(PICKER, run["run_id"], t["location"], task_id="'; DROP TABLE stock;--")
    assert snapshot(floor.store) == before
    assert [r["code"] for r in audit_refusals(floor.store)] == ["stale_task"] * 3
    fresh = floor.picking.view(PICKER, run["run_id"])
    assert fresh["task"]["fo_id"] != t["fo_id"]


def test_every_refusal_is_an_edge_error_with_a_next_step_in_the_api(floor):
    with pytest.raises(EdgeError) as info:
        floor.receiving.receive(RECEIVER, "A-01\x00", qty=1)
    assert info.value.next == "Scan again"
    assert floor.store.read(lambda c: db.audit_rows(c, ok=False))[0]["detail"].startswith('{"scan"')
