"""Fixtures and helpers for the sync tests: a real Mosquitto with the generated production config,
real edge (``edge.store.EdgeStore``) and central (``central.store.CentralStore``) stores seeded from
the same small catalog, waiting helpers, a small MQTT-aware chaos relay, and the edge/central node
processes of the fault tests:

    python -m tests.fixtures_sync edge --db X --site EWR1 --events N [--rate R] [--tx 1|N|mixed]
    python -m tests.fixtures_sync central --url URL
    python -m tests.fixtures_sync forkserver   (forks one edge per JSON request on stdin)

(credentials from FLOORSYNC_BROKER_USERNAME/PASSWORD or a TLS client certificate; the edge commits a
deterministic workload and resumes after a restart from what it committed; crash points are armed by
FLOORSYNC_CRASHPOINT[_AFTER]; both run until SIGTERM and stop cleanly). Also: TLS test PKI
(``make_pki``, ``tls_cfg``) and a plain probing client (``Raw``). Import with
``from tests.fixtures_sync import *``.
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


def _openssl(*args, cwd):
    import subprocess

    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d: Path, names, ca: str = "ca") -> Path:
    """A throwaway CA (``<ca>.crt``), a broker certificate for 127.0.0.1 (``server.crt``) and one client
    certificate per name (``<name>.crt``, CN=name), all generated now with openssl."""
    d.mkdir(parents=True, exist_ok=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]  # P-256: keys in milliseconds, unlike RSA
    _openssl("req", "-x509", *key, "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days",
             "2", "-subj", f"/CN=floorsync test {ca}", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, san in [("server", True)] + [(n, False) for n in names]:
        cn = "127.0.0.1" if name == "server" else name
        _openssl("req", *key, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)
        extra = ["-extfile", "san.cnf"] if san else []
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", *extra, cwd=d)
    return d


def tls_cfg(port: int, pki: Path, name: str, data_dir: str = ".", **sync) -> config_mod.Config:
    """A node's configuration for the TLS broker: no username or password, the client certificate
    with CN=<name> is the identity."""
    env = {"FLOORSYNC_BROKER_HOST": "127.0.0.1", "FLOORSYNC_BROKER_PORT": str(port), "FLOORSYNC_BROKER_TLS": "true",
           "FLOORSYNC_BROKER_CA_FILE": str(pki / "ca.crt"), "FLOORSYNC_BROKER_CERT_FILE": str(pki / f"{name}.crt"),
           "FLOORSYNC_BROKER_KEY_FILE": str(pki / f"{name}.key"), "FLOORSYNC_GENERAL_DATA_DIR": str(data_dir)}
    for k, v in sync.items():
        env[f"FLOORSYNC_SYNC_{k.upper()}"] = str(v)
    return config_mod.load(None, env=env)


class Raw:
    """A plain paho client that records what it receives (for probing the broker)."""

    def __init__(self, port, user, password, client_id, tls=None):
        import queue

        import paho.mqtt.client as mqtt

        self.msgs: queue.Queue = queue.Queue()
        self.suback: queue.Queue = queue.Queue()
        self.disconnects = 0
        self.connected = queue.Queue()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                        protocol=mqtt.MQTTv311)
        if user:
            c.username_pw_set(user, password)
        if tls:
            c.tls_set(**tls)
        c.on_message = lambda cl, u, m: self.msgs.put((m.topic, m.payload))
        c.on_subscribe = lambda cl, u, mid, rcs, p=None: self.suback.put([int(getattr(r, "value", r)) for r in rcs])
        c.on_connect = lambda cl, u, f, rc, p=None: self.connected.put(rc)
        c.on_disconnect = self._on_disc
        self.c = c
        self._up = False
        c.connect("127.0.0.1", port, keepalive=10)
        c.loop_start()
        rc = self.connected.get(timeout=10)
        if rc is None or rc.is_failure:
            c.loop_stop()
            raise ConnectionRefusedError(str(rc) if rc is not None else "connection closed before CONNACK")
        self._up = True

    def _on_disc(self, *a):
        self.disconnects += 1
        if not self._up:
            self.connected.put(None)  # refused during the handshake (e.g. no or a foreign client certificate)

    def sub(self, topic):
        self.c.subscribe(topic, qos=1)
        return self.suback.get(timeout=10)

    def pub(self, topic, payload):
        self.c.publish(topic, payload, qos=1).wait_for_publish(timeout=10)

    def drain(self, wait=0.5):
        time.sleep(wait)
        out = []
        while not self.msgs.empty():
            out.append(self.msgs.get())
        return out

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


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


def tx_sizes(site: str, n: int, tx: str) -> list[int]:
    """How the workload's events group into transactions: ``"1"`` one per transaction, ``"N"`` N per
    transaction (bulk), ``"mixed"`` 1-4 per transaction (deterministic, so a restart resumes on a boundary)."""
    if tx == "mixed":
        rng = random.Random(f"tx-{site}")
        sizes, total = [], 0
        while total < n:
            k = min(rng.randint(1, 4), n - total)
            sizes.append(k)
            total += k
        return sizes
    k = max(1, int(tx))
    return [min(k, n - i) for i in range(0, n, k)]


def tx_boundaries(site: str, n: int, tx: str) -> set[int]:
    out, total = {0}, 0
    for k in tx_sizes(site, n, tx):
        total += k
        out.add(total)
    return out


def committed(store) -> int:
    return store.read(lambda c: c.execute("SELECT count(*) FROM inventory_ledger WHERE ref LIKE 'w:%'").fetchone()[0])


def run_edge(args, stop: threading.Event) -> None:
    """Commit the site's deterministic workload (resuming after what is already committed), each
    event's stock change and outbox row in the same transaction, grouped per ``--tx``; sync runs
    alongside. Stays up (draining) until ``stop``."""
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
    bounds = sorted(tx_boundaries(args.site, args.events, args.tx))
    if i not in bounds:  # a transaction was half-applied: all-or-nothing is broken
        raise RuntimeError(f"committed count {i} is not a transaction boundary")
    groups = [(a, b) for a, b in zip(bounds, bounds[1:]) if a >= i]
    interval = 1.0 / args.rate if args.rate else 0.0
    next_t = time.monotonic()
    for a, b in groups:
        if stop.is_set():
            break

        def fn(conn, a=a, b=b):
            for j in range(a, b):
                sku, delta = work[j]
                env = edge_journal.emit(conn, "inventory.adjusted", {"sku": sku, "delta": delta, "reason": f"w{j}",
                                                                      "location": LOC}, merchant_id=MERCHANT)
                db.stock_add(conn, location=LOC, sku=sku, lot="", expiry=None, delta=delta, cause="adjustment",
                             ref=f"w:{j}:{env.event_id}", user="load")
        store.write(fn)
        if interval:
            next_t += interval * (b - a)
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["edge", "central", "forkserver"])
    p.add_argument("--db")
    p.add_argument("--url")
    p.add_argument("--site")
    p.add_argument("--sites", default="EWR1,LAX1,DFW1")
    p.add_argument("--events", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--tx", default="1", help="events per transaction: N, or 'mixed' (1-4)")
    return p


def _run_role(args) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        (run_edge if args.role == "edge" else run_central)(args, stop)
    except Exception:  # noqa: BLE001
        logging.getLogger("sync_procs").exception("process failed")
        sys.exit(3)


def _wait_status(status: int) -> dict:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status), "code": None}
    return {"signal": 0, "code": os.WEXITSTATUS(status)}


def fork_server() -> None:
    """Import everything an edge node needs once, then fork one edge process per request.

    Requests are JSON lines on stdin: ``{"argv": [...edge args...], "env": {...}, "log": path}``. For
    each, the server forks (it has started no thread, so the child is a clean single-threaded copy),
    prints ``{"pid": P}``, waits for the child and prints ``{"pid": P, "signal": S, "code": C}``.
    The child is a real, separate edge process: its own SQLite connections, writer thread, MQTT
    connection and sync worker; a crash point SIGKILLs it mid-transaction like ``kill -9``.
    """
    import json

    import paho.mqtt.client  # noqa: F401 - preloaded so a child starts in milliseconds
    import edge.services  # noqa: F401
    import edge.store  # noqa: F401
    import edge.sync_handlers  # noqa: F401
    import sync.edge_node  # noqa: F401
    from sync import crashpoints

    small_catalog(("EWR1",))
    assert threading.active_count() == 1, "the fork server must not run threads"
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the edge process
            code = 0
            try:
                fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.environ.update(req.get("env") or {})
                for k in [k for k in os.environ if k.startswith("FLOORSYNC_CRASHPOINT") and k not in (req.get("env") or {})]:
                    del os.environ[k]
                crashpoints.disarm()
                _run_role(_parser().parse_args(["edge", *req["argv"]]))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 3
            except BaseException:  # noqa: BLE001
                logging.getLogger("sync_procs").exception("edge child failed")
                code = 3
            finally:
                sys.stderr.flush()
                os._exit(code)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        out.write(json.dumps({"pid": pid, **_wait_status(status)}) + "\n")
        out.flush()


def main() -> None:
    args = _parser().parse_args()
    log.setup("json", os.environ.get("FLOORSYNC_GENERAL_LOG_LEVEL", "WARNING"))
    if args.role == "forkserver":
        fork_server()
        return
    _run_role(args)


if __name__ == "__main__":
    main()
