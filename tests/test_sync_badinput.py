"""Bad input on a real broker: each kind is rejected with its reason, counted, nothing is applied,
and the same connection keeps working for valid traffic."""
from __future__ import annotations

import json

import pytest

from sync.central_node import CentralSync
from sync.core import control, topics
from sync.core.envelope import Envelope, encode_batch
from sync.edge_node import EdgeSync
from tests.fixtures_sync import *  # noqa: F401,F403
from tests.fixtures_sync import (MERCHANT, central_inbox, central_on_hand, edge_inbox, open_central, open_edge,
                                 sku_body, small_catalog, wait_until)
from tests.test_sync_broker import Raw

pytestmark = pytest.mark.mqtt
BODY = {"sku": "SKU-0001", "delta": 7, "reason": "found", "location": "A-01-01-1"}


def env(seq, epoch, site="EWR1", merchant=MERCHANT, stream="up", etype="inventory.adjusted", body=None, eid=None):
    return Envelope(1, eid or f"e-{epoch}-{seq}", merchant, site, stream, seq, epoch, etype, "2026-11-23T10:00:00Z",
                    dict(body or BODY))


def raw_batch(envs_as_dicts, epoch, site="EWR1", stream="up"):
    return json.dumps({"v": 1, "site_id": site, "stream": stream, "epoch": epoch, "epoch_base": 0,
                       "envelopes": envs_as_dicts}).encode()


def test_central_rejects_bad_up_input_and_keeps_working(sync_broker, tmp_path):
    b = sync_broker
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", small_catalog())
    central = CentralSync(b.cfg("central", max_payload_bytes=4096, max_ahead=1000), cstore)
    central.start()
    assert central.wait_ready()
    edge = Raw(b.port, "EWR1", b.creds["EWR1"], "x")
    before = central_on_hand(cstore, "EWR1")
    try:
        hello = lambda e: control.hello(epoch=e, epoch_base=0, session=1, down_epoch=None, down_applied=0)  # noqa: E731
        edge.pub(topics.up_hello("EWR1"), hello("E0"))
        edge.pub(topics.up_hello("EWR1"), hello("E1"))  # the edge was rebuilt: E0 is retired
        up = topics.up_events("EWR1")
        good = env(1, "E1").to_dict()
        bad_type = {**good, "seq": "1"}
        missing = {k: v for k, v in good.items() if k != "event_id"}
        bad_body = {**good, "body": {**BODY, "delta": "seven"}}
        unknown_type = {**good, "type": "inventory.stolen"}
        sent = [
            b"{definitely not json",                                     # malformed_json
            json.dumps({"v": 1, "site_id": "EWR1"}).encode(),            # missing_field (stream)
            raw_batch([bad_type], "E1"),                                 # wrong_type
            raw_batch([missing], "E1"),                                  # missing_field
            raw_batch([bad_body], "E1"),                                 # invalid_body
            raw_batch([unknown_type], "E1"),                             # invalid_body
            raw_batch([good], "E1") + b" " * 5000,                       # too_large
            encode_batch([env(1, "E1", merchant="evil-corp")]),          # forbidden (wrong merchant)
            encode_batch([env(1, "E1", site="LAX1")]),                   # wrong_site
            encode_batch([env(1, "E0", eid="replayed")]),                # old_epoch
            encode_batch([env(50_000, "E1")]),                           # seq_far_future
            b'{"v":1,"kind":"heartbeat","session":"x"}',                 # on the heartbeat topic: wrong_type
        ]
        for payload in sent[:-1]:
            edge.pub(up, payload)
        edge.pub(topics.up_heartbeat("EWR1"), sent[-1])
        edge.pub(topics.ack_down("EWR1"), control.ack(stream="up", epoch="E1", seq=5))  # wrong_stream
        expected = {"malformed_json": 1, "missing_field": 2, "wrong_type": 2, "invalid_body": 2, "too_large": 1,
                    "forbidden": 1, "wrong_site": 1, "old_epoch": 1, "seq_far_future": 1, "wrong_stream": 1}
        wait_until(lambda: central.status()["sites"]["EWR1"]["rejected"] == expected, 10, "every rejection counted")
        assert central_inbox(cstore, "EWR1") == []
        assert central_on_hand(cstore, "EWR1") == before
        s = central.status()["sites"]["EWR1"]
        assert s["security_events"] == 2 and s["up"]["applied_seq"] == 0
        # the same connection still works for valid traffic: seq 1 is applied exactly once
        edge.pub(up, encode_batch([env(1, "E1")]))
        wait_until(lambda: len(central_inbox(cstore, "EWR1")) == 1, 10, "valid envelope applied")
        after = central_on_hand(cstore, "EWR1")
        assert after["SKU-0001"] == before["SKU-0001"] + 7
        assert {k: v for k, v in after.items() if k != "SKU-0001"} == {k: v for k, v in before.items() if k != "SKU-0001"}
    finally:
        edge.close()
        central.stop()
        cstore.close()


