"""The real sync runtime (``EdgeSync`` <-> ``CentralSync``) over TLS with client certificates.

Certificates are generated at test time (a throwaway CA, the broker's certificate for 127.0.0.1, one
client certificate per identity with CN=<site> / CN=central). The broker runs the generated
production configuration with ``require_certificate true`` and ``use_identity_as_username true``: no
passwords anywhere, the certificate's CN is the username the ACL's ``%u`` patterns confine.
"""
from __future__ import annotations

import time

import paho.mqtt.client as mqtt
import pytest

from sync import broker as broker_mod
from sync.central_node import CentralSync
from sync.core import topics
from sync.core.envelope import Envelope, encode_batch
from sync.edge_node import EdgeSync
from tests.fixtures_sync import (MERCHANT, Broker, Raw, central_emit, central_inbox, central_on_hand, edge_adjust,
                                 edge_inbox, edge_on_hand, make_pki, open_central, open_edge, outbox_depth, sku_body,
                                 small_catalog, tls_cfg, wait_until)

pytestmark = pytest.mark.mqtt


@pytest.fixture
def tls_world(tmp_path):
    pki = make_pki(tmp_path / "pki", ["EWR1", "LAX1", "central", "TAP"])
    tls = broker_mod.TlsFiles(str(pki / "ca.crt"), str(pki / "server.crt"), str(pki / "server.key"))
    broker = Broker(tmp_path / "broker", ["EWR1", "LAX1"], tls=tls, readers=("TAP",)).start()
    conf = broker.setup.conf_path.read_text()
    assert "require_certificate true" in conf and "use_identity_as_username true" in conf
    assert "password_file" not in conf
    yield pki, broker
    broker.stop()


def cert_client(port, pki, name, client_id=None) -> Raw:
    """A plain paho client authenticated only by its client certificate (for probing)."""
    return Raw(port, "", "", client_id or f"probe-{name}", tls={
        "ca_certs": str(pki / "ca.crt"), "certfile": str(pki / f"{name}.crt"), "keyfile": str(pki / f"{name}.key")})


def test_edge_and_central_sync_over_tls_client_certificates(tls_world, tmp_path):
    """Two edges and central, each with only its certificate: both streams apply exactly once; the
    generated names (CN) are the identities central sees; presence goes through."""
    pki, b = tls_world
    cat = small_catalog(("EWR1", "LAX1"))
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    ewr = open_edge(tmp_path / "ewr1.db", "EWR1", cat)
    lax = open_edge(tmp_path / "lax1.db", "LAX1", cat)
    ccfg = tls_cfg(b.port, pki, "central", heartbeat_s=0.5)
    assert ccfg.broker.username == "" and ccfg.broker.password == "" and ccfg.broker.tls
    central = CentralSync(ccfg, cstore)
    edges = [EdgeSync(tls_cfg(b.port, pki, s.site_id, heartbeat_s=0.5), s, lambda: {"printers_ok": True})
             for s in (ewr, lax)]
    central.start()
    try:
        assert central.wait_ready(15), "central did not connect over TLS"
        for e in edges:
            e.start()
            assert e.wait_ready(15), f"{e.site} did not connect over TLS"
        skus = [s["sku"] for s in cat["skus"]]
        for i in range(200):
            edge_adjust(ewr, MERCHANT, skus[i % len(skus)], 1 + i % 3)
        for i in range(50):
            edge_adjust(lax, MERCHANT, skus[i % len(skus)], 1)
        seqs = [central_emit(cstore, "EWR1", "sku.upsert", sku_body(skus[i % len(skus)], i)).seq for i in range(30)]
        wait_until(lambda: outbox_depth(ewr) == 0 and outbox_depth(lax) == 0, 30, "both outboxes acknowledged")
        wait_until(lambda: len(edge_inbox(ewr)) >= seqs[-1], 30, "down stream applied at EWR1")
        for site, store, n in (("EWR1", ewr, 200), ("LAX1", lax, 50)):
            rows = central_inbox(cstore, site)
            adjusted = [r for r in rows if r["type"] == "inventory.adjusted"]
            assert len(adjusted) == n and len({r["event_id"] for r in rows}) == len(rows)
            assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
            assert central_on_hand(cstore, site) == {k: v for k, v in edge_on_hand(store).items() if v}
        down = edge_inbox(ewr)
        assert [r["seq"] for r in down] == list(range(1, seqs[-1] + 1)) and all(r["status"] == "applied" for r in down)
        wait_until(lambda: all(central.status()["sites"][s]["online"] for s in ("EWR1", "LAX1")), 10, "presence")
        st = central.status()
        assert st["connected"] and st["totals"]["rejected"] == 0 and st["totals"]["security_events"] == 0
        assert all(e.status()["connected"] for e in edges)
    finally:
        for e in edges:
            e.stop()
        central.stop()
        ewr.close()
        lax.close()
        cstore.close()


