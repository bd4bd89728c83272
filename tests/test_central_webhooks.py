"""Webhooks against a real HTTP receiver on 127.0.0.1: signed bodies, retries, nothing lost in an outage."""
from __future__ import annotations

import copy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from central.services import CentralService
from central.webhooks import WebhookDispatcher, backoff_s, sign, verify
from tests.fixtures_central import *  # noqa: F401,F403
from tests.fixtures_central import CATALOG, order_payload
from tests.support import free_port

SECRET = "s3cret-s3cret-s3cret"


class Receiver:
    """A real HTTP server; ``status`` decides the answer; every request is recorded."""

    def __init__(self, port: int):
        self.port = port
        self.status = 200
        self.got: list[tuple[dict, bytes]] = []
        self.server = None
        self.thread = None

    def start(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.thread.join(timeout=10)
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver():
    r = Receiver(free_port())
    yield r
    r.stop()


def _deliveries(svc, hook_id):
    return svc.webhook_deliveries("acme", hook_id)


def test_signature_roundtrip_and_backoff():
    body = b'{"a":1}'
    header = sign(SECRET, 1_700_000_000, body)
    assert verify(SECRET, header, body, now=1_700_000_010)
    assert not verify(SECRET, header, b'{"a":2}', now=1_700_000_010)
    assert not verify("other-secret-xxxxxx", header, body, now=1_700_000_010)
    assert not verify(SECRET, header, body, now=1_700_001_000)  # stale timestamp
    assert [backoff_s(n, 2.0, 60.0) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


def test_receiver_outage_loses_nothing(central_store, receiver):
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    hook = svc.subscribe_webhook("acme", {"url": f"http://127.0.0.1:{receiver.port}/hooks", "secret": SECRET,
                                          "events": ["order.cancelled", "order.shipped"]})
    ids = []
    for i in range(3):
        order, _ = svc.create_order("acme", order_payload(f"WH-{i}", [("SKU-1", 1)]))
        svc.cancel_order("acme", order["order_id"], "customer changed mind")
        ids.append(order["order_id"])
    dispatcher = WebhookDispatcher(central_store, base_delay_s=0.05, max_delay_s=0.2, timeout_s=2)

    # 1) receiver down: connection refused, everything stays queued with the error recorded
    assert dispatcher.dispatch_once() == 0
    ds = _deliveries(svc, hook["webhook_id"])
    assert [(d["status"], d["attempts"]) for d in ds] == [("pending", 1)] * 3
    assert all("Connection refused" in d["last_error"] or "URLError" in d["last_error"] for d in ds)

    # 2) receiver up but failing (HTTP 503): retried later, still pending
    receiver.start()
    receiver.status = 503
    time.sleep(0.06)
    assert dispatcher.dispatch_once() == 0
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in _deliveries(svc, hook["webhook_id"])] == [
        ("pending", 2, 503)] * 3

    # 3) receiver healthy: the background dispatcher drains the queue
    receiver.status = 200
    dispatcher.poll_s = 0.05
    dispatcher.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(d["status"] != "delivered" for d in _deliveries(svc, hook["webhook_id"])):
        time.sleep(0.05)
    dispatcher.stop()
    final = _deliveries(svc, hook["webhook_id"])
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in final] == [("delivered", 3, 200)] * 3

    ok = [(h, b) for h, b in receiver.got if True][-3:]
    got_orders = sorted(json.loads(b)["data"]["order_id"] for _, b in ok)
    assert got_orders == sorted(ids)
    for headers, body in ok:
        assert headers["X-Floorsync-Event"] == "order.cancelled"
        assert verify(SECRET, headers["X-Floorsync-Signature"], body)
        assert json.loads(body)["data"]["reason"] == "customer changed mind"
    # each delivery id was attempted 3 times and succeeded once; receivers can dedup on it
    assert len({h["X-Floorsync-Delivery"] for h, _ in receiver.got}) == 3
