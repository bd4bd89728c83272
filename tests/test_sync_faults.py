"""Fault tests on a real Mosquitto with edges (and central where it matters) as separate processes.

Every scenario checks the same invariants against the edges' own records: lost = 0 (committed at
the edge, never applied), duplicated = 0, phantom = 0 (applied but never committed), no seq reused
or skipped, stock conserved (central on_hand == edge on_hand == seed + the deterministic workload,
which is exactly what a fault-free run of the same workload ends with).

Sizes are scaled down from the issue to keep the whole sync set within minutes on 2 cores; the
numbers are in each test's docstring.
"""
from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from tests.fixtures_sync import (Broker, central_inbox, central_on_hand, nonzero, open_central,
                                 small_catalog, wait_until)
from tests.support import stop_process
from tests.fixtures_sync import workload

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


class Cluster:
    def __init__(self, tmp: Path, sites: list[str], central_url: str | None = None, **sync):
        self.tmp = tmp
        self.sites = sites
        self.catalog = small_catalog(tuple(sites))
        self.broker = Broker(tmp / "broker", sites)
        self.url = central_url or f"sqlite:///{tmp}/central.db"
        self.cstore = open_central(self.url, self.catalog)
        self.sync = {"heartbeat_s": 1, "ack_timeout_s": 1, **sync}
        self.edges: dict[str, subprocess.Popen] = {}
        self.central: subprocess.Popen | None = None
        self.logs: list = []

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

    def start_edge(self, site: str, events: int, rate: float = 0, **env) -> subprocess.Popen:
        p = self._spawn(f"edge-{site}", ["edge", "--db", str(self.edge_db(site)), "--site", site, "--events",
                                         str(events), "--rate", str(rate), "--sites", ",".join(self.sites)],
                        self.env(site, **env))
        self.edges[site] = p
        return p

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

    def verify(self, site: str, n: int) -> None:
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
        seed = {r["sku"]: r["qty"] for r in self.catalog["stock"] if r["site_id"] == site}
        expected = Counter(seed)
        for sku, delta in workload(site, n, [s["sku"] for s in self.catalog["skus"]]):
            expected[sku] += delta
        expected = nonzero(dict(expected))
        assert nonzero(central_on_hand(self.cstore, site)) == expected, f"{site}: central stock differs"
        assert self.edge_on_hand(site) == expected, f"{site}: edge stock differs"

    def close(self):
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
    """4 edges x 1,500 events committed while the broker is down (issue: 10,000 each), then the
    broker comes up: everything drains, exactly once."""
    n = 1500
    c = cluster_factory(["EWR1", "LAX1", "DFW1", "ORD1"])
    c.start_central()
    for s in c.sites:
        c.start_edge(s, n)
    wait_until(lambda: all(len(c.committed(s)) == n for s in c.sites), 120, "offline shift committed", interval=0.5)
    assert all(c.applied(s) == [] for s in c.sites)  # really offline
    c.broker.start()
    t0 = time.monotonic()
    wait_until(lambda: all(c.drained(s, n) for s in c.sites), 120, "drain after reconnect", interval=0.5)
    drain_s = time.monotonic() - t0
    for s in c.sites:
        c.verify(s, n)
    print(f"offline shift: {len(c.sites) * n} events drained in {drain_s:.1f}s")


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
    for s in c.sites:
        c.verify(s, n)


@pytest.mark.parametrize("point", ["before_commit", "after_commit_before_publish", "after_publish_before_ack",
                                   "during_ack_handling"])
def test_edge_kill9_at_crash_points(cluster_factory, point):
    """The edge process dies (os._exit) at a named crash point, 4 times per point (issue: 50), and is
    restarted each time (1,000 events at 200/s): every transaction all-or-nothing, no seq reused,
    nothing lost."""
    n = 1000
    c = cluster_factory(["EWR1"])
    c.broker.start()
    c.start_central()
    rng = random.Random(point)
    crashes = 0
    while crashes < 4 and len(c.committed("EWR1")) < n:
        after = rng.randint(1, 100) if point == "before_commit" else rng.randint(1, 3)  # hits per commit vs per publish
        p = c.start_edge("EWR1", n, rate=200, FLOORSYNC_CRASHPOINT=point, FLOORSYNC_CRASHPOINT_AFTER=str(after))
        try:
            code = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop_process(p)
            assert len(c.committed("EWR1")) == n, f"edge neither crashed at {point} nor finished its workload"
            break
        assert code == 86, f"edge exited with {code}, not at the crash point"
        crashes += 1
    assert crashes >= 3, f"only {crashes} crashes at {point}"
    c.start_edge("EWR1", n)  # unarmed: finishes the workload
    wait_until(lambda: c.drained("EWR1", n), 60, "drain after crashes", interval=0.3)
    c.verify("EWR1", n)


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
    for s in c.sites:
        c.verify(s, n)


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
    for s in c.sites:
        c.verify(s, n)
    c.close()
