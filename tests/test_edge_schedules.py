"""Scheduled cycle counts: schedules per zone or ABC class (pick velocity), a scheduler that creates
the due count tasks (staggered over the cycle, idempotent), due/overdue lists, completion by
counting the bin; CLI commands and the runtime's periodic tick. Fixed clock, exact values."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from click.testing import CliRunner

from edge import store as db
from edge.core.clock import iso
from edge.errors import Forbidden, InvalidState, NotFound
from edge.services import Actor
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import edge_config, pick_all, release, sku_gtin

MANAGER = Actor("manager1", "manager")
COUNTER = Actor("counter1", "counter")
PICKER = Actor("picker1", "picker")
DAY = dt.timedelta(days=1)
# the floor's clock: a fixed hour (picks write real ledger times; the velocity window ends at "now")
T0 = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


@pytest.fixture
def clock():
    return {"now": T0}


@pytest.fixture
def cfloor(tmp_path, edge_store, catalog, clock):
    from edge.seed import seed
    from edge.services import Floor
    from edge.weighing import FixedWeightSource

    f = Floor(edge_config(tmp_path), edge_store, weight_source=FixedWeightSource(0), now=lambda: clock["now"])
    seed(f, catalog)
    return f


def zone_bins(floor, zone):
    return [b["code"] for b in floor.store.read(db.stocked_bins) if b["zone"] == zone]


def count_bin(floor, actor, location):
    """Count every SKU in the bin with the quantity that is there (no variance)."""
    out = None
    for sku in sorted({r["sku"] for r in floor.store.read(lambda c: db.stock_at(c, location))}):
        qty = sum(r["qty"] for r in floor.store.read(lambda c, s=sku: db.stock_at(c, location, s)))
        out = floor.counting.submit(actor, location, sku_gtin(sku), qty)
    return out


def test_zone_schedule_staggers_bins_over_the_cycle_and_counting_a_bin_closes_its_task(cfloor, clock):
    bins = zone_bins(cfloor, "A")
    assert len(bins) == 10                       # 9 SKUs of zone A, the lot-tracked one in two bins
    with pytest.raises(Forbidden):
        cfloor.counting.add_schedule(COUNTER, "ZA", "zone", "A", 5)
    with pytest.raises(InvalidState, match="zone 'Q' has no storage bins"):
        cfloor.counting.add_schedule(MANAGER, "ZQ", "zone", "Q", 5)
    with pytest.raises(InvalidState, match="every_days"):
        cfloor.counting.add_schedule(MANAGER, "ZA", "zone", "A", 0)
    s = cfloor.counting.add_schedule(MANAGER, "ZA", "zone", "a", 5)["schedule"]
    assert (s["scope"], s["target"], s["every_days"], s["created_at"]) == ("zone", "A", 5, iso(T0))

    # day 0: bins 0 and 1 of 10 are due (bin i first falls due i*5//10 days in); again: nothing new
    r = cfloor.counting.schedule_due()
    assert (r["created"], r["locations"], r["by_schedule"]) == (2, bins[:2], {"ZA": 2})
    assert cfloor.counting.schedule_due()["created"] == 0
    clock["now"] = T0 + DAY
    assert cfloor.counting.schedule_due()["locations"] == bins[2:4]
    d = cfloor.counting.due(COUNTER)
    assert [(t["location"], t["due_at"], t["state"]) for t in d["tasks"]] == [
        (bins[0], iso(T0), "due"), (bins[1], iso(T0), "due"), (bins[2], iso(T0 + DAY), "due"), (bins[3], iso(T0 + DAY), "due")]
    assert d["next"] == f"Count bin {bins[0]} first"

    # day 3: the day-0 bins are more than edge.count_overdue_days (2) late
    clock["now"] = T0 + 3 * DAY
    assert cfloor.counting.schedule_due()["locations"] == bins[4:8]     # days 2 and 3 fell due
    d = cfloor.counting.due(COUNTER)
    assert (d["due"], d["overdue"]) == (6, 2)
    assert [t["state"] for t in d["tasks"][:3]] == ["overdue", "overdue", "due"]

    # counting every SKU of bin 0 closes its task; its next count is 5 days after this count
    out = count_bin(cfloor, COUNTER, bins[0])
    assert out["count_task"]["status"] == "done" and out["next"] == f"Bin {bins[0]} done: next due count is bin {bins[1]}"
    task = cfloor.store.read(lambda c: c.execute("SELECT * FROM count_tasks WHERE location = ?", (bins[0],)).fetchone())
    assert (task["status"], task["done_at"], task["done_by"]) == ("done", iso(T0 + 3 * DAY), "counter1")
    clock["now"] = T0 + 4 * DAY
    assert cfloor.counting.schedule_due()["locations"] == bins[8:10]
    clock["now"] = T0 + 8 * DAY - dt.timedelta(minutes=1)
    assert bins[0] not in cfloor.counting.schedule_due()["locations"]
    clock["now"] = T0 + 8 * DAY
    assert cfloor.counting.schedule_due()["locations"] == [bins[0]]
    assert [(r["action"], r["ok"]) for r in cfloor.store.read(lambda c: db.audit_rows(c, subject="count_schedules"))][:1] == \
        [("count.scheduled", 1)]

    # removing the schedule cancels its open tasks
    rm = cfloor.counting.remove_schedule(MANAGER, "ZA")
    assert rm["cancelled_tasks"] == 10 and cfloor.counting.due()["tasks"] == []
    with pytest.raises(NotFound):
        cfloor.counting.remove_schedule(MANAGER, "ZA")


def test_abc_schedule_counts_the_fastest_movers(cfloor, clock):
    release(cfloor.store, "FO-1", [("SKU-0001", 5), ("SKU-0002", 3), ("SKU-0004", 1)])
    pick_all(cfloor, PICKER, cfloor.picking.start(PICKER, fo_id="FO-1"))
    classes = cfloor.store.read(lambda c: cfloor.counting.abc_classes(c, clock["now"]))
    # 29 stocked SKUs: ceil(20 %) = 6 could be A, but only the 3 picked SKUs have any velocity
    assert sorted(s for s, k in classes.items() if k == "A") == ["SKU-0001", "SKU-0002", "SKU-0004"]
    assert sum(k == "C" for k in classes.values()) == 26
    hot = [b["code"] for b in cfloor.store.read(db.stocked_bins) if set(b["skus"]) & {"SKU-0001", "SKU-0002", "SKU-0004"}]
    cfloor.counting.add_schedule(MANAGER, "FAST", "abc", "A", 7)
    r = cfloor.counting.schedule_due()      # 3 bins over 7 days: offsets 0, 2, 4
    assert r["locations"] == hot[:1]
    clock["now"] = T0 + 2 * DAY
    assert cfloor.counting.schedule_due()["locations"] == hot[1:2]
    clock["now"] = T0 + 4 * DAY
    assert cfloor.counting.schedule_due()["locations"] == hot[2:3]
    assert [t["abc_class"] for t in cfloor.counting.due()["tasks"]] == ["A", "A", "A"]
    with pytest.raises(InvalidState, match="ABC class"):
        cfloor.counting.add_schedule(MANAGER, "X", "abc", "D", 7)


def test_count_schedule_api_and_console(cfloor, clock):
    from edge.web import create_app

    app = create_app(cfloor.full_cfg, cfloor.store, floor=cfloor)
    client = app.test_client()
    h = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "manager1", "pin": "9999"}).json["token"]}
    r = client.post("/api/counts/schedules", json={"schedule_id": "ZB", "scope": "zone", "target": "B", "every_days": 10}, headers=h)
    assert r.status_code == 200 and r.json["next"] == "Run the scheduler to create the counts that are due"
    r = client.post("/api/counts/schedules", json={"schedule_id": "bad id!", "scope": "zone", "target": "B", "every_days": 10},
                    headers=h)
    assert r.status_code == 409 and r.json["error"] == "invalid_state"
    r = client.post("/api/counts/schedule", json={}, headers=h)
    assert len(zone_bins(cfloor, "B")) == 11       # bins 0 and 1 of 11 are due on day 0 (i*10//11 == 0)
    assert r.json["created"] == 2 and r.json["next"] == "2 new count task(s): see the due counts"
    due = client.get("/api/counts/due", headers=h).json
    assert due["due"] == 2 and [t["location"] for t in due["tasks"]] == zone_bins(cfloor, "B")[:2]
    console = client.get("/api/console", headers=h).json
    assert console["count_due"]["due"] == 2 and console["count_due"]["tasks"][0]["schedule_id"] == "ZB"
    assert [s["schedule_id"] for s in client.get("/api/counts/schedules", headers=h).json["schedules"]] == ["ZB"]
    assert client.delete("/api/counts/schedules/ZB", headers=h).json["cancelled_tasks"] == 2


def test_counts_cli_and_the_runtime_tick(tmp_path, catalog_file):
    from floorsync import cli as cli_mod

    env = {"FLOORSYNC_EDGE_SITE_ID": "EWR1", "FLOORSYNC_DEVICES_PRINTER_KIND": "none", "FLOORSYNC_EDGE_COUNT_TICK_S": "0.2",
           "FLOORSYNC_DEVICES_DISCOVERY_ADVERTISE": "false"}
    runner = CliRunner()

    def run(*args):
        r = runner.invoke(cli_mod.build(), ["--data-dir", str(tmp_path), *args], env=env, catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return r.output

    run("edge", "seed", "--catalog", str(catalog_file), "--no-users")
    assert run("edge", "counts", "schedules") == "no count schedules\n"
    assert run("edge", "counts", "add", "ZC", "--zone", "C", "--every", "3") == "schedule ZC: zone C every 3 day(s)\n"
    r = runner.invoke(cli_mod.build(), ["--data-dir", str(tmp_path), "edge", "counts", "add", "X", "--every", "3"], env=env)
    assert r.exit_code == 2 and "exactly one of --zone or --abc" in r.output
    assert run("edge", "counts", "due") == "0 due, 0 overdue\n"
    # the runtime's periodic tick creates the due tasks by itself
    from edge.runtime import EdgeNode
    from floorsync import config as config_mod

    cfg = config_mod.load(None, env={**env, "FLOORSYNC_GENERAL_DATA_DIR": str(tmp_path)})
    node = EdgeNode(cfg)
    node.start(with_sync=False)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not node.store.read(db.count_task_open_locations):
            time.sleep(0.05)
        open_bins = node.store.read(db.count_task_open_locations)
    finally:
        node.stop()
    assert node._ticker is not None and not node._ticker.is_alive()
    n_c = 10    # zone C bins with stock; bin i is first due i*3//10 days in: 4 bins on day 0
    assert len(open_bins) == sum(1 for i in range(n_c) if i * 3 // n_c == 0) == 4
    out = json.loads(run("edge", "counts", "due", "--json"))
    assert (out["due"], out["overdue"], len(out["tasks"])) == (4, 0, 4)
    assert json.loads(run("edge", "counts", "schedule")) == {"created": 0, "by_schedule": {}, "open_tasks": 4}
    assert "ZC\tzone C\tevery 3 d\tactive" in run("edge", "counts", "schedules")
    assert run("edge", "counts", "remove", "ZC") == "schedule ZC removed; 4 open count task(s) cancelled\n"
