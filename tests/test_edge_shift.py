"""A full offline shift: 200 orders released by down events, then received, picked, packed, shipped
and counted with the WAN down. The outbox holds exactly the up events the floor produced, and
replaying their quantity semantics on central's starting balances gives the edge's own digest."""
from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict

from edge import store as db
from edge.services import Actor
from edge.sync_handlers import inventory_digest
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import down, outbox, pack_and_ship, pick_all, release, sku_gtin

ORDERS = 200


def central_on_hand(start: dict[str, int], events: list[dict]) -> dict[str, int]:
    """Apply the contract's quantity semantics (sync/core/events.py) for on_hand."""
    bal = defaultdict(int, start)
    for e in events:
        b, t = e["body"], e["type"]
        if t == "inventory.received" and not b["quarantine"]:
            bal[b["sku"]] += b["qty"]
        elif t == "shipment.shipped":
            for ln in b["lines"]:
                bal[ln["sku"]] -= ln["qty"]
        elif t == "pick.short":
            bal[b["sku"]] -= b["qty_short"]
        elif t == "inventory.adjusted":
            bal[b["sku"]] += b["delta"]
        elif t == "cycle_count.recorded":
            bal[b["sku"]] += b["counted"] - b["expected"]
        elif t == "transfer.shipped":
            for ln in b["lines"]:
                bal[ln["sku"]] -= ln["qty"]
        elif t == "transfer.received":
            for ln in b["lines"]:
                bal[ln["sku"]] += ln["qty"]
        elif t == "return.graded" and b["restocked"]:
            bal[b["sku"]] += b["qty"]
    return dict(bal)


def test_offline_shift_of_200_orders(floor):
    rng = random.Random(6)
    store = floor.store
    start = store.read(inventory_digest)
    skus = [f"SKU-{i:04d}" for i in range(1, 31) if i != 7]
    orders = {}
    for n in range(ORDERS):
        picks = rng.sample(skus, rng.choice((1, 1, 2, 3)))
        orders[f"FO-{n:04d}"] = [(s, rng.choice((1, 1, 2, 3))) for s in picks]
    for fo_id, lines in orders.items():
        release(store, fo_id, lines, urgent=rng.random() < 0.1)
    down(store, "order.cancelled", {"order_id": "OFO-0005", "fo_id": "FO-0005", "reason": "customer"})
    down(store, "order.hold", {"order_id": "OFO-0006", "fo_id": "FO-0006", "reason": "fraud review"})
    down(store, "receipt.expected", {"asn_id": "ASN-S", "supplier": "Acme", "lines": [{"sku": "SKU-0002", "qty": 50}]})

    receiver = Actor("receiver1", "receiver")
    r = floor.receiving.receive(receiver, sku_gtin("SKU-0002"), qty=50, asn_id="ASN-S")
    floor.receiving.put_away(receiver, r["receipt_id"], r["suggested_bin"])

    # four pickers work in parallel threads until no work is left
    errors = []

    def picker(name):
        a = Actor(name, "picker", device=name)
        try:
            for _ in range(400):
                run = floor.picking.start(a)
                if not run.get("run_id"):
                    return
                pick_all(floor, a, run)
        except Exception as exc:  # surfaced below
            errors.append(exc)
    threads = [threading.Thread(target=picker, args=(f"picker{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    statuses = store.read(db.fo_status_counts)
    assert statuses == {"picked": ORDERS - 2, "cancelled": 1, "on_hold": 1}

    packer = Actor("packer1", "packer")
    for fo_id in orders:
        if fo_id not in ("FO-0005", "FO-0006"):
            assert pack_and_ship(floor, packer, fo_id)["status"] == "shipped"
    counter = Actor("counter1", "counter")
    count_bins = store.read(lambda c: db.stock_by_sku(c, "SKU-0003"))[:1]
    for b in count_bins:
        floor.counting.submit(counter, b["location"], sku_gtin("SKU-0003"), b["qty"] - 1)
    assert store.read(db.fo_status_counts) == {"shipped": ORDERS - 2, "cancelled": 1, "on_hold": 1}

    events = outbox(store)
    types = Counter(e["type"] for e in events)
    shipped_orders = [f for f in orders if f not in ("FO-0005", "FO-0006")]
    tasks_done = store.read(lambda c: c.execute("SELECT COUNT(*) FROM pick_tasks WHERE status='done'").fetchone()[0])
    assert types == {"inventory.received": 1, "pick.confirmed": tasks_done, "pack.confirmed": ORDERS - 2,
                     "shipment.shipped": ORDERS - 2, "cycle_count.recorded": 1}
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events) and len({e["seq"] for e in events}) == len(events)
    shipped_units = Counter()
    for e in events:
        if e["type"] == "shipment.shipped":
            for ln in e["body"]["lines"]:
                shipped_units[ln["sku"]] += ln["qty"]
    ordered = Counter()
    for f in shipped_orders:
        for s, q in orders[f]:
            ordered[s] += q
    assert shipped_units == ordered
    assert {e["body"]["fo_id"] for e in events if e["type"] == "shipment.shipped"} == set(shipped_orders)
    assert all(e["merchant_id"] == "M-ACME" for e in events)
    # what central computes from these events equals what the edge holds
    digest = store.read(inventory_digest)
    assert central_on_hand(start, events) == digest
    assert digest["SKU-0002"] == start["SKU-0002"] + 50 - ordered["SKU-0002"]
