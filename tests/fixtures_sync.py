"""Fixtures and helpers for the sync tests: a real Mosquitto with the generated production config,
real edge (``edge.store.EdgeStore``) and central (``central.store.CentralStore``) stores seeded from
the same small catalog, and waiting helpers. Import with ``from tests.fixtures_sync import *``.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from floorsync import config as config_mod
from floorsync.catalog import SITES, build_catalog
from tests.support import free_port, stop_process

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
