"""Sync benchmarks through a real Mosquitto (generated config) into a SQLite central database.

- raw paho QoS 1 publish throughput through the same broker (baseline, msg/s);
- applied events/s edge -> central (outbox pump, batching, inbox + central's real handler);
- the same with a no-op handler (what the sync layer itself costs: inbox rows, cursor, acks);
- catch-up: N events queued during an outage drain after reconnect;
- online latency edge commit -> central applied, p50/p99 at 200 events/s.

    .venv/bin/python bench/bench_sync.py [--quick]
"""
from __future__ import annotations

import logging
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


def run_drain(broker, tmp: Path, n: int, *, noop: bool, deadline_s: float) -> tuple[int, float]:
    """Queue n events on an offline edge, then connect both sides; returns (applied, seconds)."""
    from sync.central_node import CentralSync
    from sync.edge_node import EdgeSync
    from tests.fixtures_sync import open_central, open_edge, small_catalog

    cat = small_catalog(("EWR1",))
    cstore = open_central(f"sqlite:///{tmp}/central-{n}-{noop}.db", cat)
    estore = open_edge(tmp / f"edge-{n}-{noop}.db", "EWR1", cat)
    commit_bulk(estore, n)
    central = CentralSync(broker.cfg("central"), cstore, apply_fn=(lambda conn, env: None) if noop else None)
    central.start()
    edge = EdgeSync(broker.cfg("EWR1"), estore, digest_fn=False)
    t0 = time.perf_counter()
    edge.start()
    applied = 0
    try:
        while time.perf_counter() - t0 < deadline_s:
            applied = central.status()["sites"].get("EWR1", {}).get("up", {}).get("applied", 0)
            if applied >= n:
                break
            time.sleep(0.05)
        dt = time.perf_counter() - t0
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

    def apply_fn(conn, env):
        from central.sync_handlers import apply_up_event

        out = apply_up_event(conn, env)
        applied_at[env.event_id] = time.perf_counter()
        return out
    central = CentralSync(broker.cfg("central"), cstore, apply_fn=apply_fn)
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


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    log_setup("json", "ERROR")
    logging.getLogger().setLevel(logging.ERROR)
    from tests.fixtures_sync import Broker

    q = args.quick
    n_thru = 3000 if q else 20000
    n_catch = 10000 if q else 100000
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as d:
        tmp = Path(d)
        broker = Broker(tmp / "broker", ["EWR1"]).start()
        try:
            raw = raw_qos1(broker.port, "EWR1", broker.creds["EWR1"], 5000 if q else 20000)
            emit("raw_paho_qos1_publish", raw, "msg/s", None)
            applied, dt = run_drain(broker, tmp, n_thru, noop=False, deadline_s=40 if q else 120)
            emit("sync_applied_events_per_s_real_handler", applied / dt, "events/s", raw, events=applied,
                 target_min=3000, target_ratio=0.5)
            applied, dt = run_drain(broker, tmp, n_thru, noop=True, deadline_s=30 if q else 60)
            emit("sync_applied_events_per_s_noop_handler", applied / dt, "events/s", raw, events=applied)
            applied, dt = run_drain(broker, tmp, n_catch, noop=True, deadline_s=30 if q else 90)
            emit("catchup_drain_s_noop_handler", dt, "s", None, events=applied, queued=n_catch, target_max_s=30)
            if not q:
                applied, dt = run_drain(broker, tmp, n_catch, noop=False, deadline_s=60)
                emit("catchup_applied_in_60s_real_handler", applied, "events", None, queued=n_catch,
                     seconds=round(dt, 1), rate=round(applied / dt, 1))
            lat = run_latency(broker, tmp, 200.0, 5 if q else 20)
            p50, p99 = percentile(lat, 50), percentile(lat, 99)
            emit("online_latency_p99_at_200_per_s", p99, "ms", p50, events=len(lat), target_max_ms=250)
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
