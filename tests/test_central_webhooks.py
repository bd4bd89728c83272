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


# ---------------------------------------------------------------------- inventory.updated
def _inv_updates(svc, hook_id, merchant="acme"):
    """inventory.updated payloads queued for a webhook, oldest first, as (sku, site, on_hand, reserved, available)."""
    out = []
    for d in reversed(svc.webhook_deliveries(merchant, hook_id)):
        data = d["payload"]["data"]
        assert d["event_type"] == "inventory.updated" and d["payload"]["type"] == "inventory.updated"
        out.append((data["sku"], data["site_id"], data["on_hand"], data["reserved"], data["available"]))
    return out


def _apply_up(svc, site, seq, kind, body, merchant="acme"):
    from central import sync_handlers
    from sync.core.envelope import Envelope

    env = Envelope(1, f"ev-{site}-{seq}", merchant, site, "up", seq, "e1", kind, "2026-01-01T00:00:00Z", body)
    sync_handlers.configure(svc.ops)
    return svc.store.run(lambda conn: sync_handlers.apply_up_event(conn, env))


def test_inventory_updated_fires_on_reservations_cancels_and_shipments(svc):
    hook = svc.subscribe_webhook("acme", {"url": "http://127.0.0.1:9/inv", "events": ["inventory.updated"]})
    hid = hook["webhook_id"]
    # intake reserves: one event per (sku, site) touched, with the balance after the change
    order, _ = svc.create_order("acme", order_payload("INV-1", [("SKU-1", 3), ("SKU-2", 1)]))
    assert _inv_updates(svc, hid) == [("SKU-1", "EWR1", 10, 3, 7), ("SKU-2", "EWR1", 4, 1, 3)]
    [d] = [d for d in svc.webhook_deliveries("acme", hid) if d["payload"]["data"]["sku"] == "SKU-1"]
    assert d["payload"] == {"type": "inventory.updated", "merchant_id": "acme", "data": {
        "sku": "SKU-1", "site_id": "EWR1", "on_hand": 10, "reserved": 3, "safety_stock": 0, "available": 7,
        "in_transit": 0, "quarantine": 0}}
    # another merchant's orders never reach acme's webhook (bolt also stocks SKU-1 at EWR1)
    svc.create_order("bolt", order_payload("INV-B", [("SKU-1", 2)]))
    assert len(_inv_updates(svc, hid)) == 2
    # a backordered order changes no balance: no event
    svc.create_order("acme", order_payload("INV-2", [("SKU-5", 1)]))
    assert len(_inv_updates(svc, hid)) == 2
    # the shipment takes on_hand and the reservation down together (available unchanged, still reported)
    fo = order["fulfillment_orders"][0]
    _apply_up(svc, "EWR1", 1, "shipment.shipped", {
        "fo_id": fo["fo_id"], "order_id": order["order_id"], "tracking_number": fo["tracking_number"],
        "carrier": "ups", "service": "ground", "weight_g": 400,
        "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 3}, {"line_id": "2", "sku": "SKU-2", "qty": 1}],
        "shipped_at": "2026-01-01T10:00:00Z"})
    assert _inv_updates(svc, hid)[2:] == [("SKU-1", "EWR1", 7, 0, 7), ("SKU-2", "EWR1", 3, 0, 3)]
    # a cancel releases the reservation
    o3, _ = svc.create_order("acme", order_payload("INV-3", [("SKU-1", 2)]))
    svc.cancel_order("acme", o3["order_id"], "changed mind")
    assert _inv_updates(svc, hid)[4:] == [("SKU-1", "EWR1", 7, 2, 5), ("SKU-1", "EWR1", 7, 0, 7)]
    # adjustments and receipts still fire
    svc.adjust_inventory("acme", "SKU-2", "EWR1", {"delta": -1, "reason": "damaged"})
    _apply_up(svc, "EWR1", 2, "inventory.received", {"sku": "SKU-2", "qty": 5, "location": "A-1",
                                                      "quarantine": False})
    assert _inv_updates(svc, hid)[6:] == [("SKU-2", "EWR1", 2, 0, 2), ("SKU-2", "EWR1", 7, 0, 7)]
    assert {d["merchant_id"] for d in svc.webhook_deliveries("acme", hid)} == {"acme"}


