"""Edge and central sync nodes as separate processes for the fault tests.

    python -m tests.sync_procs edge --db X --site EWR1 --port P --events N [--rate R] [--catalog-seed S]
    python -m tests.sync_procs central --url URL --port P

Credentials come from the environment (FLOORSYNC_BROKER_USERNAME/PASSWORD). The edge commits a
deterministic workload (event i of site S is always the same SKU and delta) and resumes after a
restart from what it committed; crash points are armed by FLOORSYNC_CRASHPOINT[_AFTER]. Both run
until SIGTERM and stop cleanly.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from floorsync import config as config_mod  # noqa: E402
from floorsync import log  # noqa: E402


def workload(site: str, n: int, skus: list[str]) -> list[tuple[str, int]]:
    rng = random.Random(f"wl-{site}")
    return [(rng.choice(skus), rng.choice([1, 2, 3])) for _ in range(n)]


def committed(store) -> int:
    return store.read(lambda c: c.execute("SELECT count(*) FROM inventory_ledger WHERE ref LIKE 'w:%'").fetchone()[0])


def run_edge(args, stop: threading.Event) -> None:
    from edge import store as db
    from sync import edge_journal
    from sync.edge_node import EdgeSync
    from tests.fixtures_sync import LOC, MERCHANT, open_edge, small_catalog

    cfg = config_mod.load()
    cat = small_catalog(sites=tuple(args.sites.split(",")))
    store = open_edge(args.db, args.site, cat)
    sync = EdgeSync(cfg, store, lambda: {"printers_ok": True})
    sync.start()
    work = workload(args.site, args.events, [s["sku"] for s in cat["skus"]])
    i = committed(store)
    interval = 1.0 / args.rate if args.rate else 0.0
    next_t = time.monotonic()
    while i < len(work) and not stop.is_set():
        sku, delta = work[i]

        def fn(conn, i=i, sku=sku, delta=delta):
            env = edge_journal.emit(conn, "inventory.adjusted", {"sku": sku, "delta": delta, "reason": f"w{i}",
                                                                  "location": LOC}, merchant_id=MERCHANT)
            db.stock_add(conn, location=LOC, sku=sku, lot="", expiry=None, delta=delta, cause="adjustment",
                         ref=f"w:{i}:{env.event_id}", user="load")
        store.write(fn)
        i += 1
        if interval:
            next_t += interval
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    stop.wait()
    sync.stop()
    store.close()


def run_central(args, stop: threading.Event) -> None:
    from central.store import CentralStore
    from sync.central_node import CentralSync

    cfg = config_mod.load()
    store = CentralStore(args.url, pool_size=4)
    sync = CentralSync(cfg, store)
    sync.start()
    stop.wait()
    sync.stop()
    store.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["edge", "central"])
    p.add_argument("--db")
    p.add_argument("--url")
    p.add_argument("--site")
    p.add_argument("--sites", default="EWR1,LAX1,DFW1")
    p.add_argument("--events", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.0)
    args = p.parse_args()
    log.setup("json", os.environ.get("FLOORSYNC_GENERAL_LOG_LEVEL", "WARNING"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        (run_edge if args.role == "edge" else run_central)(args, stop)
    except Exception:  # noqa: BLE001
        logging.getLogger("sync_procs").exception("process failed")
        sys.exit(3)


if __name__ == "__main__":
    main()
