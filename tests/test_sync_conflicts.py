"""DESIGN §3's conflict rules end to end: the real edge floor services and central's order service,
their own stores, EdgeSync <-> CentralSync through the generated Mosquitto, and a WAN outage
(the edge's sync runtime stopped while the floor keeps working and central keeps deciding).

- quantities merge as deltas: the edge's offline receipts, counts and picks and central's
  concurrent adjustments and reservations on the same SKUs all survive, with exact final numbers;
  the differing balances raise a drift alert, never an overwrite;
- holds and cancellations sent while the edge is offline are applied on reconnect before any new
  pick or label: the stale pick task is refused ("cancelled — return items to location X"), the held
  order cannot be picked or packed, and new work released after them never includes them;
- physical facts win: an offline shipment of an order central cancelled meanwhile is applied and the
  order becomes `exception`.
"""
from __future__ import annotations

import pytest

from edge import store as db
from edge.errors import OrderBlocked, StaleTask
from edge.services import Actor
from floorsync import config as config_mod
from sync.central_node import CentralSync
from sync.edge_node import EdgeSync
from tests.fixtures_sync import *  # noqa: F401,F403
from tests.fixtures_sync import MERCHANT, edge_inbox, open_central, outbox_depth, small_catalog, wait_until

pytestmark = pytest.mark.mqtt

PICKER = Actor("picker1", "picker")
PICKER2 = Actor("picker2", "picker")
PACKER = Actor("packer1", "packer")
RECEIVER = Actor("receiver1", "receiver")
COUNTER = Actor("counter1", "counter")
COUNTER2 = Actor("counter2", "counter")


class World:
    """Central (service + store + CentralSync) and one edge (floor services + store + EdgeSync) for
    EWR1, seeded from the same catalog, on the generated broker."""

    def __init__(self, broker, tmp_path):
        from central import sync_handlers
        from central.services import CentralService
        from edge.seed import seed
        from edge.services import Floor
        from edge.store import EdgeStore
        from edge.weighing import FixedWeightSource

        self.broker = broker
        self.cat = small_catalog(("EWR1",))
        self.cstore = open_central(f"sqlite:///{tmp_path}/central.db", self.cat)
        self.svc = CentralService(self.cstore)
        sync_handlers.configure(self.svc.ops)
        self.central = CentralSync(broker.cfg("central"), self.cstore, set_health=self.svc.set_site_health)
        self.central.start()
        assert self.central.wait_ready()
        self.cfg = self._edge_cfg(tmp_path)
        self.estore = EdgeStore(str(tmp_path / "ewr1.db"), "EWR1")
        self.floor = Floor(self.cfg, self.estore, weight_source=FixedWeightSource(0))
        seed(self.floor, self.cat)
        self.edge: EdgeSync | None = None
        self.online()
        self.seed_on_hand = {r["sku"]: r["qty"] for r in self.cat["stock"] if r["site_id"] == "EWR1"}

    def _edge_cfg(self, tmp_path):
        env = {"FLOORSYNC_BROKER_HOST": "127.0.0.1", "FLOORSYNC_BROKER_PORT": str(self.broker.port),
               "FLOORSYNC_BROKER_USERNAME": "EWR1", "FLOORSYNC_BROKER_PASSWORD": self.broker.creds["EWR1"],
               "FLOORSYNC_GENERAL_DATA_DIR": str(tmp_path), "FLOORSYNC_EDGE_SITE_ID": "EWR1",
               "FLOORSYNC_DEVICES_SCAN_DEBOUNCE_MS": "0", "FLOORSYNC_DEVICES_PRINTER_KIND": "none",
               "FLOORSYNC_SYNC_ACK_TIMEOUT_S": "1"}
        return config_mod.load(None, env=env)

    # ---- the WAN
    def online(self):
        self.edge = EdgeSync(self.cfg, self.estore, lambda: {"printers_ok": True})
        self.edge.start()
        assert self.edge.wait_ready()

    def offline(self):
        self.edge.stop()

    def settle(self, timeout=20):
        """Both streams drained: the edge's outbox acknowledged and central's down queue acknowledged."""
        wait_until(lambda: outbox_depth(self.estore) == 0, timeout, "edge outbox acknowledged")
        wait_until(lambda: self.central.status()["sites"]["EWR1"]["down"]["outbox_depth"] == 0, timeout,
                   "central's commands acknowledged by the edge")

    # ---- views
    def order(self, coid_or_id: str) -> dict:
        return self.svc.get_order(MERCHANT, coid_or_id)

    def place(self, coid: str, lines) -> tuple[dict, str]:
        from tests.fixtures_central import order_payload

        order, _ = self.svc.create_order(MERCHANT, order_payload(coid, lines))
        [fo] = order["fulfillment_orders"]
        assert fo["site_id"] == "EWR1"
        return order, fo["fo_id"]

    def central_stock(self, sku: str) -> dict:
        [row] = [s for s in self.svc.inventory_for_sku(MERCHANT, sku)["sites"] if s["site_id"] == "EWR1"]
        return {"on_hand": row["on_hand"], "reserved": row["reserved"]}

    def edge_on_hand(self, sku: str) -> int:
        return self.estore.read(db.on_hand_by_sku).get(sku, 0)

    def edge_fo(self, fo_id: str) -> dict | None:
        return self.estore.read(lambda c: db.fo_get(c, fo_id))

    def bin_of(self, sku: str) -> str:
        return self.estore.read(lambda c: db.stock_by_sku(c, sku))[0]["location"]

    def close(self):
        if self.edge is not None:
            self.edge.stop()
        self.central.stop()
        self.estore.close()
        self.cstore.close()


