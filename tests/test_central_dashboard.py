"""The ops order dashboard in headless chromium: list with status counts + filters, detail with timeline
and routing decisions, CSV export."""
from __future__ import annotations

import copy
import os
import threading

import pytest

from central.services import CentralService
from central.store import CentralStore
from central.web import create_app
from floorsync import config as config_mod
from tests.fixtures_central import CATALOG, CATALOG_B, order_payload


@pytest.fixture
def dashboard(tmp_path):
    from werkzeug.serving import make_server

    store = CentralStore(f"sqlite:///{tmp_path}/central.db")
    store.create_all()
    svc = CentralService(store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    svc.seed_catalog(copy.deepcopy(CATALOG_B))
    orders = [svc.create_order("acme", order_payload(f"D-{i}", [("SKU-1", 1)]))[0] for i in range(4)]
    svc.create_order("acme", order_payload("D-BACK", [("SKU-5", 2)]))           # no stock: backordered
    svc.cancel_order("acme", orders[0]["order_id"], "customer asked")
    svc.hold_order("acme", orders[1]["order_id"], "fraud review")
    svc.create_order("bolt", order_payload("B-1", [("SKU-1", 1)]))
    server = make_server("127.0.0.1", 0, create_app(config_mod.load(env={}), store, service=svc), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", orders
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    store.close()


def test_orders_list_filters_and_counts(page, dashboard):
    base, orders = dashboard
    page.goto(f"{base}/ops/orders")
    assert page.title() == "Orders · floorsync central"
    assert page.get_by_test_id("total").inner_text() == "6 total"
    chips = {c.get_attribute("data-status"): c.inner_text().split()[-1]
             for c in page.locator("[data-status]").all()}
    assert chips == {"released": "3", "backordered": "1", "on_hold": "1", "cancelled": "1"}
    assert len(page.locator("[data-testid=orders] tbody tr").all()) == 6
    # filter by merchant and status through the form
    page.select_option("select[name=merchant]", "acme")
    page.select_option("select[name=status]", "on_hold")
    page.click("button[type=submit]")
    rows = page.locator("[data-testid=orders] tbody tr").all()
    assert len(rows) == 1 and "D-1" in rows[0].inner_text() and "on hold" in rows[0].inner_text()
    # search box
    page.goto(f"{base}/ops/orders?q=D-BACK")
    rows = page.locator("[data-testid=orders] tbody tr").all()
    assert len(rows) == 1 and "backordered" in rows[0].inner_text()


def test_order_detail_shows_timeline_and_routing(page, dashboard):
    base, orders = dashboard
    oid = orders[0]["order_id"]
    page.goto(f"{base}/ops/orders")
    page.click(f"text={oid}")
    assert page.get_by_test_id("status").inner_text() == "cancelled"
    timeline = page.get_by_test_id("timeline").inner_text()
    for word in ("received", "routed", "allocated", "released", "cancelled", "customer asked"):
        assert word in timeline
    assert "EWR1" in page.get_by_test_id("routing").first.inner_text()
    assert "SKU-1" in page.get_by_test_id("lines").inner_text()
    if os.environ.get("FLOORSYNC_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["FLOORSYNC_SCREENSHOTS"], "central_order.png"), full_page=True)
        page.goto(f"{base}/ops/orders")
        page.screenshot(path=os.path.join(os.environ["FLOORSYNC_SCREENSHOTS"], "central_orders.png"), full_page=True)


def test_unknown_order_is_a_readable_404(page, dashboard):
    base, _ = dashboard
    resp = page.goto(f"{base}/ops/orders/O-NOPE")
    assert resp.status == 404
    assert page.get_by_test_id("error").inner_text() == "no order O-NOPE"


def test_csv_export(page, dashboard):
    base, _ = dashboard
    resp = page.request.get(f"{base}/ops/orders.csv?merchant=acme")
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/csv")
    lines = resp.text().strip().splitlines()
    assert lines[0].startswith("order_id,merchant_id,channel,channel_order_id,status")
    assert len(lines) == 1 + 5 and all(",acme," in ln for ln in lines[1:])
