"""The generated Mosquitto configuration on a real broker: per-site users, ACL on %u, client ids
bound to identities, TLS client certificates, and central refusing a site that claims another."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync import broker as broker_mod
from sync.core import topics
from sync.core.envelope import encode_batch
from tests.fixtures_sync import *  # noqa: F401,F403
from tests.fixtures_sync import (Broker, MERCHANT, Raw, central_inbox, make_pki, open_central, small_catalog,
                                 wait_until)
from tests.support import free_port

pytestmark = pytest.mark.mqtt


def test_a_site_is_confined_to_its_own_subtree(sync_broker):
    b = sync_broker
    spy = Raw(b.port, "central", b.creds["central"], "spy")
    assert spy.sub("floorsync/v1/#") == [1]
    a = Raw(b.port, "EWR1", b.creds["EWR1"], "edge-a")
    try:
        # publishing into LAX1's subtree (every kind of topic) is dropped by the broker
        for t in (topics.up_events("LAX1"), topics.down_commands("LAX1"), topics.state("LAX1"), topics.ack_down("LAX1")):
            a.pub(t, b"forged")
        a.pub(topics.up_events("EWR1"), b"mine")  # its own stream goes through
        got = spy.drain(0.8)
        assert got == [(topics.up_events("EWR1"), b"mine")]
        # an edge cannot forge central's commands to itself either
        a.pub(topics.down_commands("EWR1"), b"self-command")
        assert spy.drain(0.5) == []
        # subscribing to LAX1's down stream, to `#` or to every site's down stream yields nothing of
        # LAX1's: Mosquitto 2.0 checks the read ACL on every delivery (it may still grant the SUBACK)
        for t in (topics.down_commands("LAX1"), "#", "floorsync/v1/+/down/commands", topics.ack_up("LAX1")):
            a.sub(t)
        spy.pub(topics.down_commands("LAX1"), b"for LAX1 only")
        spy.pub(topics.ack_up("LAX1"), b"LAX1 ack")
        spy.pub(topics.state("LAX1"), b"LAX1 state")
        spy.pub(topics.down_commands("EWR1"), b"for EWR1")
        got = a.drain(0.8)
        assert got and all(t == topics.down_commands("EWR1") for t, _ in got)
        assert {p for _, p in got} == {b"for EWR1"}
    finally:
        a.close()
        spy.close()


def test_a_read_only_identity_reads_every_site_and_writes_nothing(tmp_path):
    """``readers`` (a monitoring tap, used by the fault tests to watch the wire) may read every
    site's subtree; anything it publishes is dropped."""
    b = Broker(tmp_path / "broker", ["EWR1", "LAX1"], readers=("TAP",)).start()
    try:
        assert "user TAP\ntopic read floorsync/v1/#" in b.setup.data_dir.joinpath("acl").read_text()
        tap = Raw(b.port, "TAP", b.creds["TAP"], "tap")
        central = Raw(b.port, "central", b.creds["central"], "c")
        lax = Raw(b.port, "LAX1", b.creds["LAX1"], "l")
        try:
            assert tap.sub("floorsync/v1/#") == [1]
            assert central.sub("floorsync/v1/#") == [1]
            assert lax.sub(topics.down_commands("LAX1")) == [1]
            lax.pub(topics.up_events("LAX1"), b"lax up")
            central.pub(topics.down_commands("LAX1"), b"lax down")
            assert sorted(tap.drain(0.6)) == [(topics.down_commands("LAX1"), b"lax down"),
                                              (topics.up_events("LAX1"), b"lax up")]
            central.drain(0)
            lax.drain(0)
            tap.pub(topics.up_events("EWR1"), b"forged by the tap")
            tap.pub(topics.down_commands("LAX1"), b"forged command")
            assert central.drain(0.6) == [] and lax.drain(0) == []
        finally:
            for c in (tap, central, lax):
                c.close()
        with pytest.raises(broker_mod.BrokerError):
            broker_mod.prepare(tmp_path / "b2", free_port(), ["EWR1"], readers=("EWR1",))
    finally:
        b.stop()


def test_wrong_password_and_anonymous_are_refused(sync_broker):
    with pytest.raises(ConnectionRefusedError):
        Raw(sync_broker.port, "EWR1", "not-the-password", "x")
    with pytest.raises(ConnectionRefusedError):
        Raw(sync_broker.port, "", "", "anon")


def test_reusing_another_sites_client_id_cannot_kick_it_off(sync_broker):
    b = sync_broker
    victim = Raw(b.port, "LAX1", b.creds["LAX1"], "floorsync-edge-LAX1")
    assert victim.sub(topics.down_commands("LAX1")) == [1]
    attacker = Raw(b.port, "EWR1", b.creds["EWR1"], "floorsync-edge-LAX1")  # same client id as the victim
    attacker2 = Raw(b.port, "EWR1", b.creds["EWR1"], "LAX1")                 # or the victim's username
    try:
        spy = Raw(b.port, "central", b.creds["central"], "spy2")
        spy.pub(topics.down_commands("LAX1"), b"still here?")
        assert victim.drain(0.5) == [(topics.down_commands("LAX1"), b"still here?")]
        assert victim.disconnects == 0
        spy.close()
    finally:
        attacker.close()
        attacker2.close()
        victim.close()