@pytest.fixture
def world(sync_broker, tmp_path):
    w = World(sync_broker, tmp_path)
    yield w
    w.close()


def _gtin(world, sku: str) -> str:
    return next(s for s in world.cat["skus"] if s["sku"] == sku)["gtins"][0]


def _pick_everything(world, actor, run):
    """Drive a pick run to its end with the handheld's scans: bin label, then the item's barcode."""
    floor = world.floor
    for _ in range(100):
        if not run.get("task"):
            return run
        t = run["task"]
        if run["expect"] == "location":
            run = floor.picking.scan(actor, run["run_id"], t["location"], task_id=t["task_id"])
        t = run["task"]
        run = floor.picking.scan(actor, run["run_id"], _gtin(world, t["sku"]), task_id=t["task_id"],
                                 qty=t["remaining"])
    raise AssertionError("pick run did not end")


def _pack_and_ship(world, actor, fo_id: str) -> dict:
    """Verify every unit, take the suggested carton, weigh within tolerance, ship by scanning the label."""
    floor = world.floor
    v = floor.packing.start(actor, fo_id)
    for ln in v["lines"]:
        if ln["picked"]:
            floor.packing.scan_item(actor, fo_id, _gtin(world, ln["sku"]), qty=ln["picked"])
    floor.packing.carton(actor, fo_id, floor.packing.get(fo_id)["suggested_carton"])
    floor.weight_source.set(world.edge_fo(fo_id)["expected_weight_g"] + 10)
    v = floor.packing.weigh(actor, fo_id)
    assert v["ok"], v
    return floor.shipping.confirm(actor, fo_id, v["tracking_number"])


