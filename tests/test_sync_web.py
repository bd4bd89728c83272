"""The sync dashboards in headless chromium, fed by a live central and edge over a real broker."""
from __future__ import annotations

import os
import threading

import pytest
from flask import Flask
from werkzeug.serving import make_server

from sync.central_node import CentralSync
from sync.core import topics
from sync.core.envelope import Envelope, encode_batch
from sync.edge_node import EdgeSync
from tests.fixtures_sync import *  # noqa: F401,F403
from tests.fixtures_sync import MERCHANT, edge_adjust, open_central, open_edge, outbox_depth, small_catalog, wait_until
from tests.support import free_port
from tests.test_sync_broker import Raw

pytestmark = [pytest.mark.mqtt, pytest.mark.browser]


class Server:
    def __init__(self, bp):
        app = Flask(__name__)
        app.register_blueprint(bp)
        self.port = free_port()
        self.srv = make_server("127.0.0.1", self.port, app, threaded=True)
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self):
        self.srv.shutdown()
        self.t.join(timeout=10)


def test_central_dashboard_and_edge_panel(sync_broker, tmp_path, page):
    b = sync_broker
    cat = small_catalog()
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    estore = open_edge(tmp_path / "e.db", "EWR1", cat)
    central = CentralSync(b.cfg("central", heartbeat_s=0.3), cstore)
    edge = EdgeSync(b.cfg("EWR1", heartbeat_s=0.3), estore, lambda: {"printers_ok": True})
    central.start()
    assert central.wait_ready()
    edge.start()
    assert edge.wait_ready()
    csrv, esrv = Server(central.blueprint()), Server(edge.blueprint())
    rogue = Raw(b.port, "DFW1", b.creds["DFW1"], "rogue")
    try:
        for i in range(50):
            edge_adjust(estore, MERCHANT, "SKU-0001", 1)
        forged = Envelope(1, "forged-1", MERCHANT, "LAX1", "up", 1, "x", "inventory.adjusted", "2026-11-23T10:00:00Z",
                          {"sku": "SKU-0001", "delta": 9, "reason": "x", "location": "A"})
        rogue.pub(topics.up_events("DFW1"), encode_batch([forged]))
        wait_until(lambda: outbox_depth(estore) == 0, 20, "edge drained")
        wait_until(lambda: central.status()["sites"].get("LAX1", {}).get("stale"), 10, "LAX1 stale (never connected)")
        wait_until(lambda: central.status()["sites"]["EWR1"]["last_heartbeat_age_s"] is not None, 10, "heartbeat")
        wait_until(lambda: central.status()["sites"].get("DFW1", {}).get("security_events") == 1, 10, "security event")
        wait_until(lambda: central.status()["sites"]["DFW1"]["stale"], 10, "DFW1 stale (no heartbeats)")

        page.goto(f"{csrv.url}/sync")
        if os.environ.get("FLOORSYNC_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["FLOORSYNC_SCREENSHOTS"], "sync-central.png"), full_page=True)
        assert page.title() == "Sync · floorsync central"
        ewr = page.locator("tr[data-site=EWR1]")
        assert ewr.locator(".badge").inner_text() == "online"
        assert page.locator("tr[data-site=LAX1] .badge").inner_text() == "stale"
        assert page.locator("tr[data-site=DFW1] .rejected").inner_text().strip() == "wrong_site 1"
        assert "0 behind" in ewr.locator(".progress").inner_text()
        assert page.locator("#security-total").inner_text() == "1"
        assert page.locator("#sites-stale").inner_text() == "2"  # LAX1 and DFW1 (its rogue sends no heartbeats)
        sec = page.locator("#security tbody tr")
        assert sec.count() == 1 and "wrong_site" in sec.inner_text() and "LAX1" in sec.inner_text()
        assert page.locator("#broker-state").inner_text() == "broker connected"
        js = page.request.get(f"{csrv.url}/sync/status.json").json()
        assert js["sites"]["EWR1"]["up"]["applied"] >= 50

        page.goto(f"{esrv.url}/sync")
        if os.environ.get("FLOORSYNC_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["FLOORSYNC_SCREENSHOTS"], "sync-edge.png"), full_page=True)
        assert page.locator("#conn").inner_text() == "connected"
        assert page.locator("#outbox-depth").inner_text() == "0"
        assert int(page.locator("#acked-seq").inner_text()) >= 50
        assert page.locator("#rejected").inner_text().strip() == "none"
    finally:
        rogue.close()
        csrv.close()
        esrv.close()
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()
