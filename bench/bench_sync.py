"""Sync benchmarks through a real Mosquitto (generated config) into a SQLite central database.

- raw paho QoS 1 publish throughput through the same broker (baseline, msg/s);
- applied events/s edge -> central (outbox pump, batching, inbox + central's real handler);
- the same with a no-op handler (what the sync layer itself costs: inbox rows, cursor, acks);
- catch-up: N events queued during an outage drain after reconnect;
- online latency edge commit -> central applied, p50/p99 at 200 events/s.

Edge and central run in this one process (threads), so besides wall-clock rates each drain reports
CPU per event: the whole process (edge + central + both paho loops; the broker is another process)
and central alone (its sync worker and its paho network thread, per-thread CPU clocks). The raw
baseline is the best of three runs (the harshest honest baseline) with payloads the size of one
encoded envelope.

    .venv/bin/python bench/bench_sync.py [--quick]
"""
from __future__ import annotations

import itertools
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from common import emit, parse_args, percentile

from floorsync.log import setup as log_setup


def raw_qos1(port: int, user: str, password: str, n: int, size: int = 200) -> float:
    import paho.mqtt.client as mqtt

    done = threading.Event()
    acked = [0]

    def on_publish(client, userdata, mid, rc=None, props=None):
        acked[0] += 1
        if acked[0] >= n:
            done.set()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTv311)
    c.username_pw_set(user, password)
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    c.on_publish = on_publish
    c.connect("127.0.0.1", port)
    c.loop_start()
    payload = b"x" * size
    t0 = time.perf_counter()
    for _ in range(n):
        c.publish("floorsync/v1/EWR1/up/bench", payload, qos=1)
    done.wait(timeout=120)
    dt = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return acked[0] / dt


def commit_bulk(estore, n: int, chunk: int = 1000) -> None:
    from edge import store as db
    from sync import edge_journal
    from tests.fixtures_sync import LOC, MERCHANT

    for start in range(0, n, chunk):
        def fn(conn, k=min(chunk, n - start)):
            for i in range(k):
                edge_journal.emit(conn, "inventory.adjusted", {"sku": "SKU-0001", "delta": 1, "reason": "bench",
                                                                "location": LOC}, merchant_id=MERCHANT)
            db.stock_add(conn, location=LOC, sku="SKU-0001", lot="", expiry=None, delta=k, cause="adjustment",
                         ref="bench", user="bench")
        estore.write(fn)


_RUN_IDS = itertools.count(1)


def _proc_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _thread_cpu(threads) -> float:
    total = 0.0
    for th in threads:
        if th is not None and th.ident is not None and th.is_alive():
            try:
                total += time.clock_gettime(time.pthread_getcpuclockid(th.ident))
            except (OSError, ProcessLookupError):
                pass
    return total


def envelope_size() -> int:
    """Bytes of one encoded inventory.adjusted envelope as the edge sends it (raw baseline payload size)."""
    from sync.core.envelope import encode_batch
    from tests.fixtures_sync import LOC, MERCHANT

    from sync.core.envelope import Envelope, new_event_id, utc_now_iso
    env = Envelope(1, new_event_id(), MERCHANT, "EWR1", "up", 123456, new_event_id(), "inventory.adjusted",
                   utc_now_iso(), {"sku": "SKU-0001", "delta": 1, "reason": "bench", "location": LOC})
    return len(encode_batch([env] * 100)) // 100


def run_drain(broker, tmp: Path, n: int, *, noop: bool, deadline_s: float, stats: dict | None = None,
              on_start=None, url: str | None = None) -> tuple[int, float]:
    """Queue n events on an offline edge, then connect both sides; returns (applied, seconds).
    ``stats`` receives process and central CPU seconds spent during the drain."""
    from sync.central_node import CentralSync
    from sync.edge_node import EdgeSync
    from tests.fixtures_sync import open_central, open_edge, small_catalog

    cat = small_catalog(("EWR1",))
    tag = f"{n}-{noop}-{next(_RUN_IDS)}"   # fresh databases for every run (an edge DB must meet its own central)
    cstore = open_central(url or f"sqlite:///{tmp}/central-{tag}.db", cat)
    estore = open_edge(tmp / f"edge-{tag}.db", "EWR1", cat)
    commit_bulk(estore, n)
    central = CentralSync(broker.cfg("central"), cstore, apply_fn=(lambda conn, env: None) if noop else None)
    central.start()
    edge = EdgeSync(broker.cfg("EWR1"), estore, digest_fn=False)
    central_threads = [central._thread, central.transport.client._thread]
    if on_start:
        on_start()
    cpu0, ccpu0 = _proc_cpu(), _thread_cpu(central_threads)
    t0 = time.perf_counter()
    edge.start()
    applied = 0
    try:
        while time.perf_counter() - t0 < deadline_s:
            # the worker's own counter (moved after each commit): status() would run a query per poll
            st = central.sites.get("EWR1")
            applied = st.counters["applied"] if st is not None else 0
            if applied >= n:
                break
            time.sleep(0.01)
        dt = time.perf_counter() - t0
        if stats is not None:
            stats["process_cpu_s"] = _proc_cpu() - cpu0
            stats["central_cpu_s"] = _thread_cpu(central_threads) - ccpu0
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()
    return applied, dt


