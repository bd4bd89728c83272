"""Fixtures and helpers for the sync tests: a real Mosquitto with the generated production config,
real edge (``edge.store.EdgeStore``) and central (``central.store.CentralStore``) stores seeded from
the same small catalog, waiting helpers, a small MQTT-aware chaos relay, and the edge/central node
processes of the fault tests:

    python -m tests.fixtures_sync edge --db X --site EWR1 --events N [--rate R]
    python -m tests.fixtures_sync central --url URL

(credentials from FLOORSYNC_BROKER_USERNAME/PASSWORD; the edge commits a deterministic workload and
resumes after a restart from what it committed; crash points are armed by FLOORSYNC_CRASHPOINT[_AFTER];
both run until SIGTERM and stop cleanly). Import with ``from tests.fixtures_sync import *``.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
from pathlib import Path

if __name__ == "__main__":  # run as a node process by the fault tests
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pytest  # noqa: E402

from floorsync import config as config_mod  # noqa: E402
from floorsync import log  # noqa: E402
from floorsync.catalog import SITES, build_catalog  # noqa: E402
from tests.support import free_port, stop_process  # noqa: E402

MERCHANT = "acme"
N_SKUS = 12
LOC = "A-01-01-1"


def small_catalog(sites=("EWR1", "LAX1")) -> dict:
    known = {s["site_id"]: s for s in SITES}
    chosen = [known.get(sid) or {**SITES[0], "site_id": sid, "name": f"{sid} FC"} for sid in sites]
    return build_catalog(n_skus=N_SKUS, seed=3, sites=chosen)


def nonzero(d: dict) -> dict:
    return {k: v for k, v in d.items() if v}


def make_cfg(port: int, user: str = "", password: str = "", data_dir: str = ".", **sync) -> config_mod.Config:
    env = {"FLOORSYNC_BROKER_HOST": "127.0.0.1", "FLOORSYNC_BROKER_PORT": str(port), "FLOORSYNC_BROKER_USERNAME": user,
           "FLOORSYNC_BROKER_PASSWORD": password, "FLOORSYNC_GENERAL_DATA_DIR": str(data_dir)}
    for k, v in sync.items():
        env[f"FLOORSYNC_SYNC_{k.upper()}"] = str(v)
    return config_mod.load(None, env=env)


class Broker:
    """The generated broker (sync.broker), restartable on the same port and persistence."""

    def __init__(self, data_dir: Path, sites, port: int | None = None, **kw):
        from sync import broker as broker_mod

        self.mod = broker_mod
        self.setup = broker_mod.prepare(data_dir, port or free_port(), list(sites), **kw)
        self.port = self.setup.port
        self.creds = self.setup.credentials
        self.proc = None

    def start(self):
        self.proc = self.mod.start(self.setup)
        return self

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)

    def cfg(self, user: str, data_dir=".", **sync):
        return make_cfg(self.port, user, self.creds[user], data_dir, **sync)


@pytest.fixture
def sync_broker(tmp_path):
    b = Broker(tmp_path / "broker", ["EWR1", "LAX1", "DFW1"]).start()
    yield b
    b.stop()


def open_central(url: str, catalog: dict):
    from central.services import CentralService
    from central.store import CentralStore

    store = CentralStore(url, pool_size=5)
    store.create_all()
    CentralService(store).seed_catalog(catalog)
    return store


def open_edge(path: Path, site: str, catalog: dict):
    """A real EdgeStore holding the site's catalog stock in one bin per SKU (same qty as central)."""
    from edge import store as db
    from edge.store import EdgeStore

    store = EdgeStore(str(path), site)

    def seed(conn):
        if db.count_rows(conn, "stock"):
            return
        for s in catalog["skus"]:
            db.sku_upsert(conn, dict(s), s["gtins"], catalog["merchant_id"])
        db.location_upsert(conn, LOC, "A", 1, 1, 1, 1)
        for row in catalog["stock"]:
            if row["site_id"] == site:
                db.stock_add(conn, location=LOC, sku=row["sku"], lot="", expiry=None, delta=row["qty"], cause="seed",
                             ref=None, user="seed")
    store.write(seed)
    return store


def edge_adjust(store, merchant: str, sku: str, delta: int):
    """One floor transaction: the stock change and its outbox event commit together."""
    from edge import store as db
    from sync import edge_journal

    def fn(conn):
        db.stock_add(conn, location=LOC, sku=sku, lot="", expiry=None, delta=delta, cause="adjustment", ref="test",
                     user="tester")
        return edge_journal.emit(conn, "inventory.adjusted", {"sku": sku, "delta": delta, "reason": "test",
                                                               "location": LOC}, merchant_id=merchant)
    return store.write(fn)


def edge_on_hand(store) -> dict[str, int]:
    from edge import store as db

    return {k: v for k, v in store.read(db.on_hand_by_sku).items()}


def central_on_hand(cstore, site: str) -> dict[str, int]:
    from central.sync_handlers import expected_balances

    with cstore.read() as conn:
        return dict(expected_balances(conn, site))


