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


# ---------------------------------------------------------------------------- batched apply == one by one
from tests.fixtures_central import CATALOG, CATALOG_B, central_pg_url, central_store, svc  # noqa: E402,F401


def _up(seq, kind, body, merchant="acme", site="EWR1"):
    from sync.core.envelope import Envelope

    return Envelope(1, f"ev-{site}-{seq}", merchant, site, "up", seq, "e1", kind, "2026-01-01T00:00:00Z", body)


def _mixed_run():
    adj = lambda seq, sku, d, m="acme": _up(seq, "inventory.adjusted",  # noqa: E731
                                             {"sku": sku, "delta": d, "reason": "r", "location": "A-1"}, m)
    return [
        adj(1, "SKU-1", -2), adj(2, "SKU-1", -3),            # 10 -> 8 -> 5: crosses the threshold (6) once
        _up(3, "inventory.received", {"sku": "SKU-1", "qty": 4, "location": "A-1", "quarantine": False}),
        adj(4, "SKU-1", -4, "bolt"),                          # same SKU, other merchant: its own balance
        adj(5, "SKU-1", -4),                                  # 9 -> 5: crosses again
        # a non-delta event in the middle sees every change before it (balances after seq 1-5)
        _up(6, "inventory.digest", {"as_of_seq": 5, "balances": {"SKU-1": 8, "SKU-2": 4}}),
        _up(7, "cycle_count.recorded", {"sku": "SKU-2", "location": "A-1", "counted": 4, "expected": 4}),
        _up(8, "cycle_count.recorded", {"sku": "SKU-2", "location": "A-1", "counted": 1, "expected": 3}),
        _up(9, "inventory.received", {"sku": "SKU-5", "qty": 2, "location": "Q", "quarantine": True}),  # new row
        _up(10, "return.received", {"sku": "SKU-1", "qty": 2, "rma_id": "R-1"}),
        _up(11, "return.graded", {"sku": "SKU-1", "qty": 1, "rma_id": "R-1", "grade": "A", "restocked": True}),
        _up(12, "return.graded", {"sku": "SKU-1", "qty": 1, "rma_id": "R-1", "grade": "scrap", "restocked": False}),
        adj(13, "SKU-2", 5),
    ]


def _state(service):
    from central.store import CentralQueries

    q = CentralQueries()
    with service.store.read() as conn:
        inv = sorted((r["merchant_id"], r["sku"], r["site_id"], r["on_hand"], r["reserved"], r["in_transit"],
                      r["quarantine"]) for r in q.all_inventory(conn))
        ledger = []
        for m, sku in (("acme", "SKU-1"), ("acme", "SKU-2"), ("acme", "SKU-5"), ("bolt", "SKU-1")):
            ledger += [(r["merchant_id"], r["sku"], r["site_id"], r["cause"], r["actor"], r["ref"], r["d_on_hand"],
                        r["d_quarantine"], r["on_hand_after"], r["reserved_after"])
                       for r in reversed(q.ledger_rows(conn, m, sku)) if r["cause"] != "seed"]
    alerts = sorted((a["kind"], a.get("sku"), a["site_id"], a["message"]) for a in service.list_alerts(None))
    return inv, ledger, alerts


def test_a_batched_run_has_the_effects_of_applying_one_by_one(svc, tmp_path):
    """``apply_up_batch`` (set-based stock deltas, the sync runtime's path) against ``apply_up_event`` per
    envelope on a second database: same balances, same ledger rows with the same running balances, the
    same low-stock alerts (each crossing), and a digest in the middle sees exactly the changes before it."""
    import copy

    from central import sync_handlers
    from central.services import CentralService
    from central.store import CentralStore

    ref_store = CentralStore(f"sqlite:///{tmp_path}/reference.db")
    ref_store.create_all()
    ref = CentralService(ref_store)
    ref.seed_catalog(copy.deepcopy(CATALOG))
    ref.seed_catalog(copy.deepcopy(CATALOG_B))
    try:
        for service in (svc, ref):
            service.adjust_inventory("acme", "SKU-1", "EWR1", {"low_stock_threshold": 6})
        run = _mixed_run()
        sync_handlers.configure(ref.ops)
        one_by_one = [ref.store.run(lambda conn, e=e: sync_handlers.apply_up_event(conn, e)) for e in run]
        sync_handlers.configure(svc.ops)
        batched = svc.store.run(lambda conn: sync_handlers.apply_up_batch(conn, run))
        assert batched == one_by_one
        assert batched[5] == {"applied": "inventory.digest", "drift": {}}   # SKU-1: acme 10-2-3+4-4 + bolt 7-4
        got, want = _state(svc), _state(ref)
        assert got == want
        inv, ledger, alerts = got
        assert ("acme", "SKU-1", "EWR1", 6, 0, 0, 0) in inv     # 10-2-3+4-4+1 on hand, 2-1-1 quarantine
        assert ("acme", "SKU-2", "EWR1", 7, 0, 0, 0) in inv     # 4-2+5
        assert ("acme", "SKU-5", "EWR1", 0, 0, 0, 2) in inv     # a row created by the receipt
        assert ("bolt", "SKU-1", "EWR1", 3, 0, 0, 0) in inv
        assert [r[8] for r in ledger if r[:2] == ("acme", "SKU-1")] == [8, 5, 9, 5, 5, 6, 6]
        assert [a[0] for a in alerts] == ["low_stock", "low_stock"]
        assert svc.verify_ledger()["mismatches"] == []
    finally:
        ref_store.close()


