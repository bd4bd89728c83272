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
    assert central.wait_ready()
    edge.start()
    assert edge.wait_ready()
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


def test_every_message_twice_then_the_whole_stream_replayed(sync_broker, tmp_path):
    """Both directions: each MQTT message is published twice, then every up message is replayed
    once more after the drain. Nothing is applied twice; duplicates are counted."""
    from tests.test_sync_broker import Raw

    cat = small_catalog()
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", cat)
    central = CentralSync(sync_broker.cfg("central"), cstore)
    edge = EdgeSync(sync_broker.cfg("EWR1", batch_size=20), estore, digest_fn=False)
    sent: list[tuple[str, bytes]] = []

    def twice(transport, record):
        orig = transport.publish

        def publish(topic, payload, **kw):
            if record and topic.endswith("/up/events"):
                sent.append((topic, payload))
            return orig(topic, payload, **kw) and orig(topic, payload, **kw)
        transport.publish = publish
    central.start()
    assert central.wait_ready()
    edge.start()
    assert edge.wait_ready()
    twice(central.transport, False)
    twice(edge.transport, True)
    try:
        skus = [s["sku"] for s in cat["skus"]]
        before = central_on_hand(cstore, "EWR1")
        n = 400
        for i in range(n):
            edge_adjust(estore, MERCHANT, skus[i % len(skus)], 1)
        heads = [central_emit(cstore, "EWR1", "sku.upsert", sku_body(skus[i % len(skus)], i)).seq for i in range(100)]
        wait_until(lambda: outbox_depth(estore) == 0, 30, "edge outbox drained")
        wait_until(lambda: edge.status()["down"]["applied_seq"] == heads[-1], 30, "down stream applied")
        dups_before = central.status()["sites"]["EWR1"]["up"]["duplicates"]
        assert dups_before >= n  # every envelope arrived at least twice
        edge.stop()
        replayer = Raw(sync_broker.port, "EWR1", sync_broker.creds["EWR1"], "replay")
        for topic, payload in sent:
            replayer.pub(topic, payload)
        wait_until(lambda: central.status()["sites"]["EWR1"]["up"]["duplicates"] >= dups_before + n, 30,
                   "replayed stream counted as duplicates")
        replayer.close()
        rows = central_inbox(cstore, "EWR1")
        assert len(rows) == n and len({r["event_id"] for r in rows}) == n
        after = central_on_hand(cstore, "EWR1")
        assert sum(after.values()) - sum(before.values()) == n
        assert after == edge_on_hand(estore) | {k: v for k, v in after.items() if k not in edge_on_hand(estore)}
        down = edge_inbox(estore)
        assert [r["seq"] for r in down] == list(range(1, heads[-1] + 1))
        assert edge.status()["down"]["duplicates"] >= 100
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()


def test_5000_commands_to_an_offline_edge_beyond_the_broker_queue(sync_broker, tmp_path):
    """Central pushes 5,000 commands (one per MQTT message, all of them let out at once) while the
    edge is offline: the broker keeps only 1,000 (max_queued_messages); after reconnect all 5,000
    are applied once, in order, from the edge's acknowledged cursor."""
    cat = small_catalog()
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", cat)
    central = CentralSync(sync_broker.cfg("central", batch_size=1, max_inflight=6000), cstore)
    central.start()
    assert central.wait_ready()
    edge = EdgeSync(sync_broker.cfg("EWR1"), estore, digest_fn=False)
    edge.start()  # a first connection creates the persistent session the broker queues for
    try:
        base = wait_until(lambda: edge.status()["down"]["applied_seq"] or None, 20, "seeded commands applied")
        edge.stop()
        skus = [s["sku"] for s in cat["skus"]]
        from sync import central_journal

        with cstore.transaction() as conn:
            for i in range(5000):
                central_journal.emit(conn, "EWR1", "sku.upsert", sku_body(skus[i % len(skus)], i), merchant_id=MERCHANT)
        wait_until(lambda: central.status()["sites"]["EWR1"]["down"]["published"] >= 5000 + base, 30,
                   "central published all 5000 while the edge is away")
        edge = EdgeSync(sync_broker.cfg("EWR1"), estore, digest_fn=False)
        edge.start()
        assert edge.wait_ready()
        wait_until(lambda: edge.status()["down"]["applied_seq"] == base + 5000, 90, "all 5000 applied", interval=0.2)
        rows = edge_inbox(estore)
        assert [r["seq"] for r in rows] == list(range(1, base + 5001))
        assert all(r["status"] == "applied" for r in rows)
        assert len({r["event_id"] for r in rows}) == base + 5000
        # the broker kept at most 1,000 of them: the rest came from central's outbox after the hello
        assert central.status()["sites"]["EWR1"]["down"]["published"] >= base + 5000 + 4000
        wait_until(lambda: central.status()["sites"]["EWR1"]["down"]["outbox_depth"] == 0, 20, "down rows retired")
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()


