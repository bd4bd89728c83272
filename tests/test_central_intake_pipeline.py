"""Batched intake (group commit): many orders per transaction, one read round trip, one reservation
statement, one insert statement. These tests pin the semantics that must not change, on SQLite and
PostgreSQL: each reservation is all-or-nothing behind a conditional UPDATE per (SKU, site), rows are
locked in sorted order, every order of a batch gets its own answer, and nothing is ever oversold."""
from __future__ import annotations

import copy
import threading

from central.errors import Conflict, ValidationFailed
from central.ops import FloorOps, default_router
from central.services import CentralService
from central.store import CentralStore
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


def test_reservation_requests_are_granted_in_order_whole_or_not_at_all(central_store):
    """The batch reservation primitive: per (SKU, site) row, requests are granted in the order given
    while their running total fits; a refused request reserves nothing and reports the fresh balance."""
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    reqs = [("acme", "SKU-1", "EWR1", 4), ("acme", "SKU-1", "EWR1", 4), ("acme", "SKU-1", "EWR1", 4),
            ("acme", "SKU-1", "EWR1", 1), ("acme", "SKU-2", "EWR1", 4), ("acme", "NO-ROW", "EWR1", 1)]
    with central_store.transaction() as conn:
        got = central_store.reserve_requests(conn, reqs)
    assert [(g["won"], g["on_hand"], g["reserved"]) for g in got] == [
        (True, 10, 4), (True, 10, 8), (False, 10, 8), (False, 10, 8), (True, 4, 4), (False, None, 0)]
    assert inv(svc, "acme", "SKU-1")["EWR1"]["reserved"] == 8
    assert inv(svc, "acme", "SKU-2")["EWR1"]["reserved"] == 4
    with central_store.transaction() as conn:   # sold out: nothing more, never below zero
        again = central_store.reserve_requests(conn, [("acme", "SKU-2", "EWR1", 1)])
    assert [(g["won"], g["reserved"]) for g in again] == [(False, 4)]


def test_one_batch_places_each_order_on_its_own(central_store):
    """Six requests queued behind a busy writer form ONE batch: each gets its own answer (created,
    a twin replay, a conflicting replay, an unknown SKU, a held order) and the good ones commit together."""
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    gate, entered = threading.Event(), threading.Event()

    def blocker(conn):
        entered.set()
        assert gate.wait(30)
        return "blocker"

    first = threading.Thread(target=central_store.run_grouped, args=(blocker,))
    first.start()
    assert entered.wait(30)
    payloads = {"A": order_payload("B-1", [("SKU-1", 6)]), "B": order_payload("B-2", [("SKU-1", 6)]),
                "twin": order_payload("B-1", [("SKU-1", 6)]), "clash": order_payload("B-1", [("SKU-1", 1)]),
                "unknown": order_payload("B-3", [("NOPE", 1)]), "held": order_payload("B-4", [("SKU-2", 1)], hold=True)}
    results: dict[str, object] = {}

    def call(name):
        try:
            results[name] = svc.create_order("acme", payloads[name])
        except Exception as exc:  # noqa: BLE001 - the typed errors are asserted below
            results[name] = exc

    threads = []
    for k, name in enumerate(payloads):   # queued one after another: a fixed order inside the batch
        threads.append(threading.Thread(target=call, args=(name,)))
        threads[-1].start()
        for _ in range(300):
            if central_store._group.q.qsize() == k + 1:
                break
            threading.Event().wait(0.01)
    gate.set()
    for t in [first, *threads]:
        t.join(timeout=60)
    a, created_a = results["A"]
    b, created_b = results["B"]
    assert created_a and created_b and a["status"] == b["status"] == "released"
    assert sum(ln["qty_allocated"] for o in (a, b) for ln in o["lines"]) == 12
    twin, created_twin = results["twin"]
    assert not created_twin and twin["order_id"] == a["order_id"] and twin["lines"] == a["lines"]
    assert isinstance(results["clash"], Conflict) and results["clash"].fields == {
        "channel_order_id": "already used with a different body"}
    assert isinstance(results["unknown"], ValidationFailed) and results["unknown"].fields == {
        "lines[0].sku": "unknown SKU NOPE"}
    held, _ = results["held"]
    assert held["status"] == "on_hold" and held["fulfillment_orders"] == []
    assert [e["kind"] for e in svc.order_timeline("acme", a["order_id"])] == ["received", "routed", "allocated",
                                                                              "released"]
    stock = inv(svc, "acme", "SKU-1")
    assert stock["EWR1"]["reserved"] + stock["LAX1"]["reserved"] == 12 and inv(svc, "acme", "SKU-2")["EWR1"]["reserved"] == 0
    with central_store.read() as conn:
        assert central_store.count_rows(conn, "orders") == 3
    released = [e for site in ("EWR1", "LAX1") for e in outbox(central_store, site)]
    assert sorted(e.body["order_id"] for e in released) == sorted(
        fo_order for o in (a, b) for fo_order in [o["order_id"]] * len(o["fulfillment_orders"]))
    assert central_store.group_stats()["batches"] in (3, 4)   # the blocker, the six, the two replays (1 or 2)
    check = svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0


