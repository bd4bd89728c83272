"""Fault tests on a real Mosquitto with edges (and central where it matters) as separate processes.

Every scenario checks the same invariants against the edges' own records: lost = 0 (committed at
the edge, never applied), duplicated = 0, phantom = 0 (applied but never committed), no seq reused
or skipped, stock conserved (central on_hand == edge on_hand == seed + the deterministic workload,
which is exactly what a fault-free run of the same workload ends with).

The offline shift (4 edges x 10,000 events) and the edge crash points (50 kill -9 per point) run at
the issue's size; the other scenarios' sizes are in their docstrings. The 200 crash runs are forked
from one pre-imported parent (``python -m tests.fixtures_sync forkserver``) so each costs the
workload, not Python's start-up; every child is still its own process (own SQLite connections,
threads and MQTT session), SIGKILLed at the named point — inside the open transaction for
``before_commit`` and ``during_ack_handling``, while the floor keeps committing for the others.
"""
from __future__ import annotations

import json
import os
import queue
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from contextlib import closing
from pathlib import Path

import pytest

from tests.fixtures_sync import (Broker, central_inbox, central_on_hand, nonzero, open_central, small_catalog,
                                 tx_boundaries, wait_until, workload)
from tests.support import stop_process

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


class ForkServer:
    """Drives ``python -m tests.fixtures_sync forkserver``: one pre-imported parent that forks a fresh
    edge process per run (see ``tests.fixtures_sync.fork_server``)."""

    def __init__(self, env: dict, log: Path):
        self.log = log
        self._log_file = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fixtures_sync", "forkserver"], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log_file)
        self._buf = b""
        self.child: int | None = None

    def _line(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"fork server: no answer within {timeout}s")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"fork server exited ({self.proc.poll()}); see {self.log}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def start(self, argv: list[str], env: dict | None = None) -> int:
        assert self.child is None, "one edge at a time"
        self.proc.stdin.write((json.dumps({"argv": argv, "env": env or {}, "log": str(self.log)}) + "\n").encode())
        self.proc.stdin.flush()
        self.child = self._line(30)["pid"]
        return self.child

    def wait(self, timeout: float) -> dict:
        """The child's end: ``{"signal": 9, ...}`` when SIGKILLed, else ``{"code": N}``. On timeout the
        child is stopped (SIGTERM by its pid) and TimeoutError raised."""
        try:
            got = self._line(timeout)
        except TimeoutError:
            self.terminate()
            raise
        self.child = None
        return got

    def terminate(self, timeout: float = 20) -> dict | None:
        if self.child is None:
            return None
        os.kill(self.child, signal.SIGTERM)  # our own child, by pid
        got = self._line(timeout)
        self.child = None
        return got

    def close(self):
        try:
            if self.child is not None:
                self.terminate()
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)
        self.proc.stdout.close()
        self._log_file.close()