def test_presence_heartbeats_stale_and_last_will(sync_broker, tmp_path):
    """Heartbeats keep the site fresh in central's site health (what routing reads); 3 missed beats
    mark it stale; a vanished edge's last will says offline with its session counter."""
    import subprocess
    import sys

    from tests.test_sync_broker import Raw

    cat = small_catalog()
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", cat)
    central = CentralSync(sync_broker.cfg("central", heartbeat_s=0.3), cstore)
    edge = EdgeSync(sync_broker.cfg("EWR1", heartbeat_s=0.3), estore, lambda: {"printers_ok": False}, digest_fn=False)
    central.start()
    assert central.wait_ready()
    edge.start()
    assert edge.wait_ready()

    def site_row():
        with cstore.read() as conn:
            return cstore.get_site(conn, "EWR1")
    try:
        row = wait_until(lambda: (lambda r: r if r["last_heartbeat_at"] and not r["stale"] else None)(site_row()), 10,
                         "heartbeat recorded")
        assert row["printers_ok"] in (False, 0)  # device health from the heartbeat reaches routing
        s = central.status()["sites"]["EWR1"]
        assert s["online"] and s["session"] == 1 and s["devices"] == {"printers_ok": False}
        edge.stop()  # clean stop: retained offline, heartbeats stop
        wait_until(lambda: site_row()["stale"] in (True, 1), 5, "stale after 3 missed heartbeats")
        assert central.status()["sites"]["EWR1"]["online"] is False
        # a second run has session 2; its last will (after the network vanishes) says offline, session 2
        edge2 = EdgeSync(sync_broker.cfg("EWR1", heartbeat_s=0.3), estore, digest_fn=False)
        edge2.start()
        assert edge2.wait_ready()
        wait_until(lambda: central.status()["sites"]["EWR1"]["session"] == 2 and not site_row()["stale"]
                   and central.status()["sites"]["EWR1"]["online"], 10, "second session fresh")
        edge2._stop.set()  # the process freezes ...
        edge2._thread.join()
        edge2.transport.client.loop_stop()
        edge2.transport.client.socket().close()  # ... and its connection drops without a DISCONNECT
        wait_until(lambda: central.status()["sites"]["EWR1"]["online"] is False, 20, "central got the last will")
        assert central.status()["sites"]["EWR1"]["session"] == 2
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()


