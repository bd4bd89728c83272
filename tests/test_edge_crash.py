"""Crash safety: SIGKILL an edge process in the middle of receiving and picking; after a restart
no half-done step remains and the operator resumes where they were."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from edge import store as db
from edge.seed import seed
from edge.services import Actor, Floor
from edge.store import EdgeStore
from edge.weighing import FixedWeightSource
from tests.fixtures_edge import SITE, edge_config, make_catalog, outbox, pick_all, release

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKER = textwrap.dedent("""
    import sys, itertools
    sys.path.insert(0, {root!r})
    from tests.fixtures_edge import edge_config, item_code, sku_gtin, SITE
    from edge.store import EdgeStore
    from edge.services import Floor, Actor
    import pathlib
    cfg = edge_config(pathlib.Path({tmp!r}))
    store = EdgeStore({path!r}, SITE)
    floor = Floor(cfg, store)
    picker, receiver = Actor("picker1", "picker"), Actor("receiver1", "receiver")
    run = floor.picking.start(picker)
    for i in itertools.count():
        r = floor.receiving.receive(receiver, sku_gtin("SKU-0002"), qty=1)
        floor.receiving.put_away(receiver, r["receipt_id"], r["suggested_bin"])
        t = run["task"]
        if t is None:
            run = floor.picking.start(picker)
            print("step", i, flush=True)
            continue
        if run["expect"] == "location":
            run = floor.picking.scan(picker, run["run_id"], t["location"], task_id=t["task_id"])
        else:
            run = floor.picking.scan(picker, run["run_id"], item_code(t), task_id=t["task_id"], qty=1)
        print("step", i, flush=True)
""")


def invariants(store) -> dict:
    def fn(c):
        ledger = {(r[0], r[1], r[2]): r[3] for r in c.execute(
            "SELECT location, sku, lot, SUM(delta) FROM inventory_ledger GROUP BY location, sku, lot")}
        stock = {(r[0], r[1], r[2]): r[3] for r in c.execute("SELECT location, sku, lot, qty FROM stock")}
        lines = c.execute("""SELECT l.fo_id, l.line_id, l.picked, COALESCE(SUM(t.picked), 0) FROM fo_lines l
                             LEFT JOIN pick_tasks t ON t.fo_id = l.fo_id AND t.line_id = l.line_id
                             GROUP BY l.fo_id, l.line_id""").fetchall()
        done = c.execute("SELECT COUNT(*) FROM pick_tasks WHERE status = 'done'").fetchone()[0]
        receipts = c.execute("SELECT COUNT(*), SUM(put_away) FROM receipts").fetchone()
        putaway_rows = c.execute("SELECT COUNT(*) FROM inventory_ledger WHERE cause = 'putaway'").fetchone()[0]
        events = {r[0]: r[1] for r in c.execute("SELECT type, COUNT(*) FROM sync_outbox GROUP BY type")}
        return {"ledger": ledger, "stock": stock, "lines": lines, "done": done, "receipts": receipts,
                "putaway_rows": putaway_rows, "events": events}
    return store.read(fn)


@pytest.mark.parametrize("kill_after", [5, 23, 61])
def test_kill_mid_workflow_leaves_no_half_done_step(tmp_path, kill_after):
    path = str(tmp_path / "edge.db")
    cfg = edge_config(tmp_path)
    store = EdgeStore(path, SITE)
    floor = Floor(cfg, store, weight_source=FixedWeightSource(0))
    seed(floor, make_catalog(), users=False)
    for n in range(8):
        release(store, f"FO-{n}", [(f"SKU-{n + 1:04d}", 5), ("SKU-0010", 2)])
    start_units = store.read(lambda c: c.execute("SELECT SUM(qty) FROM stock").fetchone()[0])
    store.close()

    proc = subprocess.Popen([sys.executable, "-c", WORKER.format(root=ROOT, tmp=str(tmp_path), path=path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        steps = 0
        deadline = time.monotonic() + 60
        while steps < kill_after and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            steps += line.startswith("step")
        assert steps == kill_after, proc.stderr.read()
        proc.send_signal(signal.SIGKILL)   # mid-workflow: the next transaction is in flight
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    store = EdgeStore(path, SITE)
    try:
        inv = invariants(store)
        # every stock row equals the sum of its ledger rows: no change without its ledger row
        assert {k: v for k, v in inv["stock"].items()} == {k: v for k, v in inv["ledger"].items()}
        # every order line's picked count equals its tasks' picks
        assert all(row[2] == row[3] for row in inv["lines"])
        # every finished task has exactly one pick.confirmed; every receipt its inventory.received
        assert inv["events"].get("pick.confirmed", 0) == inv["done"]
        assert inv["events"].get("inventory.received", 0) == inv["receipts"][0]
        assert inv["putaway_rows"] == 2 * (inv["receipts"][1] or 0)
        # units are conserved: bins + dock + units in totes == start + received
        totals = store.read(lambda c: (c.execute("SELECT SUM(qty) FROM stock").fetchone()[0],
                                       c.execute("SELECT SUM(picked) FROM fo_lines").fetchone()[0]))
        assert totals[0] + totals[1] == start_units + inv["receipts"][0]
        # the operator resumes the same run at the next task and can finish it
        cfg = edge_config(tmp_path)
        floor = Floor(cfg, store, weight_source=FixedWeightSource(0))
        picker = Actor("picker1", "picker")
        open_runs = store.read(lambda c: db.runs_open(c, "picker1"))
        run = floor.picking.start(picker)
        if open_runs:
            assert run["run_id"] == open_runs[0]["run_id"] and run["note"] == "Resuming your pick run"
        for _ in range(20):
            run = pick_all(floor, picker, run)
            run = floor.picking.start(picker)
            if not run.get("run_id"):
                break
        assert store.read(db.fo_status_counts) == {"picked": 8}
        assert len([e for e in outbox(store) if e["type"] == "pick.confirmed"]) == \
            store.read(lambda c: c.execute("SELECT COUNT(*) FROM pick_tasks WHERE status='done'").fetchone()[0])
    finally:
        store.close()