def test_a_batched_run_with_open_backorders_allocates_them_change_by_change(svc):
    from central import sync_handlers
    from tests.fixtures_central import order_payload

    a, _ = svc.create_order("acme", order_payload("B-1", [("SKU-4", 2)]))
    b, _ = svc.create_order("acme", order_payload("B-2", [("SKU-4", 2)]))
    assert a["status"] == b["status"] == "backordered"
    sync_handlers.configure(svc.ops)
    svc.store.run(lambda conn: sync_handlers.apply_up_batch(conn, [
        _up(1, "inventory.adjusted", {"sku": "SKU-1", "delta": -1, "reason": "r", "location": "A-1"}),
        _up(2, "inventory.received", {"sku": "SKU-4", "qty": 3, "location": "A-1", "quarantine": False})]))
    a2, b2 = svc.get_order("acme", a["order_id"]), svc.get_order("acme", b["order_id"])
    assert a2["status"] == "released" and a2["lines"][0]["qty_allocated"] == 2
    assert (b2["lines"][0]["qty_allocated"], b2["lines"][0]["qty_backordered"]) == (1, 1)
    with svc.store.read() as conn:
        rows = {(r["sku"], r["site_id"]): r for r in svc.ops.q.all_inventory(conn) if r["merchant_id"] == "acme"}
    assert (rows[("SKU-4", "EWR1")]["on_hand"], rows[("SKU-4", "EWR1")]["reserved"]) == (3, 3)
    assert rows[("SKU-1", "EWR1")]["on_hand"] == 9


def test_a_batched_run_refuses_a_merchant_outside_the_site_network(svc):
    from central import sync_handlers
    from central.errors import Forbidden

    sync_handlers.configure(svc.ops)
    run = [_up(1, "inventory.adjusted", {"sku": "SKU-1", "delta": -1, "reason": "r", "location": "A-1"}),
           _up(2, "inventory.adjusted", {"sku": "SKU-1", "delta": -1, "reason": "r", "location": "A-1"}, "bolt",
               "LAX1")]
    with pytest.raises(Forbidden):
        svc.store.run(lambda conn: sync_handlers.apply_up_batch(conn, run))
    with svc.store.read() as conn:
        rows = {(r["merchant_id"], r["sku"], r["site_id"]): r["on_hand"] for r in svc.ops.q.all_inventory(conn)}
    assert rows[("acme", "SKU-1", "EWR1")] == 10   # nothing applied