def test_reordering_and_drops_through_a_chaos_relay(sync_broker, tmp_path):
    """The edge talks to the broker through a relay that shuffles its PUBLISH packets within windows
    of 200 and loses 1% of them after acknowledging (3,000 events, one per message): gaps are
    repaired by resend_from, nothing is applied out of order, twice, or lost."""
    from tests.fixtures_sync import ChaosRelay

    cat = small_catalog()
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", cat)
    relay = ChaosRelay(sync_broker.port, window=200, drop=0.01, seed=7)
    central = CentralSync(sync_broker.cfg("central"), cstore)
    ecfg = sync_broker.cfg("EWR1", batch_size=1, max_inflight=400)
    ecfg = ecfg.replace("broker", port=relay.port)
    edge = EdgeSync(ecfg, estore, digest_fn=False)
    central.start()
    assert central.wait_ready()
    edge.start()
    assert edge.wait_ready()
    try:
        n = 3000
        skus = [s["sku"] for s in cat["skus"]]
        before = central_on_hand(cstore, "EWR1")
        from edge import store as db
        from sync import edge_journal
        from tests.fixtures_sync import LOC

        def commit(k):
            def fn(conn):
                for i in range(k):
                    sku = skus[i % len(skus)]
                    edge_journal.emit(conn, "inventory.adjusted", {"sku": sku, "delta": 1, "reason": "chaos",
                                                                    "location": LOC}, merchant_id=MERCHANT)
                    db.stock_add(conn, location=LOC, sku=sku, lot="", expiry=None, delta=1, cause="adjustment",
                                 ref="chaos", user="t")
            estore.write(fn)
        for _ in range(n // 100):
            commit(100)
        wait_until(lambda: outbox_depth(estore) == 0, 120, "drained through the chaos relay", interval=0.2)
        assert relay.stats["dropped"] >= 10 and relay.stats["reordered_windows"] >= 10
        s = central.status()["sites"]["EWR1"]
        assert s["up"]["resend_requested"] >= 1
        rows = central_inbox(cstore, "EWR1")
        assert [r["seq"] for r in rows] == list(range(1, n + 1))  # applied strictly in order
        assert len({r["event_id"] for r in rows}) == n
        after = central_on_hand(cstore, "EWR1")
        assert sum(after.values()) - sum(before.values()) == n
        assert {k: v for k, v in edge_on_hand(estore).items() if v} == {k: v for k, v in after.items() if v}
    finally:
        edge.stop()
        central.stop()
        relay.close()
        estore.close()
        cstore.close()


def test_physical_fact_wins_across_an_outage(sync_broker, tmp_path):
    """Central releases an order to EWR1; the edge, cut off, ships it; meanwhile ops cancel it at
    central. After reconnect the shipment is applied (stock leaves, the order becomes `exception`),
    and the edge keeps the shipment (the late cancellation cannot undo it). Nothing is discarded."""
    from central.services import CentralService
    from edge import store as db
    from sync import edge_journal
    from tests.fixtures_central import order_payload

    cat = small_catalog(("EWR1",))
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    svc = CentralService(cstore)
    from central import sync_handlers

    sync_handlers.configure(svc.ops)
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", cat)
    central = CentralSync(sync_broker.cfg("central"), cstore, set_health=svc.set_site_health)
    central.start()
    assert central.wait_ready()
    edge = EdgeSync(sync_broker.cfg("EWR1"), estore, digest_fn=False)
    edge.start()
    assert edge.wait_ready()
    try:
        sku = next(r["sku"] for r in cat["stock"] if r["site_id"] == "EWR1" and r["qty"] >= 2)
        order, _ = svc.create_order(MERCHANT, order_payload("PF-1", [(sku, 2)]))
        [fo] = order["fulfillment_orders"]
        wait_until(lambda: estore.read(lambda c: db.fo_get(c, fo["fo_id"])), 20, "order released to the edge")
        edge.stop()  # the WAN goes down
        fo_edge = estore.read(lambda c: db.fo_get(c, fo["fo_id"]))
        lines = estore.read(lambda c: db.fo_lines(c, fo["fo_id"]))

        def ship(conn):  # the floor's shipping transaction: status and outbox event commit together
            db.fo_set(conn, fo["fo_id"], status="shipped")
            db.stock_add(conn, location="A-01-01-1", sku=sku, lot="", expiry=None, delta=-2, cause="ship",
                         ref=fo["fo_id"], user="packer")
            edge_journal.emit(conn, "shipment.shipped", {
                "fo_id": fo["fo_id"], "order_id": order["order_id"], "tracking_number": fo_edge["tracking_number"],
                "carrier": fo_edge["carrier"], "service": fo_edge["service"], "weight_g": 500,
                "lines": [{"line_id": ln["line_id"], "sku": ln["sku"], "qty": ln["qty"]} for ln in lines],
                "shipped_at": "2026-11-23T12:00:00Z"}, merchant_id=MERCHANT)
        estore.write(ship)
        before = central_on_hand(cstore, "EWR1")[sku]
        svc.cancel_order(MERCHANT, order["order_id"], "customer asked")
        assert svc.get_order(MERCHANT, order["order_id"])["status"] == "cancelled"
        edge = EdgeSync(sync_broker.cfg("EWR1"), estore, digest_fn=False)
        edge.start()
        wait_until(lambda: svc.get_order(MERCHANT, order["order_id"])["status"] == "exception", 20,
                   "shipment applied after the cancel: order in exception")
        assert central_on_hand(cstore, "EWR1")[sku] == before - 2
        wait_until(lambda: outbox_depth(estore) == 0, 10, "shipment acknowledged")
        wait_until(lambda: any(r["type"] == "order.cancelled" for r in edge_inbox(estore)), 10, "cancel delivered")
        assert estore.read(lambda c: db.fo_get(c, fo["fo_id"]))["status"] == "shipped"  # the fact stands
        assert central_on_hand(cstore, "EWR1") == {k: v for k, v in edge_on_hand(estore).items()
                                                    if k in central_on_hand(cstore, "EWR1")}
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()