def test_central_rejects_a_valid_site_claiming_another(sync_broker, tmp_path):
    from sync.central_node import CentralSync
    from sync.core.envelope import Envelope

    b = sync_broker
    cat = small_catalog()
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    central = CentralSync(b.cfg("central"), cstore)
    central.start()
    assert central.wait_ready()
    a = Raw(b.port, "EWR1", b.creds["EWR1"], "edge-a")
    try:
        body = {"sku": "SKU-0001", "delta": 5, "reason": "forged", "location": "A-01-01-1"}
        forged = Envelope(1, "evt-forged-1", MERCHANT, "LAX1", "up", 1, "ep-x", "inventory.adjusted",
                          "2026-11-23T10:00:00Z", body)
        a.pub(topics.up_events("EWR1"), encode_batch([forged]))  # EWR1's own topic, claiming LAX1
        wait_until(lambda: central.status()["sites"].get("EWR1", {}).get("security_events") == 1, 10,
                   "security event counted")
        s = central.status()["sites"]["EWR1"]
        assert s["rejected"] == {"wrong_site": 1}
        events = central.recent()["security"]
        assert len(events) == 1 and events[0]["site_id"] == "EWR1" and events[0]["reason"] == "wrong_site"
        assert "LAX1" in events[0]["detail"]
        assert central_inbox(cstore, "LAX1") == [] and central_inbox(cstore, "EWR1") == []
        assert "LAX1" not in central.status()["sites"] or central.status()["sites"]["LAX1"]["up"]["applied_seq"] == 0
    finally:
        a.close()
        central.stop()
        cstore.close()


def test_tls_client_certificates_are_the_identity(tmp_path):
    pki = make_pki(tmp_path / "pki", ["EWR1", "LAX1", "central"])
    tls = broker_mod.TlsFiles(str(pki / "ca.crt"), str(pki / "server.crt"), str(pki / "server.key"))
    b = Broker(tmp_path / "broker", ["EWR1", "LAX1"], tls=tls).start()
    conf = b.setup.conf_path.read_text()
    assert "require_certificate true" in conf and "use_identity_as_username true" in conf
    assert "password_file" not in conf

    def client(name, cid):
        return Raw(b.port, "", "", cid, tls={"ca_certs": str(pki / "ca.crt"), "certfile": str(pki / f"{name}.crt"),
                                               "keyfile": str(pki / f"{name}.key")})
    try:
        spy = client("central", "spy")
        assert spy.sub("floorsync/v1/#") == [1]
        a = client("EWR1", "x")
        a.pub(topics.up_events("LAX1"), b"forged")
        a.pub(topics.up_events("EWR1"), b"mine")
        assert spy.drain(0.8) == [(topics.up_events("EWR1"), b"mine")]
        a.sub("#")
        spy.pub(topics.down_commands("LAX1"), b"for LAX1 only")
        assert a.drain(0.5) == []
        a.close()
        spy.close()
        # no certificate, no connection
        with pytest.raises(Exception):
            Raw(b.port, "EWR1", "", "nocert", tls={"ca_certs": str(pki / "ca.crt")})
    finally:
        b.stop()


def test_password_hashes_are_mosquittos_pbkdf2_format():
    h = broker_mod.password_hash("secret", salt=b"0123456789ab")
    assert h.startswith("$7$101$MDEyMzQ1Njc4OWFi$")
    assert h == broker_mod.password_hash("secret", salt=b"0123456789ab")
    with pytest.raises(broker_mod.BrokerError):
        broker_mod.check_site_id("central")
    with pytest.raises(broker_mod.BrokerError):
        broker_mod.check_site_id("EWR1/#")


def test_broker_cli_config_and_add_site(tmp_path):
    from floorsync import cli as root

    runner = CliRunner()
    res = runner.invoke(root.build(), ["--data-dir", str(tmp_path), "broker", "config"], env={"FLOORSYNC_CONFIG": ""})
    assert res.exit_code == 0, res.output
    assert "pattern write floorsync/v1/%u/up/#" in res.output
    assert "use_username_as_clientid true" in res.output and "persistence true" in res.output
    assert "max_queued_messages 1000" in res.output
    res = runner.invoke(root.build(), ["--data-dir", str(tmp_path), "broker", "config"],
                        env={"FLOORSYNC_BROKER_TLS": "1", "FLOORSYNC_CONFIG": ""})
    assert "require_certificate true" in res.output and "use_identity_as_username true" in res.output
    res = runner.invoke(root.build(), ["--data-dir", str(tmp_path), "broker", "add-site", "ewr1"],
                        env={"FLOORSYNC_CONFIG": ""})
    assert res.exit_code == 0, res.output
    pw = res.output.split("password ")[1].split()[0]
    creds = json.loads((tmp_path / "broker" / "credentials.json").read_text())
    assert creds == {"EWR1": pw}
    assert (tmp_path / "broker" / "passwd").read_text().startswith("EWR1:$7$101$")
    res = runner.invoke(root.build(), ["--data-dir", str(tmp_path), "broker", "add-site", "bad/site"],
                        env={"FLOORSYNC_CONFIG": ""})
    assert res.exit_code != 0 and "invalid site id" in res.output


def test_broker_serve_runs_mosquitto_in_the_foreground_and_stops_on_sigterm(tmp_path):
    import os
    import signal
    import sys

    port = free_port()
    env = {**os.environ, "FLOORSYNC_BROKER_PORT": str(port), "FLOORSYNC_GENERAL_DATA_DIR": str(tmp_path),
           "FLOORSYNC_CONFIG": ""}
    proc = subprocess.Popen([sys.executable, "-m", "floorsync.cli", "broker", "serve", "--site", "EWR1"], env=env,
                            cwd=str(Path(__file__).resolve().parent.parent),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from tests.support import wait_for_port

        wait_for_port(port, timeout=20)
        creds = json.loads((tmp_path / "broker" / "credentials.json").read_text())
        c = Raw(port, "EWR1", creds["EWR1"], "probe")
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