def test_inventory_updated_is_one_event_per_sku_and_site_per_transaction(svc):
    hook = svc.subscribe_webhook("acme", {"url": "http://127.0.0.1:9/inv", "events": ["inventory.updated"]})
    hid = hook["webhook_id"]
    a, _ = svc.create_order("acme", order_payload("CO-A", [("SKU-3", 2)]))     # LAX1 holds 2 SKU-3
    b, _ = svc.create_order("acme", order_payload("CO-B", [("SKU-3", 1)]))
    assert b["status"] == "backordered"
    assert _inv_updates(svc, hid) == [("SKU-3", "LAX1", 2, 2, 0)]
    # cancelling A releases 2 and hands 1 to B's backorder in the same transaction: ONE event, final balance
    svc.cancel_order("acme", a["order_id"], "")
    assert _inv_updates(svc, hid) == [("SKU-3", "LAX1", 2, 2, 0), ("SKU-3", "LAX1", 2, 1, 1)]
    assert svc.get_order("acme", b["order_id"])["status"] == "released"
    # a receipt that fills a backorder: on_hand up, then reserved up, one event
    c, _ = svc.create_order("acme", order_payload("CO-C", [("SKU-4", 3)]))
    assert c["status"] == "backordered"
    _apply_up(svc, "EWR1", 1, "inventory.received", {"sku": "SKU-4", "qty": 5, "location": "A-1",
                                                      "quarantine": False})
    assert _inv_updates(svc, hid)[2:] == [("SKU-4", "EWR1", 5, 3, 2)]
    # two webhooks: each gets its own delivery of the same change
    other = svc.subscribe_webhook("acme", {"url": "http://127.0.0.1:9/two", "events": ["inventory.updated",
                                                                                      "order.shipped"]})
    svc.adjust_inventory("acme", "SKU-4", "EWR1", {"delta": 1})
    assert _inv_updates(svc, hid)[-1] == _inv_updates(svc, other["webhook_id"])[-1] == ("SKU-4", "EWR1", 6, 3, 3)
    assert len(_inv_updates(svc, other["webhook_id"])) == 1


def test_inventory_updated_costs_no_query_without_a_subscriber(sqlite_store, monkeypatch):
    """The subscription lookup is cached per merchant: an order of a merchant without an inventory.updated
    webhook runs no webhook statement at all; subscribing and deleting take effect at once."""
    from sqlalchemy import event

    from central import webhooks

    monkeypatch.setattr(webhooks, "SUBSCRIPTION_TTL_S", 60.0)
    svc = CentralService(sqlite_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    svc.subscribe_webhook("acme", {"url": "http://127.0.0.1:9/o", "events": ["order.shipped"]})   # another event
    seen: list[str] = []

    def spy(_conn, _cursor, statement, *_a):
        if "webhook" in statement.lower():
            seen.append(statement.split()[0].upper())

    event.listen(sqlite_store.engine, "before_cursor_execute", spy)
    try:
        svc.create_order("acme", order_payload("Q-1", [("SKU-1", 1)]))
        assert seen == ["SELECT"]            # the first order of the merchant asks once
        seen.clear()
        svc.create_order("acme", order_payload("Q-2", [("SKU-1", 1)]))
        svc.cancel_order("acme", svc.list_orders("acme", {"q": "Q-2"})[0][0]["order_id"], "")
        assert seen == []                    # then never again while nobody subscribes
        hook = svc.subscribe_webhook("acme", {"url": "http://127.0.0.1:9/i", "events": ["inventory.updated"]})
        seen.clear()
        svc.create_order("acme", order_payload("Q-3", [("SKU-1", 1)]))
        assert seen == ["SELECT", "INSERT"]  # re-read after subscribing, one delivery queued
        assert _inv_updates(svc, hook["webhook_id"]) == [("SKU-1", "EWR1", 10, 2, 8)]
        svc.delete_webhook("acme", hook["webhook_id"])
        seen.clear()
        svc.create_order("acme", order_payload("Q-4", [("SKU-1", 1)]))
        assert seen == ["SELECT"]
        assert len(_inv_updates(svc, hook["webhook_id"])) == 1
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", spy)


def test_subscription_made_by_another_process_is_seen_within_the_ttl(sqlite_store, monkeypatch):
    from central import webhooks

    monkeypatch.setattr(webhooks, "SUBSCRIPTION_TTL_S", 0.2)
    svc = CentralService(sqlite_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    svc.create_order("acme", order_payload("T-1", [("SKU-1", 1)]))      # caches "no subscriber"
    with sqlite_store.transaction() as conn:                             # as another central worker would
        hook = sqlite_store.insert_webhook(conn, "acme", "http://127.0.0.1:9/i", ["inventory.updated"], SECRET)
    time.sleep(0.25)
    svc.create_order("acme", order_payload("T-2", [("SKU-1", 1)]))
    assert _inv_updates(svc, hook["webhook_id"]) == [("SKU-1", "EWR1", 10, 2, 8)]


def test_inventory_updated_reaches_the_receiver_signed(central_store, receiver):
    receiver.start()
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    svc.subscribe_webhook("acme", {"url": f"http://127.0.0.1:{receiver.port}/inv", "secret": SECRET,
                                   "events": ["inventory.updated"]})
    svc.create_order("acme", order_payload("R-1", [("SKU-3", 1)]))
    dispatcher = WebhookDispatcher(central_store, timeout_s=5)
    assert dispatcher.dispatch_once() == 1
    [(headers, body)] = receiver.got
    assert headers["X-Floorsync-Event"] == "inventory.updated"
    assert verify(SECRET, headers["X-Floorsync-Signature"], body)
    assert json.loads(body)["data"] == {"sku": "SKU-3", "site_id": "LAX1", "on_hand": 2, "reserved": 1,
                                        "safety_stock": 0, "available": 1, "in_transit": 0, "quarantine": 0}