def test_edge_rejects_bad_down_input_and_keeps_working(sync_broker, tmp_path):
    b = sync_broker
    cat = small_catalog()
    estore = open_edge(tmp_path / "e.db", "EWR1", cat)
    edge = EdgeSync(b.cfg("EWR1", max_payload_bytes=4096), estore, digest_fn=False)
    edge.start()
    assert edge.wait_ready()
    central = Raw(b.port, "central", b.creds["central"], "central")
    try:
        down = topics.down_commands("EWR1")
        good = env(1, "central", stream="down", etype="sku.upsert", body=sku_body("SKU-0002", 1))
        wrong_site = env(1, "central", site="LAX1", stream="down", etype="sku.upsert", body=sku_body("SKU-0002", 1))
        up_type = env(1, "central", stream="down")  # an up event type on the down stream
        for payload in [b"\x00\xff", raw_batch([{**good.to_dict(), "body": {"sku": 5}}], "central", stream="down"),
                        encode_batch([good]) + b" " * 5000, encode_batch([wrong_site]),
                        raw_batch([up_type.to_dict()], "central", stream="down")]:
            central.pub(down, payload)
        expected = {"malformed_json": 1, "invalid_body": 1, "too_large": 1, "wrong_site": 1, "wrong_stream": 1}
        wait_until(lambda: edge.status()["rejected"] == expected, 10, "edge rejections counted")
        assert edge_inbox(estore) == []
        central.pub(down, encode_batch([good]))
        wait_until(lambda: len(edge_inbox(estore)) == 1, 10, "valid down envelope applied")
        assert edge.status()["down"]["applied_seq"] == 1
    finally:
        central.close()
        edge.stop()
        estore.close()