def test_a_site_certificate_cannot_publish_into_another_sites_subtree(tls_world, tmp_path):
    """EWR1's certificate: an EdgeSync for LAX1 run with it has every publication into LAX1's subtree
    dropped by the broker (central applies nothing, its outbox never drains); EWR1's certificate
    publishing a batch that claims LAX1 on its own topic is rejected by central as a security event;
    and it reads nothing of LAX1's down stream. The real LAX1 edge keeps syncing."""
    pki, b = tls_world
    cat = small_catalog(("EWR1", "LAX1"))
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    lax = open_edge(tmp_path / "lax1.db", "LAX1", cat)
    impostor_store = open_edge(tmp_path / "impostor.db", "LAX1", cat)
    central = CentralSync(tls_cfg(b.port, pki, "central"), cstore)
    lax_edge = EdgeSync(tls_cfg(b.port, pki, "LAX1"), lax, digest_fn=False)
    impostor = EdgeSync(tls_cfg(b.port, pki, "EWR1"), impostor_store, digest_fn=False)  # LAX1 store, EWR1 cert
    tap = cert_client(b.port, pki, "TAP")
    probe = None
    central.start()
    try:
        assert central.wait_ready(15)
        assert tap.sub("floorsync/v1/#") == [1]
        lax_edge.start()
        assert lax_edge.wait_ready(15)
        for _ in range(10):
            edge_adjust(lax, MERCHANT, "SKU-0001", 1)
        wait_until(lambda: outbox_depth(lax) == 0, 20, "the real LAX1 drained")
        lax_edge.stop()  # so the impostor's hello/events would be the only LAX1 traffic
        wait_until(lambda: any(t == topics.state("LAX1") and b"offline" in pl for t, pl in tap.drain(0)), 10,
                   "the real LAX1's offline state seen by the tap")
        before = central_on_hand(cstore, "LAX1")
        impostor.start()
        assert impostor.wait_ready(15)
        for _ in range(5):
            edge_adjust(impostor_store, MERCHANT, "SKU-0001", 100)
        wait_until(lambda: impostor.status()["up"]["published"] >= 5, 15, "impostor published (QoS 1, PUBACKed)")
        wait_until(lambda: impostor.status()["counters"].get("connects", 0) >= 1, 5, "impostor connected")
        time.sleep(1.5)  # > ack timeout: it re-sends, and still nothing gets through
        # the broker dropped every one of them: the tap (reads everything) saw no LAX1 traffic at all
        got = tap.drain(0)
        assert [(t, pl) for t, pl in got if t.startswith("floorsync/v1/LAX1/")] == []
        assert outbox_depth(impostor_store) == 5  # never acknowledged
        assert len([r for r in central_inbox(cstore, "LAX1") if r["type"] == "inventory.adjusted"]) == 10
        assert central_on_hand(cstore, "LAX1") == before
        impostor.stop()

        # a valid EWR1 identity claiming LAX1 inside the payload: central rejects it as a security event
        probe = cert_client(b.port, pki, "EWR1")
        forged = Envelope(1, "evt-forged-tls", MERCHANT, "LAX1", "up", 11, "ep-x", "inventory.adjusted",
                          "2026-11-23T10:00:00Z", {"sku": "SKU-0001", "delta": 7, "reason": "forged", "location": "X"})
        probe.pub(topics.up_events("EWR1"), encode_batch([forged]))
        wait_until(lambda: central.status()["sites"].get("EWR1", {}).get("security_events") == 1, 10,
                   "security event counted")
        assert central.status()["sites"]["EWR1"]["rejected"] == {"wrong_site": 1}
        assert central_on_hand(cstore, "LAX1") == before
        # and it cannot read LAX1's down stream, even with `#`
        probe.sub("#")  # Mosquitto may grant it; the read ACL filters every delivery
        head = central_emit(cstore, "LAX1", "sku.upsert", sku_body("SKU-0002", 9)).seq
        wait_until(lambda: any(t == topics.down_commands("LAX1") for t, _ in tap.drain(0)), 10,
                   "central published to LAX1 (the tap sees it)")
        assert [t for t, _ in probe.drain(0) if "/LAX1/" in t] == []
        # the real LAX1 edge still works and receives it
        lax_edge = EdgeSync(tls_cfg(b.port, pki, "LAX1"), lax, digest_fn=False)
        lax_edge.start()
        wait_until(lambda: [r["type"] for r in edge_inbox(lax) if r["seq"] == head] == ["sku.upsert"], 20,
                   "LAX1 applied central's command")
    finally:
        for c in (tap, probe):
            if c is not None:
                c.close()
        for e in (impostor, lax_edge):
            e.stop()  # idempotent
        central.stop()
        lax.close()
        impostor_store.close()
        cstore.close()


def test_a_certificate_from_another_ca_is_refused(tls_world, tmp_path):
    """A certificate with CN=EWR1 signed by some other CA gets no session (handshake refused)."""
    import ssl

    pki, b = tls_world
    rogue = make_pki(tmp_path / "rogue", ["EWR1"])
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rogue", protocol=mqtt.MQTTv311)
    c.tls_set(ca_certs=str(pki / "ca.crt"), certfile=str(rogue / "EWR1.crt"), keyfile=str(rogue / "EWR1.key"))
    acks = []
    c.on_connect = lambda cl, u, f, rc, p=None: acks.append(rc)
    errors = []
    try:
        c.connect("127.0.0.1", b.port, keepalive=5)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not acks:
            rc = c.loop(timeout=0.2)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                errors.append(rc)
                break
    except (ssl.SSLError, OSError) as exc:  # the handshake failed on our side already
        errors.append(exc)
    finally:
        c.disconnect()
    assert acks == [] and errors, f"a certificate from another CA got a session: {acks}"
