"""Edge <-> central through the generated Mosquitto, with the real edge and central stores."""
from __future__ import annotations

import random

import pytest

from sync.central_node import CentralSync
from sync.edge_node import EdgeSync
from tests.fixtures_sync import *  # noqa: F401,F403
from tests.fixtures_sync import (MERCHANT, central_emit, central_inbox, central_on_hand, edge_adjust, edge_inbox,
                                 edge_on_hand, open_central, open_edge, outbox_depth, sku_body, small_catalog,
                                 wait_until)

pytestmark = pytest.mark.mqtt


def test_both_streams_apply_exactly_once_in_order(sync_broker, tmp_path):
    cat = small_catalog()
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", cat)
    central = CentralSync(sync_broker.cfg("central", heartbeat_s=0.5), cstore)
    edge = EdgeSync(sync_broker.cfg("EWR1", heartbeat_s=0.5), estore, lambda: {"printers_ok": True})
    central.start()
    edge.start()
    try:
        rng = random.Random(1)
        skus = [s["sku"] for s in cat["skus"]]
        for i in range(300):
            edge_adjust(estore, MERCHANT, rng.choice(skus), rng.choice([1, 2, 3]))
        seqs = [central_emit(cstore, "EWR1", "sku.upsert", sku_body(skus[i % len(skus)], i)).seq for i in range(120)]
        head = seqs[-1]  # seeding the catalog released site config/SKUs before these
        wait_until(lambda: outbox_depth(estore) == 0, 30, "edge outbox drained")
        wait_until(lambda: len(edge_inbox(estore)) == head, 30, "down stream applied")
        assert central_on_hand(cstore, "EWR1") == edge_on_hand(estore)
        rows = central_inbox(cstore, "EWR1")
        adjusted = [r for r in rows if r["type"] == "inventory.adjusted"]
        assert len(adjusted) == 300 and len({r["event_id"] for r in rows}) == len(rows)
        assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
        down = edge_inbox(estore)
        assert [r["seq"] for r in down] == list(range(1, head + 1))
        assert seqs == list(range(head - 119, head + 1))
        assert all(r["status"] == "applied" for r in down)
        wait_until(lambda: central.status()["sites"]["EWR1"]["down"]["outbox_depth"] == 0, 10, "down rows retired")
        s = central.status()["sites"]["EWR1"]
        assert s["online"] and not s["stale"] and s["rejected"] == {}
        assert s["drift"]["alerts"] == 0
        e = edge.status()
        assert e["down"]["applied_seq"] == head and e["up"]["outbox_depth"] == 0
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()