def test_two_writers_on_one_database_never_oversell(central_store):
    """Two stores (two writer threads, as two processes would have) batch concurrently against the same
    rows: no deadlock, no error, every unit of supply allocated exactly once, ledger consistent."""
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    other = CentralStore(central_store.url, pool_size=12)
    services = [svc, CentralService(other)]
    results, errors = [], []
    lock = threading.Lock()

    def worker(n):
        for k in range(5):
            skus = [["SKU-1", "SKU-2"], ["SKU-3", "SKU-1"], ["SKU-2", "SKU-3"]][(n + k) % 3]
            try:
                order, _ = services[n % 2].create_order("acme", order_payload(f"W-{n}-{k}", [(s, 1) for s in skus]))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                results.append(order)

    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        other.close()
    assert errors == [] and len(results) == 80
    for sku, supply in (("SKU-1", 15), ("SKU-2", 4), ("SKU-3", 2)):
        lines = [ln for o in results for ln in o["lines"] if ln["sku"] == sku]
        assert sum(ln["qty_allocated"] for ln in lines) == supply
        assert sum(ln["qty_backordered"] for ln in lines) == len(lines) - supply
    check = svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0


def test_the_same_order_sent_to_two_writers_is_created_once(central_store):
    """Replays racing through two stores (two writers, e.g. two API workers): the unique key lets one
    insert win; the losing batch re-runs its requests alone and they answer with the winner's order."""
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    other = CentralStore(central_store.url, pool_size=12)
    services = [svc, CentralService(other)]
    answers: dict[str, set] = {f"R-{k}": set() for k in range(6)}
    errors = []
    lock = threading.Lock()

    def worker(n):
        for k in range(6):
            try:
                order, _ = services[n % 2].create_order("acme", order_payload(f"R-{k}", [("SKU-1", 1)]))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                answers[f"R-{k}"].add(order["order_id"])

    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        other.close()
    assert errors == [] and all(len(ids) == 1 for ids in answers.values())
    with central_store.read() as conn:
        assert central_store.count_rows(conn, "orders") == 6
    stock = inv(svc, "acme", "SKU-1")
    assert stock["EWR1"]["reserved"] + stock["LAX1"]["reserved"] == 6
    check = svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0


def test_emit_many_takes_one_block_of_seqs_and_interleaves_with_single_emits(central_store):
    from sync import central_journal
    from sync.core.events import BodyError

    hold = {"order_id": "O-1", "fo_id": "FO-1", "reason": "fraud review"}
    with central_store.transaction() as conn:
        first = central_journal.emit_many(conn, "ZZZ1", [("order.hold", dict(hold, fo_id=f"FO-{i}"), "acme")
                                                         for i in range(3)])
        single = central_journal.emit(conn, "ZZZ1", "order.hold", hold, merchant_id="acme")
        more = central_journal.emit_many(conn, "ZZZ1", [("order.hold_released", {"order_id": "O-1", "fo_id": "FO-9"},
                                                         "acme")])
    assert [e.seq for e in first] == [1, 2, 3] and single.seq == 4 and [e.seq for e in more] == [5]
    assert len({e.event_id for e in first + [single] + more}) == 5
    rows = outbox(central_store, "ZZZ1", skip=())
    assert [(e.seq, e.type, e.body.get("fo_id")) for e in rows] == [
        (1, "order.hold", "FO-0"), (2, "order.hold", "FO-1"), (3, "order.hold", "FO-2"), (4, "order.hold", "FO-1"),
        (5, "order.hold_released", "FO-9")]
    # a body that breaks the contract writes nothing and takes no seq
    try:
        with central_store.transaction() as conn:
            central_journal.emit_many(conn, "ZZZ1", [("order.hold", hold, "acme"), ("order.hold", {"fo_id": 1}, "acme")])
    except BodyError:
        pass
    else:
        raise AssertionError("expected BodyError")
    with central_store.transaction() as conn:
        assert central_journal.emit(conn, "ZZZ1", "order.hold", hold, merchant_id="acme").seq == 6
