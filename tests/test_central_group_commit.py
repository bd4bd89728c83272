"""Group commit (on by default), on SQLite AND PostgreSQL: concurrent requests share one transaction, a
failing request rolls back only its own savepoint (``run_grouped``) or gets its own answer (intake's
set-based ``run_batched``), a flash sale through it still never oversells (checked against the ledger),
and with group commit off each order is the same placement as a batch of one in its own transaction."""
from __future__ import annotations

import copy
import threading

import pytest

from central.errors import ValidationFailed
from central.services import CentralService
from central.store import CentralStore
from tests.fixtures_central import *  # noqa: F401,F403
from tests.fixtures_central import CATALOG, _fresh, inv, order_payload, outbox


@pytest.fixture(params=["sqlite", "postgres"])
def grouped(request, tmp_path):
    url = (f"sqlite:///{tmp_path}/central.db" if request.param == "sqlite"
           else request.getfixturevalue("central_pg_url"))
    store = _fresh(CentralStore(url, group_commit=True, pool_size=40))
    yield store
    store.close()


def _alerts(store: CentralStore) -> list[str]:
    with store.read() as conn:
        return sorted(a["message"] for a in store.list_alerts(conn, "acme"))


def test_a_failing_request_does_not_poison_its_batch(grouped):
    store = grouped
    CentralService(store).seed_catalog(copy.deepcopy(CATALOG))
    gate = threading.Event()
    entered = threading.Event()

    def blocker(conn):      # holds the writer so the next requests queue up and share one batch
        entered.set()
        assert gate.wait(30)
        store.add_alert(conn, "acme", "test", "blocker")
        return "blocker"

    def job(n):
        def fn(conn):
            store.add_alert(conn, "acme", "test", f"job-{n:02d}")   # written, then maybe rolled back
            if n in (3, 7):
                raise ValidationFailed(f"job {n} refused", {"n": "refused"})
            return n
        return fn

    results: dict[int, object] = {}

    def call(n, fn):
        try:
            results[n] = store.run_grouped(fn)
        except ValidationFailed as exc:
            results[n] = exc.fields

    first = threading.Thread(target=call, args=(-1, blocker))
    first.start()
    assert entered.wait(30)
    threads = [threading.Thread(target=call, args=(n, job(n))) for n in range(10)]
    for t in threads:
        t.start()
    deadline = 50
    while store._group.q.qsize() < 10 and deadline:   # all ten queued behind the blocker
        threading.Event().wait(0.1)
        deadline -= 1
    gate.set()
    for t in [first, *threads]:
        t.join(timeout=60)
    assert results == {-1: "blocker", **{n: n for n in range(10) if n not in (3, 7)},
                       3: {"n": "refused"}, 7: {"n": "refused"}}
    assert _alerts(store) == ["blocker"] + [f"job-{n:02d}" for n in range(10) if n not in (3, 7)]
    assert store.group_stats() == {"batches": 2, "requests": 11}   # the blocker alone, then all ten together


def test_flash_sale_through_group_commit_never_oversells(grouped):
    svc = CentralService(grouped)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    results, errors = [], []
    lock = threading.Lock()

    def worker(n):
        for k in range(4):
            lines = [("SKU-1", 1)] if k != 3 else [("SKU-1", 1), ("NOPE", 1)]   # every 4th: unknown SKU
            try:
                order, _ = svc.create_order("acme", order_payload(f"G-{n}-{k}", lines))
            except ValidationFailed as exc:
                with lock:
                    errors.append(exc.fields)
                continue
            with lock:
                results.append(order)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 48 and errors == [{"lines[1].sku": "unknown SKU NOPE"}] * 16
    allocated = sum(ln["qty_allocated"] for o in results for ln in o["lines"])
    backordered = sum(ln["qty_backordered"] for o in results for ln in o["lines"])
    assert (allocated, backordered) == (15, 33)          # 10 at EWR1 + 5 at LAX1, the rest backordered
    stock = inv(svc, "acme", "SKU-1")
    assert (stock["EWR1"]["reserved"], stock["LAX1"]["reserved"]) == (10, 5)
    check = svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0
    released = [e for site in ("EWR1", "LAX1") for e in outbox(grouped, site)]
    assert len(released) == sum(len(o["fulfillment_orders"]) for o in results) == 15
    for site in ("EWR1", "LAX1"):   # down seqs per site strictly increasing, never reused
        seqs = [e.seq for e in outbox(grouped, site, skip=())]
        assert seqs == sorted(set(seqs))
    stats = grouped.group_stats()
    assert stats["requests"] >= 48 and stats["batches"] <= stats["requests"]
    with grouped.read() as conn:
        assert grouped.count_rows(conn, "orders") == 48


@pytest.fixture(params=["sqlite", "postgres"])
def ungrouped(request, tmp_path):
    url = (f"sqlite:///{tmp_path}/central.db" if request.param == "sqlite"
           else request.getfixturevalue("central_pg_url"))
    store = _fresh(CentralStore(url, group_commit=False))
    yield store
    store.close()


def test_without_group_commit_each_order_is_a_batch_of_one(ungrouped):
    from central.errors import Conflict

    svc = CentralService(ungrouped)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    order, created = svc.create_order("acme", order_payload("U-1", [("SKU-1", 11), ("SKU-2", 1)]))
    assert created and order["status"] == "released"
    assert {ln["sku"]: (ln["qty_allocated"], ln["qty_backordered"]) for ln in order["lines"]} == {
        "SKU-1": (11, 0), "SKU-2": (1, 0)}
    again, created = svc.create_order("acme", order_payload("U-1", [("SKU-1", 11), ("SKU-2", 1)]))
    assert not created and again["order_id"] == order["order_id"]
    with pytest.raises(Conflict):
        svc.create_order("acme", order_payload("U-1", [("SKU-1", 1)]))
    with pytest.raises(ValidationFailed):
        svc.create_order("acme", order_payload("U-2", [("NOPE", 1)]))
    short, _ = svc.create_order("acme", order_payload("U-3", [("SKU-1", 5)]))   # 4 left: 4 allocated, 1 backordered
    assert short["lines"][0]["qty_allocated"] == 4 and short["backorders"][0]["qty"] == 1
    assert ungrouped.group_stats() == {"batches": 0, "requests": 0}
    with ungrouped.read() as conn:
        assert ungrouped.count_rows(conn, "orders") == 2
    check = svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0