def test_newer_schema_is_parked_not_dropped_and_a_rebuilt_edge_starts_a_new_epoch(sync_broker, tmp_path):
    from sync import central_journal, edge_journal
    from tests.fixtures_sync import central_on_hand, edge_adjust, outbox_depth

    b = sync_broker
    cat = small_catalog()
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    estore = open_edge(tmp_path / "e.db", "EWR1", cat)
    central = CentralSync(b.cfg("central"), cstore)
    central.start()
    assert central.wait_ready()
    edge = EdgeSync(b.cfg("EWR1"), estore, digest_fn=False)
    edge.start()
    assert edge.wait_ready()
    try:
        for _ in range(10):
            edge_adjust(estore, MERCHANT, "SKU-0001", 1)
        wait_until(lambda: outbox_depth(estore) == 0, 20, "first epoch drained")
        old_epoch = edge.epoch
        edge.stop()
        for _ in range(5):
            edge_adjust(estore, MERCHANT, "SKU-0001", 1)  # committed while away ...
        new = estore.write(edge_journal.new_epoch)  # ... then the database is restored: a new epoch
        edge = EdgeSync(b.cfg("EWR1"), estore, digest_fn=False)
        edge.start()
        assert edge.wait_ready()
        wait_until(lambda: outbox_depth(estore) == 0, 20, "new epoch drained")
        rows = central_inbox(cstore, "EWR1")
        assert [(r["epoch"], r["seq"]) for r in rows] == [(old_epoch, s) for s in range(1, 11)] + \
            [(new, s) for s in range(11, 16)]
        with cstore.read() as conn:
            assert central_journal.retired_epochs(conn, "EWR1") == {old_epoch}
        before = central_on_hand(cstore, "EWR1")
        edge.stop()
        raw = Raw(b.port, "EWR1", b.creds["EWR1"], "x")
        # a replay from the retired epoch, then an envelope from a newer protocol version
        raw.pub(topics.up_events("EWR1"), encode_batch([env(11, old_epoch, eid="old-11")]))
        newer = {**env(16, new).to_dict(), "schema": 2, "body": {"whatever": "v2 looks like"}}
        raw.pub(topics.up_events("EWR1"), raw_batch([newer], new))
        wait_until(lambda: central.status()["sites"]["EWR1"]["rejected"] == {"old_epoch": 1, "schema_newer": 1}, 10,
                   "old epoch refused and newer schema parked")
        parked = central.recent()["parked"]
        assert len(parked) == 1 and parked[0]["seq"] == 16 and parked[0]["reason"] == "schema_newer"
        assert central_on_hand(cstore, "EWR1") == before and len(central_inbox(cstore, "EWR1")) == 15
        raw.close()
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()


def test_a_database_restored_without_a_new_epoch_never_reuses_seqs(sync_broker, tmp_path):
    """Restoring an older copy of the edge database would hand out seqs central already applied;
    the edge notices (central's cursor is beyond anything it allocated), starts a new epoch, and the
    events committed after the restore are applied instead of being dropped as duplicates."""
    import sqlite3

    from edge.store import EdgeStore
    from tests.fixtures_sync import edge_adjust, outbox_depth

    b = sync_broker
    cat = small_catalog()
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    path = tmp_path / "e.db"
    estore = open_edge(path, "EWR1", cat)
    central = CentralSync(b.cfg("central"), cstore)
    central.start()
    assert central.wait_ready()
    edge = EdgeSync(b.cfg("EWR1"), estore, digest_fn=False)
    edge.start()
    try:
        assert edge.wait_ready()
        for _ in range(10):
            edge_adjust(estore, MERCHANT, "SKU-0001", 1)
        wait_until(lambda: outbox_depth(estore) == 0, 20, "drained")
        backup = sqlite3.connect(tmp_path / "backup.db")
        estore.read(lambda c: c.backup(backup))
        backup.close()
        for _ in range(5):
            edge_adjust(estore, MERCHANT, "SKU-0001", 1)
        wait_until(lambda: len(central_inbox(cstore, "EWR1")) == 15, 20, "15 applied")
        edge.stop()
        estore.close()
        for suffix in ("-wal", "-shm"):
            (tmp_path / f"e.db{suffix}").unlink(missing_ok=True)
        (tmp_path / "backup.db").replace(path)  # the restore (nobody started a new epoch)
        estore = EdgeStore(str(path), "EWR1")
        after = [edge_adjust(estore, MERCHANT, "SKU-0002", 1).event_id for _ in range(3)]
        edge = EdgeSync(b.cfg("EWR1"), estore, digest_fn=False)
        edge.start()
        wait_until(lambda: {r["event_id"] for r in central_inbox(cstore, "EWR1")} >= set(after), 20,
                   "post-restore events applied")
        rows = central_inbox(cstore, "EWR1")
        assert len(rows) == 18 and len({(r["epoch"], r["seq"]) for r in rows}) == 18
        assert edge.status()["counters"]["epochs_started"] == 1
        assert [r["seq"] for r in rows if r["event_id"] in after] == [11, 12, 13]
        assert len({r["epoch"] for r in rows}) == 2
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()