def test_offline_floor_work_and_central_adjustments_merge_as_deltas(world):
    """While the WAN is down the edge picks an order of SKU-0001, receives 7 x SKU-0002 and counts
    SKU-0004 four short; meanwhile central reserves 2 more SKU-0001 for a new order, writes off 5 x
    SKU-0002 and finds 2 x SKU-0004. After reconnect every delta is merged on both sides."""
    w = world
    s1, s2, s4 = "SKU-0001", "SKU-0002", "SKU-0004"
    seed = w.seed_on_hand
    o1, fo1 = w.place("DELTA-1", [(s1, 3)])
    wait_until(lambda: w.edge_fo(fo1), 20, "order released to the edge")
    assert w.central_stock(s1) == {"on_hand": seed[s1], "reserved": 3}
    w.settle()
    w.offline()

    # ---- the floor, offline
    run = _pick_everything(w, PICKER, w.floor.picking.start(PICKER, fo_id=fo1))
    assert run.get("done") and w.edge_fo(fo1)["status"] == "picked"
    w.floor.receiving.receive(RECEIVER, _gtin(w, s2), qty=7)
    bin4 = w.bin_of(s4)
    counted = seed[s4] - 4
    res = w.floor.counting.submit(COUNTER, bin4, _gtin(w, s4), counted)
    if res["status"] == "recount_required":
        res = w.floor.counting.submit(COUNTER2, bin4, _gtin(w, s4), counted)
    pending = w.estore.read(lambda c: [r[0] for r in c.execute("SELECT type FROM sync_outbox ORDER BY seq")])
    assert pending == ["pick.confirmed", "inventory.received", "cycle_count.recorded"]  # waiting for the WAN

    # ---- central, meanwhile
    w.svc.adjust_inventory(MERCHANT, s2, "EWR1", {"delta": -5, "reason": "damaged in audit"})
    w.svc.adjust_inventory(MERCHANT, s4, "EWR1", {"delta": 2, "reason": "found in audit"})
    o2, fo2 = w.place("DELTA-2", [(s1, 2)])
    assert w.central_stock(s1) == {"on_hand": seed[s1], "reserved": 5}

    w.online()
    w.settle()
    wait_until(lambda: w.edge_fo(fo2), 20, "the order placed during the outage reached the edge")
    wait_until(lambda: w.central.status()["sites"]["EWR1"]["drift"]["alerts"] >= 1, 20,
               "the digest after reconnect was compared")

    # central: every delta from both sides, exactly once
    assert w.central_stock(s1) == {"on_hand": seed[s1], "reserved": 5}          # picked, not shipped: still on hand
    assert w.central_stock(s2)["on_hand"] == seed[s2] + 7 - 5
    assert w.central_stock(s4)["on_hand"] == seed[s4] - 4 + 2
    assert w.order(o1["order_id"])["status"] == "picking"
    # the edge: its own floor facts (central's audit adjustments are central's corrections)
    assert (w.edge_on_hand(s1), w.edge_on_hand(s2), w.edge_on_hand(s4)) == (seed[s1], seed[s2] + 7, seed[s4] - 4)
    # the difference is reported, never overwritten
    drift = w.central.status()["sites"]["EWR1"]["drift"]["last"]["skus"]
    assert drift == {s2: {"edge": seed[s2] + 7, "central": seed[s2] + 2},
                     s4: {"edge": seed[s4] - 4, "central": seed[s4] - 2}}
    check = w.svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0
    types = [r["type"] for r in edge_inbox(w.estore)]
    assert types.count("fulfillment_order.released") == 2


