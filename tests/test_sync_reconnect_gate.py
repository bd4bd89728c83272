"""After a reconnect, central's commands queued during the outage (holds, cancels) apply before any
new pick run or pack start: the edge waits for the down stream's head that central announces in its
ack, for at most ``sync.reconnect_gate_s`` (a slow or absent central never stops the floor)."""
from __future__ import annotations

import time

import pytest

from edge.errors import CatchingUp
from sync.central_node import CentralSync
from sync.core.control import catchup_gate
from sync.edge_node import EdgeSync
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_sync import *  # noqa: F401,F403
from tests.fixtures_sync import central_emit, edge_inbox, open_central, open_edge, sku_body, small_catalog, wait_until

pytestmark = pytest.mark.mqtt


def test_the_gate_rule():
    assert catchup_gate(None, 5.0, 10, 0) is None                       # not reconnecting: no gate
    assert catchup_gate(20.0, 5.0, None, 0) == "reconnected: waiting for central's queued commands"
    assert catchup_gate(20.0, 5.0, 10, 7) == "reconnected: applying central's queued commands (3 to go)"
    assert catchup_gate(20.0, 5.0, 10, 10) is None                      # caught up
    assert catchup_gate(20.0, 20.0, 10, 7) is None                      # waited long enough: the floor goes on


def test_new_work_waits_until_the_commands_queued_during_the_outage_are_applied(sync_broker, tmp_path):
    cat = small_catalog()
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", cat)
    central = CentralSync(sync_broker.cfg("central"), cstore)
    central.start()
    assert central.wait_ready()
    edge = EdgeSync(sync_broker.cfg("EWR1", reconnect_gate_s=60), estore, digest_fn=False)
    edge.start()
    assert edge.wait_ready()
    try:
        wait_until(lambda: edge.floor_gate() is None, 20, "first catch-up done")
        edge.stop()
        skus = [s["sku"] for s in cat["skus"]]
        head = [central_emit(cstore, "EWR1", "sku.upsert", sku_body(skus[i % len(skus)], i)).seq
                for i in range(1500)][-1]
        wait_until(lambda: central.status()["sites"]["EWR1"]["down"]["head_seq"] == head, 10, "central knows its head")
        edge = EdgeSync(sync_broker.cfg("EWR1", reconnect_gate_s=60), estore, digest_fn=False)
        edge.start()
        assert edge.wait_ready()
        seen, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline:
            why, applied = edge.floor_gate(), edge.seq_down.applied
            seen.append(why)
            if why is None:
                # the gate opened: everything central had queued is applied (never earlier)
                assert applied >= head
                break
            time.sleep(0.005)
        assert seen[-1] is None and any(w and w.startswith("reconnected:") for w in seen)
        assert len(edge_inbox(estore)) == head
        assert edge.floor_gate() is None  # stays open until the next reconnect
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()


def test_without_central_the_floor_waits_only_the_bounded_time(sync_broker, tmp_path):
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", small_catalog())
    edge = EdgeSync(sync_broker.cfg("EWR1", reconnect_gate_s=4.0), estore, digest_fn=False)
    edge.start()
    try:
        assert edge.wait_ready()
        assert edge.floor_gate() == "reconnected: waiting for central's queued commands"  # nobody acks
        t0 = time.monotonic()
        wait_until(lambda: edge.floor_gate() is None, 15, "gate opened after reconnect_gate_s")
        assert time.monotonic() - t0 < 4.5
    finally:
        edge.stop()
        estore.close()


def test_pick_and_pack_starts_are_refused_while_catching_up(floor):
    from edge.services import Actor

    gate = ["reconnected: applying central's queued commands (3 to go)"]
    floor.sync_gate = lambda: gate[0]
    for start in (lambda: floor.picking.start(Actor("picker1", "picker")),
                  lambda: floor.packing.start(Actor("packer1", "packer"), "FO-1")):
        with pytest.raises(CatchingUp) as err:
            start()
        assert err.value.message == gate[0] and err.value.next == "Wait a few seconds and scan again"
    gate[0] = None
    assert floor.picking.start(Actor("picker1", "picker"))["next"]  # the gate is open: work goes on
