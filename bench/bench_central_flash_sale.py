"""Flash sale: N orders from 16 concurrent clients against 100 SKUs with limited stock at 3 sites.

Prints JSON lines {"name","value","unit","baseline","ratio"}: accepted+allocated orders/s next to
the bare conditional-UPDATE reservation rate measured on the same database in the same run, and
the oversold units recomputed from the ledger (must be 0). Runs on SQLite, and on PostgreSQL
when `--pg URL` is given or a throwaway cluster can be started (`initdb` installed).

    .venv/bin/python bench/bench_central_flash_sale.py [--quick] [--orders N] [--clients 16] [--procs 2]
                                                       [--pg URL|--no-pg] [--no-sqlite]

Clients call the central service in-process (intake = validation, idempotency check, routing,
conditional-UPDATE reservations, ledger, fulfillment orders, down events, timeline; no HTTP),
spread over one OS process per core so the GIL does not cap the run at one core. Intake runs with
group commit (``--group-commit``): each process's writer thread places the queued orders as one batch.

Besides orders/s, the detail reports CPU per order: the client processes' CPU and (for the throwaway
cluster) the PostgreSQL server's CPU (postmaster and backends, from /proc), the 1-minute load average,
and ``cpu_bound_orders_per_s`` = cores / (client + server CPU per order): the rate this run's work
allows on an otherwise idle machine (the wall-clock rate drops when other work shares the cores).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from central.services import CentralService  # noqa: E402
from central.store import CentralStore  # noqa: E402

SITES = [("EWR1", "Newark", "NJ", "07102", 40.7357, -74.1724, "America/New_York"),
         ("ORD1", "Chicago", "IL", "60607", 41.8742, -87.6529, "America/Chicago"),
         ("LAX1", "Los Angeles", "CA", "90021", 34.0289, -118.2387, "America/Los_Angeles")]
ZIPS = ["10118", "02110", "78701", "60601", "94103", "98101", "30303", "33101", "80202", "19103"]


def catalog(skus: int, per_site: int) -> dict:
    return {
        "merchant_id": "flash", "merchant_name": "Flash Sale Inc",
        "skus": [{"sku": f"F-{i:03d}", "description": f"Deal {i}", "weight_g": 300, "length_mm": 200,
                  "width_mm": 100, "height_mm": 50} for i in range(skus)],
        "sites": [{"site_id": s, "name": n, "line1": "1 Dock Rd", "city": n, "region": r, "postal_code": z,
                   "country": "US", "lat": la, "lon": lo, "timezone": tz,
                   "cutoffs": {"ground": "23:59", "two_day": "23:59", "overnight": "23:59"},
                   "holiday_country": "US", "capabilities": ["each"], "capacity_per_day": 0}
                  for s, n, r, z, la, lo, tz in SITES],
        "stock": [{"site_id": s[0], "sku": f"F-{i:03d}", "qty": per_site} for s in SITES for i in range(skus)],
    }


def orders(n: int, skus: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        picked = rnd.sample(range(skus), rnd.choice((1, 1, 2, 3)))
        out.append({"channel": "flash", "channel_order_id": f"FS-{i:06d}",
                    "ship_to": {"name": f"Buyer {i}", "line1": f"{i} Main St", "city": "Anytown",
                                "postal_code": rnd.choice(ZIPS), "country": "US"},
                    "lines": [{"sku": f"F-{k:03d}", "qty": rnd.choice((1, 1, 2))} for k in picked]})
    return out


def run_clients(n_clients: int, work: list, fn, time_limit_s: float) -> tuple[int, float, list]:
    """Run fn(item) over work with n_clients threads; bounded by count and time."""
    idx = [0]
    lock = threading.Lock()
    done = [0]
    errors: list = []
    deadline = time.monotonic() + time_limit_s

    def client():
        while time.monotonic() < deadline:
            with lock:
                if idx[0] >= len(work):
                    return
                item = work[idx[0]]
                idx[0] += 1
            try:
                fn(item)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(repr(exc))
                continue
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=client) for _ in range(n_clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0], time.perf_counter() - t0, errors


def raw_update_rate(store: CentralStore, n_clients: int, n_updates: int, time_limit_s: float) -> float:
    """The bare conditional UPDATE (one reservation per transaction) on the same table, then undone."""
    rnd = random.Random(3)
    work = [(f"F-{rnd.randrange(100):03d}", SITES[rnd.randrange(3)][0]) for _ in range(n_updates)]

    def one(item):
        sku, site = item
        with store.transaction() as conn:
            store.try_reserve(conn, "flash", sku, site, 1)

    done, secs, _ = run_clients(n_clients, work, one, time_limit_s)
    with store.transaction() as conn:   # undo: the sale starts from clean balances
        conn.exec_driver_sql("UPDATE inventory SET reserved = 0 WHERE merchant_id = 'flash'")
    return done / secs


def _client_process(url: str, work: list, n_threads: int, ready, go, results, time_limit_s: float,
                    group_commit: bool | None = None) -> None:
    """One OS process of clients (the GIL caps one process at one core): n_threads concurrent clients."""
    import logging

    logging.disable(logging.WARNING)
    store = CentralStore(url, pool_size=n_threads + 2, group_commit=group_commit)
    svc = CentralService(store)
    svc.create_order("flash", work[0])        # warm caches (routing network, sites, SKUs)
    stats = {"released": 0, "backordered": 0}
    lock = threading.Lock()

    def place(payload):
        order, _ = svc.create_order("flash", payload, actor="bench")
        with lock:
            stats["released" if order["status"] == "released" else "backordered"] += 1

    ready.put(1)
    go.wait()
    cpu0 = time.process_time()
    done, secs, errors = run_clients(n_threads, work[1:], place, time_limit_s)
    cpu_s = time.process_time() - cpu0
    group = store.group_stats()
    store.close()
    results.put({"done": done + 1, "cpu_s": cpu_s, "errors": errors[:3], "n_errors": len(errors), **stats, **group})


def server_cpu_s(datadir: str | None) -> float | None:
    """CPU seconds used so far by a local PostgreSQL cluster: the postmaster (its own time plus that of
    the backends it reaped) and every live child process. None when the cluster is not ours to read."""
    if not datadir:
        return None
    try:
        with open(os.path.join(datadir, "postmaster.pid")) as fh:
            master = int(fh.readline())
        tck = os.sysconf("SC_CLK_TCK")

        def fields(pid: int) -> list[str]:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()

        f = fields(master)
        ticks = sum(int(x) for x in f[11:15])          # utime stime cutime cstime
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != master:
                try:
                    c = fields(int(pid))
                except OSError:
                    continue
                if int(c[1]) == master:               # ppid
                    ticks += int(c[11]) + int(c[12])
        return ticks / tck
    except (OSError, ValueError):
        return None


def bench(label: str, url: str, n_orders: int, n_clients: int, n_procs: int, time_limit_s: float,
          group_commit: bool | None = None, pg_datadir: str | None = None) -> list[dict]:
    import multiprocessing as mp

    store = CentralStore(url, pool_size=n_clients + 4)
    store.drop_all()
    store.create_all()
    svc = CentralService(store)
    per_site = max(2, round(n_orders * 0.003))   # supply ~40% of demand: a real sell-out
    svc.seed_catalog(catalog(100, per_site))
    baseline = raw_update_rate(store, n_clients, min(4000, n_orders), time_limit_s)
    work = orders(n_orders, 100)
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    slices = [work[i::n_procs] for i in range(n_procs)]
    threads_per = [n_clients // n_procs + (1 if i < n_clients % n_procs else 0) for i in range(n_procs)]
    procs = [ctx.Process(target=_client_process, args=(url, sl, tp, ready, go, results, time_limit_s, group_commit))
             for sl, tp in zip(slices, threads_per)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    srv0 = server_cpu_s(pg_datadir)
    t0 = time.perf_counter()
    go.set()
    outs = [results.get(timeout=time_limit_s + 120) for _ in procs]
    secs = time.perf_counter() - t0
    srv1 = server_cpu_s(pg_datadir)
    load = os.getloadavg()
    for p in procs:
        p.join(timeout=60)
    done = sum(o["done"] for o in outs)
    check = svc.verify_ledger()
    with store.read() as conn:
        units_reserved = sum(r["reserved"] for r in store.all_inventory(conn))
        orders_in_db = store.count_rows(conn, "orders")
    store.close()
    rate = (done - n_procs) / secs      # the warm-up order of each process is not timed
    client_ms = 1000 * sum(o["cpu_s"] for o in outs) / max(1, done - n_procs)
    server_ms = None if srv0 is None or srv1 is None else 1000 * (srv1 - srv0) / max(1, done - n_procs)
    cores = os.cpu_count() or 1
    if server_ms is None:   # SQLite: all the work is in the client processes (one for SQLite)
        cores = min(cores, n_procs)
    rows = [
        {"name": f"flash_sale_orders_per_s_{label}", "value": round(rate, 1), "unit": "orders/s",
         "baseline": round(baseline, 1), "ratio": round(rate / baseline, 3),
         "detail": {"orders": done, "orders_in_db": orders_in_db, "seconds": round(secs, 2), "clients": n_clients,
                    "processes": n_procs,
                    "client_cpu_ms_per_order": round(client_ms, 3),
                    "server_cpu_ms_per_order": None if server_ms is None else round(server_ms, 3),
                    # what the machine's cores could do if this run had them to itself (shared machines)
                    "cpu_bound_orders_per_s": round(1000 * cores / (client_ms + (server_ms or 0)), 1),
                    "load_avg_1m": round(load[0], 2),
                    "released": sum(o["released"] for o in outs),
                    "backordered_only": sum(o["backordered"] for o in outs),
                    "errors": sum(o["n_errors"] for o in outs), "units_reserved": units_reserved,
                    "supply_units": per_site * 300,
                    "group_commit": {"batches": sum(o["batches"] for o in outs),
                                     "requests": sum(o["requests"] for o in outs)},
                    "baseline_is": "one conditional UPDATE per transaction, same clients, same table"}},
        {"name": f"flash_sale_oversold_units_{label}", "value": check["oversold_units"], "unit": "units",
         "baseline": 0, "ratio": None, "detail": {"ledger_mismatches": len(check["mismatches"]),
                                                 "balances": check["rows"]}},
    ]
    errs = [e for o in outs for e in o["errors"]]
    if errs:
        rows[0]["detail"]["first_error"] = errs[0][:300]
    return rows


@contextlib.contextmanager
def throwaway_postgres():
    """A throwaway cluster on loopback (tests/pgcluster.py, as the test fixtures use); None without PostgreSQL."""
    from tests.pgcluster import PgCluster, pg_bindir

    if pg_bindir() is None:
        yield None, None
        return
    with PgCluster("max_connections=100", "synchronous_commit=off", prefix="floorsync-bench-pg-") as pg:
        yield pg.createdb("bench"), pg.datadir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,500 orders per database (< 60 s)")
    ap.add_argument("--orders", type=int, default=None)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 2,
                    help="client processes for PostgreSQL (default: one per core); SQLite always uses one "
                         "process (one writer per SQLite file)")
    ap.add_argument("--pg", default=None, help="PostgreSQL URL to use instead of a throwaway cluster")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    ap.add_argument("--group-commit", choices=("auto", "on", "off"), default="auto",
                    help="intake group commit (auto: the store's default, on; off: one transaction per order)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per phase, at most")
    args = ap.parse_args()
    n = args.orders or (1500 if args.quick else 10_000)
    gc = {"auto": None, "on": True, "off": False}[args.group_commit]
    import logging
    logging.disable(logging.WARNING)
    tmp = tempfile.mkdtemp(prefix="floorsync-bench-")
    try:
        for row in [] if args.no_sqlite else bench("sqlite", f"sqlite:///{tmp}/central.db", n, args.clients, 1, args.time_limit, gc):
            print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.no_pg:
        return
    with (contextlib.nullcontext((args.pg, None)) if args.pg else throwaway_postgres()) as (url, datadir):
        if url is None:
            print(json.dumps({"name": "flash_sale_postgres", "value": None, "unit": "skipped", "baseline": None,
                              "ratio": None, "detail": "PostgreSQL not installed"}))
            return
        for row in bench("postgres", url, n, args.clients, args.procs, args.time_limit, gc, datadir):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