def test_hold_and_cancel_sent_while_offline_apply_before_any_new_pick_or_label(world):
    """The picker has picked part of order A when the WAN drops; central cancels A, holds B and then
    releases C. On reconnect the edge applies them in order: by the time C can be picked, A's stale
    task is refused with where to return the items, B cannot be picked or packed, and a new pick
    run holds C only. No label is printed for A or B."""
    w = world
    s1, s2, s5 = "SKU-0001", "SKU-0002", "SKU-0008"
    oa, fa = w.place("HOLD-A", [(s1, 2), (s2, 1)])
    ob, fb = w.place("HOLD-B", [(s5, 1)])
    wait_until(lambda: w.edge_fo(fa) and w.edge_fo(fb), 20, "orders released to the edge")
    run = w.floor.picking.start(PICKER, fo_id=fa)
    first = run["task"]
    run = w.floor.picking.scan(PICKER, run["run_id"], first["location"], task_id=first["task_id"])
    run = w.floor.picking.scan(PICKER, run["run_id"], _gtin(w, first["sku"]), task_id=first["task_id"],
                               qty=first["remaining"])
    stale = run["task"]
    assert stale is not None and stale["fo_id"] == fa
    w.settle()
    w.offline()

    w.svc.cancel_order(MERCHANT, oa["order_id"], "customer changed mind")
    w.svc.hold_order(MERCHANT, ob["order_id"], "fraud check")
    oc, fc = w.place("HOLD-C", [(s2, 1)])
    assert w.edge_fo(fa)["status"] == "picking" and w.edge_fo(fb)["status"] == "released"  # not known yet

    w.online()
    wait_until(lambda: w.edge_fo(fc), 20, "new work released after the cancel and hold")
    # the moment C exists at the edge, A's cancel and B's hold (earlier in the down stream) are applied
    assert w.edge_fo(fa)["status"] == "cancelled" and w.edge_fo(fb)["status"] == "on_hold"
    with pytest.raises(StaleTask, match=f"cancelled — return items to location {first['location']}"):
        w.floor.picking.scan(PICKER, run["run_id"], stale["location"], task_id=stale["task_id"])
    with pytest.raises(OrderBlocked, match="on hold: fraud check"):
        w.floor.picking.start(PICKER2, fo_id=fb)
    with pytest.raises(OrderBlocked, match=f"cancelled — return items to location {first['location']}"):
        w.floor.packing.start(PACKER, fa)
    with pytest.raises(OrderBlocked, match="on hold"):
        w.floor.packing.start(PACKER, fb)
    new = w.floor.picking.start(PICKER2)
    assert [o["fo_id"] for o in new["orders"]] == [fc]
    back = w.floor.picking.put_back(PICKER, fa, first["location"])
    assert back["returned_units"] == first["qty"] and back["next"] == "All items returned"
    for fo in (fa, fb):
        assert w.estore.read(lambda c, fo=fo: db.print_jobs_for_fo(c, fo)) == []
    w.settle()
    assert w.order(oa["order_id"])["status"] == "cancelled"
    assert w.order(ob["order_id"])["status"] == "on_hold"
    # A's units went back to their bin: the edge holds what it was seeded with (C is not picked yet)
    assert w.edge_on_hand(s1) == w.seed_on_hand[s1]
    assert w.central_stock(s1) == {"on_hand": w.seed_on_hand[s1], "reserved": 0}


def test_physical_fact_wins_a_shipment_after_cancel_becomes_an_exception(world):
    """The edge picks, packs and ships an order with the real floor services while cut off; central
    cancels it meanwhile. After reconnect the shipment is applied (stock and reservation leave), the
    order becomes `exception`, and the edge's shipment stands."""
    w = world
    sku = "SKU-0001"
    o, fo = w.place("FACT-1", [(sku, 2)])
    wait_until(lambda: w.edge_fo(fo), 20, "order released to the edge")
    w.settle()
    w.offline()
    _pick_everything(w, PICKER, w.floor.picking.start(PICKER, fo_id=fo))
    shipped = _pack_and_ship(w, PACKER, fo)
    assert shipped["ok"] and w.edge_fo(fo)["status"] == "shipped"
    w.svc.cancel_order(MERCHANT, o["order_id"], "customer asked")
    assert w.order(o["order_id"])["status"] == "cancelled"
    assert w.central_stock(sku) == {"on_hand": w.seed_on_hand[sku], "reserved": 0}
    w.online()
    wait_until(lambda: w.order(o["order_id"])["status"] == "exception", 20, "shipment after cancel: exception")
    w.settle()
    assert w.central_stock(sku) == {"on_hand": w.seed_on_hand[sku] - 2, "reserved": 0}
    assert w.edge_fo(fo)["status"] == "shipped"
    assert w.edge_on_hand(sku) == w.seed_on_hand[sku] - 2
    assert any(r["type"] == "order.cancelled" for r in edge_inbox(w.estore))
    check = w.svc.verify_ledger()
    assert check["mismatches"] == [] and check["oversold_units"] == 0