def run_latency(broker, tmp: Path, rate: float, seconds: float) -> list[float]:
    from sync.central_node import CentralSync
    from sync.edge_node import EdgeSync
    from tests.fixtures_sync import MERCHANT, edge_adjust, open_central, open_edge, small_catalog

    cat = small_catalog(("EWR1",))
    cstore = open_central(f"sqlite:///{tmp}/central-lat.db", cat)
    estore = open_edge(tmp / "edge-lat.db", "EWR1", cat)
    applied_at: dict[str, float] = {}

    central = CentralSync(broker.cfg("central"), cstore)
    inner = central.apply_batch

    def timed_batch(conn, envs):   # the production path, timestamped as each run is applied
        out = inner(conn, envs)
        now = time.perf_counter()
        for env in envs:
            applied_at[env.event_id] = now
        return out
    central.apply_batch = timed_batch
    edge = EdgeSync(broker.cfg("EWR1"), estore, digest_fn=False)
    central.start()
    edge.start()
    committed: dict[str, float] = {}
    try:
        time.sleep(1.0)
        interval = 1.0 / rate
        t_next = time.perf_counter()
        end = t_next + seconds
        while time.perf_counter() < end:
            env = edge_adjust(estore, MERCHANT, "SKU-0002", 1)
            committed[env.event_id] = time.perf_counter()
            t_next += interval
            time.sleep(max(0.0, t_next - time.perf_counter()))
        deadline = time.perf_counter() + 30
        while len(applied_at) < len(committed) and time.perf_counter() < deadline:
            time.sleep(0.05)
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()
    return [(applied_at[e] - t) * 1000 for e, t in committed.items() if e in applied_at]


def drain_row(name: str, broker, tmp: Path, n: int, *, noop: bool, deadline_s: float, raw: float | None,
              url: str | None = None, **extra) -> dict:
    stats: dict = {}
    applied, dt = run_drain(broker, tmp, n, noop=noop, deadline_s=deadline_s, stats=stats, url=url)
    per = max(applied, 1)
    return emit(name, applied / dt, "events/s", raw, events=applied, seconds=round(dt, 2),
                process_cpu_us_per_event=round(stats["process_cpu_s"] / per * 1e6, 1),
                central_cpu_us_per_event=round(stats["central_cpu_s"] / per * 1e6, 1), **extra)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], lambda ap: ap.add_argument(
        "--no-pg", action="store_true", help="skip the PostgreSQL-central row"))
    log_setup("json", "ERROR")
    logging.getLogger().setLevel(logging.ERROR)
    from tests.fixtures_sync import Broker

    q = args.quick
    n_thru = 5000 if q else 20000
    n_catch = 10000 if q else 100000
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as d:
        tmp = Path(d)
        broker = Broker(tmp / "broker", ["EWR1"]).start()
        try:
            size = envelope_size()
            runs = [raw_qos1(broker.port, "EWR1", broker.creds["EWR1"], 5000 if q else 20000, size) for _ in range(3)]
            raw = max(runs)
            emit("raw_paho_qos1_publish", raw, "msg/s", None, payload_bytes=size, runs=[round(r) for r in runs],
                 load_avg=os.getloadavg()[0])
            drain_row("sync_applied_events_per_s_real_handler", broker, tmp, n_thru, noop=False,
                      deadline_s=40 if q else 120, raw=raw, target_min=3000, target_ratio=0.5)
            drain_row("sync_applied_events_per_s_noop_handler", broker, tmp, n_thru, noop=True,
                      deadline_s=30 if q else 60, raw=raw)
            stats: dict = {}
            applied, dt = run_drain(broker, tmp, n_catch, noop=False, deadline_s=40 if q else 90, stats=stats)
            emit("catchup_drain_s_real_handler", dt, "s", None, events=applied, queued=n_catch, target_max_s=30,
                 rate=round(applied / dt, 1), process_cpu_us_per_event=round(stats["process_cpu_s"] / max(applied, 1) * 1e6, 1),
                 central_cpu_us_per_event=round(stats["central_cpu_s"] / max(applied, 1) * 1e6, 1))
            if not args.no_pg:
                from tests.pgcluster import PgCluster, pg_bindir

                if pg_bindir() is not None:   # same drain into a PostgreSQL central (informative; the target is SQLite)
                    with PgCluster("max_connections=100", "synchronous_commit=off", prefix="floorsync-bench-pg-") as pg:
                        drain_row("sync_applied_events_per_s_real_handler_postgresql", broker, tmp, n_thru, noop=False,
                                  deadline_s=60 if q else 120, raw=raw, url=pg.createdb("bench_sync"))
            lat = run_latency(broker, tmp, 200.0, 5 if q else 20)
            p50, p99 = percentile(lat, 50), percentile(lat, 99)
            emit("online_latency_p99_at_200_per_s", p99, "ms", p50, events=len(lat), target_max_ms=250,
                 load_avg=os.getloadavg()[0])
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
