"""Order list at scale: 1,000,000 orders of one merchant; first page and filtered searches.

Measures server time of `GET /api/v1/orders` (Flask app in-process, auth + SQL + JSON) for the
first page, a status filter, a status + date-range filter, a channel-order-id prefix search and
the 10th page by cursor; baseline = the bare first-page SQL on the same database in the same run.

    .venv/bin/python bench/bench_central_orders_list.py [--quick] [--orders N] [--pg URL|auto]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from central.services import CentralService  # noqa: E402
from central.store import ORDER_COLS, CentralStore, _x  # noqa: E402
from central.web import create_app  # noqa: E402
from floorsync import config as config_mod  # noqa: E402

STATUSES = ["delivered"] * 50 + ["shipped"] * 30 + ["released"] * 10 + ["picking"] * 4 + ["backordered"] * 3 + \
           ["cancelled"] * 2 + ["exception"]


def fill(store: CentralStore, n: int, chunk: int = 20_000) -> float:
    rnd = random.Random(11)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    first = ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon", "Kay", "Lou", "Max", "Ned", "Ola",
             "Pat", "Quin", "Rae", "Sam", "Tia"]
    names = [f"{f} {ln}{k}" for f in first for ln in ("Lee", "Ray", "Moss", "Park", "Stone", "Wong", "Hill", "Roy",
                                                       "Diaz", "Khan") for k in range(250)]   # 50,000 customers
    t0 = time.perf_counter()
    made = 0
    while made < n:
        rows = []
        for i in range(made, min(n, made + chunk)):
            ts = (start + dt.timedelta(seconds=i * 31_536_000 // n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            rows.append({"order_id": f"O{i:012d}", "merchant_id": "big", "channel": rnd.choice(("web", "amazon")),
                         "channel_order_id": f"CH-{i:09d}", "status": rnd.choice(STATUSES), "held_from": None,
                         "service": rnd.choice(("ground", "ground", "two_day", "overnight")),
                         "ship_to": "{}", "ship_to_name": rnd.choice(names), "gift_message": None, "note": None,
                         "urgent": False, "replacement_of": None, "request_hash": "x", "units": 1 + i % 3,
                         "promised_date": ts[:10], "sites": "EWR1", "routing_log": "[]", "created_at": ts,
                         "updated_at": ts})
        with store.transaction() as conn:
            _x(conn, "order_insert", [{k: r[k] for k in ORDER_COLS} for r in rows])
        made += len(rows)
    store.analyze()
    return time.perf_counter() - t0


def timed(fn, reps: int) -> float:
    fn()
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def run(label: str, url: str, n: int, reps: int) -> list[dict]:
    store = CentralStore(url)
    store.drop_all()
    store.create_all()
    svc = CentralService(store)
    with store.transaction() as conn:
        store.upsert_merchant(conn, "big", "Big Merchant")
        _, key = store.create_api_key(conn, "big", "read")
    fill_s = fill(store, n)
    client = create_app(config_mod.load(env={}), store, service=svc).test_client()
    auth = {"Authorization": f"Bearer {key}"}

    def get(path):
        def call():
            r = client.get(path, headers=auth)
            assert r.status_code == 200, r.get_data(as_text=True)
            return r.get_json()
        return call

    first = get("/api/v1/orders?limit=50")
    page = first()
    cursor = page["next_cursor"]
    for _ in range(8):
        cursor = get(f"/api/v1/orders?limit=50&cursor={cursor}")()["next_cursor"]

    def raw_first():
        with store.read() as conn:
            conn.exec_driver_sql("SELECT order_id, status, created_at FROM orders WHERE merchant_id = 'big' "
                                 "ORDER BY created_at DESC, order_id DESC LIMIT 51").fetchall()

    baseline = timed(raw_first, reps)
    cases = {
        "first_page": "/api/v1/orders?limit=50",
        "status_filter": "/api/v1/orders?limit=50&status=exception",
        "status_and_dates": "/api/v1/orders?limit=50&status=cancelled&created_from=2025-03-01&created_to=2025-04-01",
        "search_prefix": f"/api/v1/orders?limit=50&q=CH-000{n // 2:06d}"[:-2],
        "search_name": "/api/v1/orders?limit=50&q=Fay%20Wong12",
        "page_10_cursor": f"/api/v1/orders?limit=50&cursor={cursor}",
    }
    rows = [{"name": f"orders_list_fill_{label}", "value": round(n / fill_s), "unit": "orders/s inserted",
             "baseline": None, "ratio": None, "detail": {"orders": n, "seconds": round(fill_s, 1)}}]
    for name, path in cases.items():
        ms = timed(get(path), reps)
        got = len(get(path)()["items"])
        rows.append({"name": f"orders_list_{name}_{label}", "value": round(ms, 2), "unit": "ms (median, server)",
                     "baseline": round(baseline, 2), "ratio": round(ms / baseline, 2),
                     "detail": {"orders": n, "items": got, "path": path, "limit_ms": 300}})
    store.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="100,000 orders (< 60 s)")
    ap.add_argument("--orders", type=int, default=None)
    ap.add_argument("--pg", default=None,
                    help="also run on PostgreSQL: a URL, or `auto` for a throwaway cluster (initdb on loopback)")
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    n = args.orders or (100_000 if args.quick else 1_000_000)
    import logging
    logging.disable(logging.WARNING)
    tmp = tempfile.mkdtemp(prefix="floorsync-bench-")
    try:
        for row in run("sqlite", f"sqlite:///{tmp}/central.db", n, args.reps):
            print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.pg:
        import contextlib

        from bench_central_flash_sale import throwaway_postgres
        with (throwaway_postgres() if args.pg == "auto" else contextlib.nullcontext(args.pg)) as url:
            for row in run("postgres", url, n, args.reps):
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