def central_emit(cstore, site: str, event_type: str, body: dict, merchant: str = MERCHANT):
    from sync import central_journal

    with cstore.transaction() as conn:
        return central_journal.emit(conn, site, event_type, body, merchant_id=merchant)


def sku_body(sku: str, n: int) -> dict:
    return {"sku": sku, "description": f"rev {n}", "gtins": [], "weight_g": n, "length_mm": 1, "width_mm": 1,
            "height_mm": 1, "lot_tracked": False, "expiry_tracked": False, "hazmat": False, "requires_qc": False}


def wait_until(pred, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def central_inbox(cstore, site: str) -> list[dict]:
    from sync import central_journal

    with cstore.read() as conn:
        return central_journal.inbox_rows(conn, site)


def edge_inbox(store) -> list[dict]:
    from sync import edge_journal

    return store.read(edge_journal.inbox_rows)


def outbox_depth(store) -> int:
    from sync import edge_journal

    return store.read(edge_journal.outbox_stats)["depth"]


# ---------------------------------------------------------------- chaos relay




def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def read_packet(sock: socket.socket) -> bytes:
    first = _recv_exact(sock, 1)
    mult, length, header = 1, 0, first
    while True:
        b = _recv_exact(sock, 1)
        header += b
        length += (b[0] & 0x7F) * mult
        if not b[0] & 0x80:
            break
        mult *= 128
    return header + (_recv_exact(sock, length) if length else b"")


def _body_start(pkt: bytes) -> int:
    i = 1
    while pkt[i] & 0x80:
        i += 1
    return i + 1


class ChaosRelay:
    def __init__(self, broker_port: int, *, window: int = 200, drop: float = 0.01, seed: int = 1,
                 topic_filter: bytes = b"/up/events"):
        self.broker_port = broker_port
        self.window, self.drop, self.rng = window, drop, random.Random(seed)
        self.topic_filter = topic_filter
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.stats = {"published": 0, "dropped": 0, "reordered_windows": 0}
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            broker = socket.create_connection(("127.0.0.1", self.broker_port))
            self._socks += [client, broker]
            wlock = threading.Lock()
            pending: list[bytes] = []
            plock = threading.Lock()
            for target in (lambda: self._c2b(client, broker, wlock, pending, plock),
                           lambda: self._b2c(broker, client, wlock),
                           lambda: self._flusher(broker, pending, plock)):
                t = threading.Thread(target=target, daemon=True)
                t.start()
                self._threads.append(t)

    def _flush(self, broker, pending, plock):
        with plock:
            batch, pending[:] = list(pending), []
        if not batch:
            return
        self.rng.shuffle(batch)
        self.stats["reordered_windows"] += 1
        for pkt in batch:
            broker.sendall(pkt)

    def _flusher(self, broker, pending, plock):
        while not self._stop.wait(0.05):
            try:
                self._flush(broker, pending, plock)
            except OSError:
                return

    def _c2b(self, client, broker, wlock, pending, plock):
        try:
            while not self._stop.is_set():
                pkt = read_packet(client)
                if pkt[0] >> 4 == 3:  # PUBLISH
                    start = _body_start(pkt)
                    tlen = int.from_bytes(pkt[start:start + 2], "big")
                    topic = pkt[start + 2:start + 2 + tlen]
                    qos = (pkt[0] >> 1) & 3
                    if self.topic_filter in topic:
                        self.stats["published"] += 1
                        if qos and self.rng.random() < self.drop:
                            pid = pkt[start + 2 + tlen:start + 4 + tlen]
                            self.stats["dropped"] += 1
                            with wlock:
                                client.sendall(b"\x40\x02" + pid)  # fake PUBACK: acknowledged, then lost
                            continue
                        with plock:
                            pending.append(pkt)
                            full = len(pending) >= self.window
                        if full:
                            self._flush(broker, pending, plock)
                        continue
                self._flush(broker, pending, plock)  # control packets keep their place after queued publishes
                broker.sendall(pkt)
        except (OSError, ConnectionError):
            pass
        finally:
            for s in (client, broker):
                try:
                    s.close()
                except OSError:
                    pass

    def _b2c(self, broker, client, wlock):
        try:
            while not self._stop.is_set():
                pkt = read_packet(broker)
                with wlock:
                    client.sendall(pkt)
        except (OSError, ConnectionError):
            pass

    def close(self):
        self._stop.set()
        self.listener.close()
        for s in self._socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self._threads:
            t.join(timeout=5)
        time.sleep(0)


# ---------------------------------------------------------------- node processes






def workload(site: str, n: int, skus: list[str]) -> list[tuple[str, int]]:
    rng = random.Random(f"wl-{site}")
    return [(rng.choice(skus), rng.choice([1, 2, 3])) for _ in range(n)]


def committed(store) -> int:
    return store.read(lambda c: c.execute("SELECT count(*) FROM inventory_ledger WHERE ref LIKE 'w:%'").fetchone()[0])


def run_edge(args, stop: threading.Event) -> None:
    from edge import store as db
    from sync import edge_journal
    from sync.edge_node import EdgeSync
    
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