class Tap:
    """A read-only broker identity recording every up-stream envelope published (seq, event_id)."""

    def __init__(self, port: int, password: str):
        import paho.mqtt.client as mqtt

        self.q: queue.Queue = queue.Queue()
        self.subscribed: queue.Queue = queue.Queue()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="TAP", clean_session=True,
                        protocol=mqtt.MQTTv311)
        c.username_pw_set("TAP", password)
        c.on_message = lambda cl, u, m: self.q.put(m.payload)
        c.on_connect = lambda cl, u, f, rc, p=None: cl.subscribe("floorsync/v1/+/up/events", qos=1)
        c.on_subscribe = lambda *a: self.subscribed.put(True)
        c.connect("127.0.0.1", port, keepalive=10)
        c.loop_start()
        self.c = c
        self.subscribed.get(timeout=10)
        self.pairs: list[tuple[str, int, str]] = []

    def collect(self) -> list[tuple[str, int, str]]:
        while True:
            try:
                doc = json.loads(self.q.get_nowait())
            except queue.Empty:
                return self.pairs
            self.pairs += [(e["epoch"], e["seq"], e["event_id"]) for e in doc["envelopes"]]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class Cluster:
    def __init__(self, tmp: Path, sites: list[str], central_url: str | None = None, **sync):
        self.tmp = tmp
        self.sites = sites
        self.catalog = small_catalog(tuple(sites))
        self.broker = Broker(tmp / "broker", sites, readers=("TAP",))
        self.url = central_url or f"sqlite:///{tmp}/central.db"
        self.cstore = open_central(self.url, self.catalog)
        self.sync = {"heartbeat_s": 1, "ack_timeout_s": 1, **sync}
        self.edges: dict[str, subprocess.Popen] = {}
        self.central: subprocess.Popen | None = None
        self.logs: list = []
        self.forkservers: list[ForkServer] = []
        self.taps: list[Tap] = []

    def env(self, user: str, **extra) -> dict:
        env = {**os.environ, "FLOORSYNC_BROKER_HOST": "127.0.0.1", "FLOORSYNC_BROKER_PORT": str(self.broker.port),
               "FLOORSYNC_BROKER_USERNAME": user, "FLOORSYNC_BROKER_PASSWORD": self.broker.creds[user],
               "FLOORSYNC_CONFIG": "", "FLOORSYNC_GENERAL_DATA_DIR": str(self.tmp)}
        env.pop("FLOORSYNC_CRASHPOINT", None)
        env.update({f"FLOORSYNC_SYNC_{k.upper()}": str(v) for k, v in self.sync.items()})
        env.update(extra)
        return env

    def _spawn(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        self.logs.append(log)
        return subprocess.Popen([sys.executable, "-m", "tests.fixtures_sync", *argv], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)

    def edge_db(self, site: str) -> Path:
        return self.tmp / f"edge-{site}.db"

    def edge_args(self, site: str, events: int, rate: float = 0, tx: str = "1") -> list[str]:
        return ["--db", str(self.edge_db(site)), "--site", site, "--events", str(events), "--rate", str(rate),
                "--sites", ",".join(self.sites), "--tx", tx]

    def start_edge(self, site: str, events: int, rate: float = 0, tx: str = "1", **env) -> subprocess.Popen:
        p = self._spawn(f"edge-{site}", ["edge", *self.edge_args(site, events, rate, tx)], self.env(site, **env))
        self.edges[site] = p
        return p

    def fork_server(self, site: str) -> "ForkServer":
        fs = ForkServer(self.env(site), self.tmp / f"edge-{site}.log")
        self.forkservers.append(fs)
        return fs

    def tap(self) -> "Tap":
        t = Tap(self.broker.port, self.broker.creds["TAP"])
        self.taps.append(t)
        return t

    def check_after_crash(self, site: str, tx: str, total: int) -> int:
        """All-or-nothing right after an edge died: the committed workload is a whole number of
        transactions, every committed change has its event (still in the outbox or applied by
        central) and every outbox event its change, the outbox has no hole, and the edge's stock is
        seed + exactly the committed events. Returns the committed count."""
        from edge import store as db

        with closing(sqlite3.connect(f"file:{self.edge_db(site)}?mode=ro", uri=True, timeout=10)) as c:
            ledger = [r[0].split(":") for r in c.execute(
                "SELECT ref FROM inventory_ledger WHERE ref LIKE 'w:%' ORDER BY id")]
            outbox = c.execute("SELECT seq, event_id, type FROM sync_outbox ORDER BY seq").fetchall()
            seq_row = c.execute("SELECT seq FROM sqlite_sequence WHERE name = 'sync_outbox'").fetchone()
            on_hand = nonzero(db.on_hand_by_sku(c))
        applied = {r["event_id"] for r in central_inbox(self.cstore, site)}  # read after the (dead) edge's file
        m = len(ledger)
        assert [int(i) for _, i, _ in ledger] == list(range(m)), f"{site}: committed events are not a prefix"
        assert m in tx_boundaries(site, total, tx), f"{site}: {m} events committed: a transaction was split"
        ledger_ids = {eid for _, _, eid in ledger}
        out_ids = {eid for _, eid, t in outbox if t == "inventory.adjusted"}
        assert out_ids <= ledger_ids, f"{site}: outbox events without their stock change"
        missing = ledger_ids - out_ids - applied
        assert not missing, f"{site}: {len(missing)} committed changes have no event (neither pending nor applied)"
        assert seq_row is not None or not outbox, f"{site}: the outbox has no never-reused seq counter"
        if outbox:
            seqs = [r[0] for r in outbox]
            assert seqs == list(range(seqs[0], seqs[-1] + 1)), f"{site}: hole in the outbox"
            assert seqs[-1] == seq_row[0], f"{site}: the newest outbox row is not the highest seq ever allocated"
        assert on_hand == self.expected_stock(site, m), f"{site}: edge stock differs from its committed events"
        return m

    def edge_outbox_depth(self, site: str) -> int:
        with closing(sqlite3.connect(f"file:{self.edge_db(site)}?mode=ro", uri=True, timeout=10)) as c:
            return c.execute("SELECT count(*) FROM sync_outbox").fetchone()[0]

    def expected_stock(self, site: str, n: int) -> dict:
        expected = Counter({r["sku"]: r["qty"] for r in self.catalog["stock"] if r["site_id"] == site})
        for sku, delta in workload(site, n, [s["sku"] for s in self.catalog["skus"]]):
            expected[sku] += delta
        return nonzero(dict(expected))

    def start_central(self) -> subprocess.Popen:
        self.central = self._spawn("central", ["central", "--url", self.url], self.env("central"))
        return self.central

    def committed(self, site: str) -> list[str]:
        """event ids the edge committed (from its own ledger)."""
        if not self.edge_db(site).exists():
            return []
        try:
            with closing(sqlite3.connect(f"file:{self.edge_db(site)}?mode=ro", uri=True, timeout=10)) as c:
                rows = c.execute("SELECT ref FROM inventory_ledger WHERE ref LIKE 'w:%' ORDER BY id").fetchall()
        except sqlite3.OperationalError:
            return []  # not migrated yet
        return [r[0].split(":")[2] for r in rows]

    def edge_on_hand(self, site: str) -> dict:
        from edge import store as db

        with closing(sqlite3.connect(f"file:{self.edge_db(site)}?mode=ro", uri=True, timeout=10)) as c:
            return nonzero(db.on_hand_by_sku(c))

    def applied(self, site: str) -> list[dict]:
        return [r for r in central_inbox(self.cstore, site) if r["type"] == "inventory.adjusted"]

    def drained(self, site: str, n: int) -> bool:
        from sqlalchemy.exc import OperationalError

        try:
            return len(self.applied(site)) >= n
        except OperationalError:
            return False  # the test's own poll hit the database restart

    def verify(self, site: str, n: int) -> dict:
        edge_ids = self.committed(site)
        rows = central_inbox(self.cstore, site)
        applied = [r["event_id"] for r in rows if r["type"] == "inventory.adjusted"]
        assert len(edge_ids) == n, f"{site}: edge committed {len(edge_ids)} of {n}"
        dup = [e for e, c in Counter(applied).items() if c > 1]
        lost = set(edge_ids) - set(applied)
        phantom = set(applied) - set(edge_ids)
        assert (len(lost), len(dup), len(phantom)) == (0, 0, 0), f"{site}: lost/dup/phantom"
        epochs = {r["epoch"] for r in rows}
        assert len(epochs) == 1
        assert sorted(r["seq"] for r in rows) == list(range(1, len(rows) + 1)), f"{site}: seq reused or skipped"
        assert all(r["status"] == "applied" for r in rows)
        expected = self.expected_stock(site, n)
        assert nonzero(central_on_hand(self.cstore, site)) == expected, f"{site}: central stock differs"
        assert self.edge_on_hand(site) == expected, f"{site}: edge stock differs"
        return {"committed": n, "applied": len(applied), "lost": len(lost), "dup": len(dup), "phantom": len(phantom),
                "seqs": len(rows), "stock_equal": True}

    def verify_all(self, n: int) -> str:
        got = [self.verify(s, n) for s in self.sites]
        total = Counter()
        for g in got:
            total.update({k: v for k, v in g.items() if k != "stock_equal"})
        return (f"committed={total['committed']} applied={total['applied']} lost={total['lost']} "
                f"dup={total['dup']} phantom={total['phantom']} stock conserved on {len(got)} site(s)")

    def close(self):
        for t in self.taps:
            t.close()
        for fs in self.forkservers:
            fs.close()
        for p in self.edges.values():
            stop_process(p, timeout=20)
        if self.central is not None:
            stop_process(self.central, timeout=20)
        self.broker.stop()
        self.cstore.close()
        for f in self.logs:
            f.close()


@pytest.fixture
def request_cleanup():
    todo = []
    yield todo
    for fn in reversed(todo):
        fn()


@pytest.fixture
def cluster_factory(tmp_path):
    made = []

    def make(sites, **kw):
        c = Cluster(tmp_path, sites, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


def test_offline_shift_drains_without_manual_steps(cluster_factory):
    """4 edges x 10,000 events committed while the broker is down (each event's stock change and
    outbox row in one transaction, 200 events per transaction), then the broker comes up: everything
    drains by itself, exactly once, in order."""
    n = 10_000
    c = cluster_factory(["EWR1", "LAX1", "DFW1", "ORD1"])
    c.start_central()
    t0 = time.monotonic()
    for s in c.sites:
        c.start_edge(s, n, tx="200")
    wait_until(lambda: all(len(c.committed(s)) == n for s in c.sites), 120, "offline shift committed", interval=0.5)
    commit_s = time.monotonic() - t0
    assert all(c.applied(s) == [] for s in c.sites)  # really offline
    c.broker.start()
    t0 = time.monotonic()
    wait_until(lambda: all(c.drained(s, n) for s in c.sites), 180, "drain after reconnect", interval=0.5)
    drain_s = time.monotonic() - t0
    summary = c.verify_all(n)
    print(f"\noffline shift: {len(c.sites)} x {n} events committed in {commit_s:.1f}s, drained in {drain_s:.1f}s "
          f"({len(c.sites) * n / drain_s:.0f} events/s); {summary}")


def test_broker_kill9_during_a_burst(cluster_factory):
    """Broker kill -9 ten times at random moments during a 500 events/s burst (2 edges x 250/s,
    6,000 events in all), restarted each time."""
    n = 3000
    c = cluster_factory(["EWR1", "LAX1"])
    c.broker.start()
    c.start_central()
    for s in c.sites:
        c.start_edge(s, n, rate=250)
    rng = random.Random(5)
    for _ in range(10):
        time.sleep(rng.uniform(0.4, 1.2))
        c.broker.kill9()
        time.sleep(rng.uniform(0.1, 0.5))
        c.broker.start()
    wait_until(lambda: all(c.drained(s, n) for s in c.sites), 90, "drain after broker kills", interval=0.5)
    print(f"\nbroker kill -9 x10: {c.verify_all(n)}")


CRASH_RUNS = 50


@pytest.mark.parametrize("point", ["before_commit", "after_commit_before_publish", "after_publish_before_ack",
                                   "during_ack_handling"])
def test_edge_kill9_at_crash_points(cluster_factory, point):
    """The edge process is SIGKILLed (kill -9, from inside, at the named crash point) 50 times, each
    time a fresh process forked from a pre-imported parent and resuming from its database; the
    workload commits 1-4 events per transaction at 400 events/s. After every death: all-or-nothing
    (``Cluster.check_after_crash``). Over all 50 runs: no seq was ever published with two different
    event ids (a read-only tap records everything on the wire), nothing lost or applied twice, and
    central's final state equals a fault-free run of the committed workload."""
    total, tx = 100_000, "mixed"  # a run never reaches the end of the workload: it dies first
    c = cluster_factory(["EWR1"])
    c.broker.start()
    c.start_central()
    tap = c.tap()
    fs = c.fork_server("EWR1")
    rng = random.Random(point)
    t0 = time.monotonic()
    committed_after = []
    for run in range(CRASH_RUNS):
        after = rng.randint(1, 40) if point == "before_commit" else rng.randint(1, 6)  # emits vs pump/ack hits
        fs.start(c.edge_args("EWR1", total, rate=400, tx=tx),
                 {"FLOORSYNC_CRASHPOINT": point, "FLOORSYNC_CRASHPOINT_AFTER": str(after)})
        end = fs.wait(timeout=30)
        assert end["signal"] == signal.SIGKILL, f"run {run}: edge ended {end}, not killed at {point}"
        committed_after.append(c.check_after_crash("EWR1", tx, total))
    crash_s = time.monotonic() - t0
    m = committed_after[-1]
    assert m > 0 and committed_after == sorted(committed_after)
    fs.start(c.edge_args("EWR1", m, tx=tx))  # unarmed: nothing left to commit, drains what is pending
    wait_until(lambda: c.drained("EWR1", m), 60, "drain after the crashes", interval=0.2)
    wait_until(lambda: c.edge_outbox_depth("EWR1") == 0, 30, "edge outbox retired", interval=0.2)
    end = fs.terminate()
    assert (end["signal"], end["code"]) == (0, 0), f"the unarmed edge did not stop cleanly: {end}"
    summary = c.verify_all(m)
    applied = {r["event_id"] for r in central_inbox(c.cstore, "EWR1")}
    wait_until(lambda: applied <= {eid for _, _, eid in tap.collect()}, 15, "the tap saw every applied envelope")
    wire = tap.collect()
    by_seq, by_id = defaultdict(set), defaultdict(set)
    for epoch, seq, eid in wire:
        by_seq[(epoch, seq)].add(eid)
        by_id[eid].add((epoch, seq))
    reused = {k: v for k, v in by_seq.items() if len(v) > 1}
    assert not reused, f"seq published with different events: {list(reused.items())[:3]}"
    assert all(len(v) == 1 for v in by_id.values()), "an event was published under two seqs"
    print(f"\ncrash point {point}: {CRASH_RUNS} kill -9 in {crash_s:.1f}s; {summary}; {len(wire)} envelopes on "
          f"the wire ({len(wire) - len(by_id)} re-sent), seqs published with 2+ event ids: {len(reused)}")


def test_central_kill9_and_restart_mid_stream(cluster_factory):
    """Central (a separate process on SQLite) is killed -9 three times mid-stream and restarted
    (2 edges x 1,500 events at 400/s)."""
    n = 1500
    c = cluster_factory(["EWR1", "LAX1"])
    c.broker.start()
    c.start_central()
    for s in c.sites:
        c.start_edge(s, n, rate=400)
    for _ in range(3):
        time.sleep(1.5)
        c.central.kill()
        c.central.wait()
        time.sleep(0.3)
        c.start_central()
    wait_until(lambda: all(c.drained(s, n) for s in c.sites), 90, "drain after central restarts", interval=0.5)
    print(f"\ncentral kill -9 x3: {c.verify_all(n)}")


@pytest.mark.postgres
def test_postgres_restart_mid_stream(cluster_factory, request_cleanup):
    """Central on its own PostgreSQL cluster; the database is restarted (fast shutdown) twice while
    two edges stream: central retries, nothing is lost or applied twice."""
    from tests.pgcluster import PgCluster

    pg = PgCluster("fsync=off", prefix="floorsync-sync-pg-").start()
    request_cleanup.append(pg.close)
    n = 1500
    c = cluster_factory(["EWR1", "LAX1"], central_url=pg.createdb("fs"))
    c.broker.start()
    c.start_central()
    for s in c.sites:
        c.start_edge(s, n, rate=300)
    for _ in range(2):
        time.sleep(1.5)
        pg.stop_server("fast")  # connections are cut mid-transaction
        time.sleep(0.5)
        pg.start_server()
    wait_until(lambda: all(c.drained(s, n) for s in c.sites), 150, "drain after database restarts", interval=0.5)
    print(f"\npostgres restart x2: {c.verify_all(n)}")
    c.close()
