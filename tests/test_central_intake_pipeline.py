"""Intake round trips on PostgreSQL: prefetch (duplicate lookup + stock) and the per-line reservations
are pipelined. These tests pin the semantics that must not change, on SQLite and PostgreSQL:
each (SKU, site) is still its own all-or-nothing conditional UPDATE, locked in sorted order."""
from __future__ import annotations

import copy
import threading

from central.ops import FloorOps, default_router
from central.services import CentralService
from tests.fixtures_central import *  # noqa: F401,F403
from tests.fixtures_central import CATALOG, inv, order_payload, outbox

SUPPLY = {("SKU-1", "EWR1"): 10, ("SKU-1", "LAX1"): 5, ("SKU-2", "EWR1"): 4, ("SKU-3", "LAX1"): 2}


def test_concurrent_multi_line_orders_never_oversell_or_deadlock(svc):
    """24 threads x 4 orders, each for SKU-1, SKU-2 and SKU-3 (lines listed in varying order)."""
    results, errors = [], []
    lock = threading.Lock()
    orders_ = [["SKU-1", "SKU-2", "SKU-3"], ["SKU-3", "SKU-2", "SKU-1"], ["SKU-2", "SKU-1", "SKU-3"]]

    def worker(n):
        for k in range(4):
            skus = orders_[(n + k) % 3]
            try:
                order, _ = svc.create_order("acme", order_payload(f"M-{n}-{k}", [(s, 1) for s in skus]))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                results.append(order)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(results) == 96
    for sku, supply in (("SKU-1", 15), ("SKU-2", 4), ("SKU-3", 2)):
        lines = [ln for o in results for ln in o["lines"] if ln["sku"] == sku]
        assert sum(ln["qty_allocated"] for ln in lines) == supply
        assert sum(ln["qty_backordered"] for ln in lines) == 96 - supply
    for (sku, site), supply in SUPPLY.items():
        assert inv(svc, "acme", sku)[site]["reserved"] == supply
    released = [e for site in ("EWR1", "LAX1") for e in outbox(svc.store, site)
                if e.type == "fulfillment_order.released"]
    assert len(released) == sum(len(o["fulfillment_orders"]) for o in results)
    check = svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0


def test_a_line_losing_its_reservation_is_rerouted_while_the_others_keep_theirs(central_store):
    """The first routing is told SKU-3 is at EWR1 (it is not): that line's UPDATE matches nothing,
    the SKU-2 line reserved in the same batch stays reserved, and SKU-3 re-routes to LAX1."""
    real = default_router()
    calls = []

    def lying_router(**kw):
        calls.append(dict(kw["available"]))
        if len(calls) == 1:
            kw["available"] = {("SKU-2", "EWR1"): 4, ("SKU-3", "EWR1"): 2}
        return real(**kw)

    svc = CentralService(central_store, ops=FloorOps(central_store, router=lying_router))
    svc.seed_catalog(copy.deepcopy(CATALOG))
    order, created = svc.create_order("acme", order_payload("P-1", [("SKU-2", 1), ("SKU-3", 2)]))
    assert created and order["status"] == "released"
    assert len(calls) == 2 and calls[1] == {("SKU-3", "EWR1"): 0, ("SKU-3", "LAX1"): 2}
    by_sku = {ln["sku"]: ln for ln in order["lines"]}
    assert (by_sku["SKU-2"]["qty_allocated"], by_sku["SKU-3"]["qty_allocated"]) == (1, 2)
    assert sorted((fo["site_id"], [ln["sku"] for ln in fo["lines"]]) for fo in order["fulfillment_orders"]) == [
        ("EWR1", ["SKU-2"]), ("LAX1", ["SKU-3"])]
    assert inv(svc, "acme", "SKU-2")["EWR1"]["reserved"] == 1
    assert inv(svc, "acme", "SKU-3")["LAX1"]["reserved"] == 2
    again, created = svc.create_order("acme", order_payload("P-1", [("SKU-2", 1), ("SKU-3", 2)]))
    assert not created and again["order_id"] == order["order_id"]
    check = svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0