def test_a_refused_envelope_inside_a_run_is_parked_and_the_rest_apply_once(sync_broker, tmp_path):
    """One MQTT message = one ready run: stock deltas around a pick for an unknown fulfillment order. The
    set-based run fails as a whole, is redone envelope by envelope: the pick is parked (consumed, kept
    for ops), every delta is applied exactly once, the ack names the whole run, and a replay changes nothing."""
    import json

    from sync.core import control, topics
    from sync.core.envelope import Envelope, encode_batch
    from tests.fixtures_sync import Raw

    b = sync_broker
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", small_catalog())
    central = CentralSync(b.cfg("central"), cstore)
    central.start()
    assert central.wait_ready()
    edge = Raw(b.port, "EWR1", b.creds["EWR1"], "raw-edge")
    try:
        edge.sub(topics.ack_up("EWR1"))
        before = central_on_hand(cstore, "EWR1")
        adj = {"sku": "SKU-0001", "reason": "found", "location": "A-01-01-1"}
        pick = {"fo_id": "FO-NOPE", "line_id": "1", "sku": "SKU-0001", "qty": 1, "location": "A-01-01-1"}
        kinds = [("inventory.adjusted", {**adj, "delta": 5}), ("inventory.adjusted", {**adj, "delta": -2}),
                 ("pick.confirmed", pick), ("inventory.adjusted", {**adj, "delta": 4}),
                 ("cycle_count.recorded", {"sku": "SKU-0002", "location": "A-01-01-1", "counted": 1, "expected": 3})]
        envs = [Envelope(1, f"ev-{i}", MERCHANT, "EWR1", "up", i, "E1", k, "2026-11-23T10:00:00Z", body)
                for i, (k, body) in enumerate(kinds, start=1)]
        edge.pub(topics.up_hello("EWR1"), control.hello(epoch="E1", epoch_base=0, session=1, down_epoch=None,
                                                        down_applied=0))
        edge.pub(topics.up_events("EWR1"), encode_batch(envs))
        wait_until(lambda: central.status()["sites"]["EWR1"]["up"]["applied_seq"] == 5, 10, "the run consumed")
        up = central.status()["sites"]["EWR1"]["up"]
        assert (up["applied"], up["parked"], up["duplicates"]) == (4, 1, 0)
        assert [(r["seq"], r["status"]) for r in central_inbox(cstore, "EWR1")] == [
            (1, "applied"), (2, "applied"), (3, "parked"), (4, "applied"), (5, "applied")]
        after = central_on_hand(cstore, "EWR1")
        assert after["SKU-0001"] == before["SKU-0001"] + 7 and after["SKU-0002"] == before["SKU-0002"] - 2
        acks = [json.loads(p) for t, p in edge.drain(0.5) if t == topics.ack_up("EWR1")]
        assert acks and acks[-1]["seq"] == 5 and acks[-1]["epoch"] == "E1"
        assert central.recent()["parked"][0]["reason"] == "apply_failed"
        edge.pub(topics.up_events("EWR1"), encode_batch(envs))   # replayed: all duplicates, nothing changes
        wait_until(lambda: central.status()["sites"]["EWR1"]["up"]["duplicates"] == 5, 10, "the replay counted")
        # the sender evidently missed the ack: it is repeated (once per message of duplicates)
        assert [json.loads(p)["seq"] for t, p in edge.drain(0.5) if t == topics.ack_up("EWR1")] == [5]
        assert central_on_hand(cstore, "EWR1") == after
        assert len(central_inbox(cstore, "EWR1")) == 5
    finally:
        edge.close()
        central.stop()
        cstore.close()


def test_central_losing_confirmed_events_is_raised_on_both_dashboards(sync_broker, tmp_path):
    """Central's database is replaced by an empty one after the edge retired 40 confirmed events: the
    new central asks to resend from seq 1, which the edge no longer holds. Nothing is skipped silently:
    the edge reports the loss (status, /sync panel, heartbeat) and central's dashboard shows it."""
    from flask import Flask

    cat = small_catalog()
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", cat)
    edge = EdgeSync(sync_broker.cfg("EWR1", heartbeat_s=0.3), estore, digest_fn=False)
    old_store = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    central = CentralSync(sync_broker.cfg("central", heartbeat_s=0.3), old_store)
    central.start()
    assert central.wait_ready()
    edge.start()
    assert edge.wait_ready()
    fresh = None
    try:
        skus = [s["sku"] for s in cat["skus"]]
        for i in range(40):
            edge_adjust(estore, MERCHANT, skus[i % len(skus)], 1)
        wait_until(lambda: outbox_depth(estore) == 0, 30, "edge outbox drained and retired")
        assert edge.status()["central_lost"] is None
        central.stop()
        old_store.close()
        fresh = open_central(f"sqlite:///{tmp_path}/central-empty.db", cat)
        central = CentralSync(sync_broker.cfg("central", heartbeat_s=0.3), fresh)
        central.start()
        assert central.wait_ready()
        for i in range(3):
            edge_adjust(estore, MERCHANT, skus[0], 1)
        lost = wait_until(lambda: edge.status()["central_lost"], 20, "edge noticed central lost events")
        assert lost["wanted_from"] == 1 and lost["retired_through"] == 40
        assert "resend from seq 1" in lost["message"] and "seqs up to 40" in lost["message"]
        alert = wait_until(lambda: central.status()["sites"]["EWR1"]["alert"], 20, "alert reached central")
        assert alert == lost["message"]
        assert central_inbox(fresh, "EWR1") == []  # nothing applied out of order to paper over the gap
        assert outbox_depth(estore) == 3  # the three new events stay queued, not retired
        app = Flask(__name__)
        app.register_blueprint(edge.blueprint())
        html = app.test_client().get("/sync").get_data(as_text=True)
        assert "Central lost confirmed events" in html and "seqs up to 40" in html
        app = Flask(__name__)
        app.register_blueprint(central.blueprint())
        html = app.test_client().get("/sync").get_data(as_text=True)
        assert 'role="alert">central asks to resend from seq 1' in html
    finally:
        edge.stop()
        central.stop()
        estore.close()
        if fresh is not None:
            fresh.close()
