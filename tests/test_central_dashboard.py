"""The ops order dashboard in headless chromium: list with status counts + filters, detail with timeline
and routing decisions, CSV export."""
from __future__ import annotations

import copy
import datetime as _dt
import os
import threading

import pytest

from central.services import CentralService
from central.store import CentralStore
from central.web import create_app
from floorsync import config as config_mod
from tests.fixtures_central import CATALOG, CATALOG_B, order_payload


OPS_USER, OPS_PASSWORD = "olga", "correct-horse-battery"


def _fake_sync_blueprint():
    from flask import Blueprint

    bp = Blueprint("sync_page", __name__, url_prefix="/sync")
    bp.add_url_rule("/", "index", lambda: "<html><title>Sync</title>sync dashboard</html>")
    bp.add_url_rule("/status.json", "status", lambda: {"sites": {}})
    return bp


def login(page, base, user=OPS_USER, password=OPS_PASSWORD, then="/ops/orders"):
    page.goto(f"{base}{then}")
    assert "/login?next=" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}{then}")


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
    svc.add_ops_user(OPS_USER, OPS_PASSWORD, "Olga Ops")
    app = create_app(config_mod.load(env={}), store, service=svc)
    app.register_blueprint(_fake_sync_blueprint())   # stands in for sync.central_node's /sync dashboard
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", orders
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    store.close()


def test_orders_list_filters_and_counts(page, dashboard):
    base, orders = dashboard
    login(page, base)
    assert page.title() == "Orders · floorsync central"
    assert page.get_by_test_id("total").inner_text() == "6 total"
    chips = {c.get_attribute("data-status"): c.inner_text().split()[-1]
             for c in page.locator("[data-status]").all()}
    assert chips == {"released": "3", "backordered": "1", "on_hold": "1", "cancelled": "1"}
    assert len(page.locator("[data-testid=orders] tbody tr").all()) == 6
    # filter by merchant and status through the form
    page.select_option("select[name=merchant]", "acme")
    page.select_option("select[name=status]", "on_hold")
    page.click("form.filters button[type=submit]")
    rows = page.locator("[data-testid=orders] tbody tr").all()
    assert len(rows) == 1 and "D-1" in rows[0].inner_text() and "on hold" in rows[0].inner_text()
    # search box
    page.goto(f"{base}/ops/orders?q=D-BACK")
    rows = page.locator("[data-testid=orders] tbody tr").all()
    assert len(rows) == 1 and "backordered" in rows[0].inner_text()


def test_order_detail_shows_timeline_and_routing(page, dashboard):
    base, orders = dashboard
    oid = orders[0]["order_id"]
    login(page, base)
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
    login(page, base)
    resp = page.goto(f"{base}/ops/orders/O-NOPE")
    assert resp.status == 404
    assert page.get_by_test_id("error").inner_text() == "no order O-NOPE"


def test_csv_export(page, dashboard):
    base, _ = dashboard
    assert page.request.get(f"{base}/ops/orders.csv?merchant=acme").status == 401   # no login yet
    login(page, base)
    resp = page.request.get(f"{base}/ops/orders.csv?merchant=acme")
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/csv")
    lines = resp.text().strip().splitlines()
    assert lines[0].startswith("order_id,merchant_id,channel,channel_order_id,status")
    assert len(lines) == 1 + 5 and all(",acme," in ln for ln in lines[1:])


def test_every_page_needs_a_login_but_health_and_api_do_not(page, dashboard):
    base, _ = dashboard
    for path in ("/", "/ops/orders", "/ops/orders/O-X", "/ops/sites", "/sync/"):
        resp = page.goto(f"{base}{path}")
        assert resp.status == 200 and page.title() == "Log in · floorsync central", path
        assert page.url.startswith(f"{base}/login?next=")
    assert page.request.get(f"{base}/sync/status.json").status == 401
    assert page.request.get(f"{base}/sync/status.json").json()["error"]["code"] == "login_required"
    health = page.request.get(f"{base}/healthz")
    assert health.status == 200 and health.json()["status"] == "ok"
    api = page.request.get(f"{base}/api/v1/orders")   # the API answers for itself: Bearer keys, not cookies
    assert api.status == 401 and api.json()["error"]["code"] == "unauthorized"
    # after logging in, the page asked for first is shown, and so is the sync dashboard
    login(page, base, then="/ops/sites")
    assert page.title() == "Sites · floorsync central"
    assert page.get_by_test_id("ops-user").inner_text() == "Olga Ops"
    page.goto(f"{base}/sync/")
    assert page.title() == "Sync"
    assert page.request.get(f"{base}/sync/status.json").json() == {"sites": {}}
    cookie = next(c for c in page.context.cookies() if c["name"] == "floorsync_central")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"


def test_wrong_password_logout_and_disabled_user(page, dashboard, tmp_path):
    base, _ = dashboard
    page.goto(f"{base}/ops/orders")
    page.fill("input[name=username]", OPS_USER)
    page.fill("input[name=password]", "not-the-password")
    page.click("form.login button[type=submit]")
    assert page.get_by_test_id("login-error").inner_text() == \
        "Wrong username or password, or the account is disabled."
    assert page.input_value("input[name=username]") == OPS_USER
    assert "/login" in page.url
    # an unknown user gets the very same answer
    page.fill("input[name=username]", "mallory")
    page.fill("input[name=password]", "whatever-password")
    page.click("form.login button[type=submit]")
    assert page.get_by_test_id("login-error").is_visible()
    # a good login; an off-site "next" is ignored
    page.goto(f"{base}/login?next=//evil.example/x")
    page.fill("input[name=username]", OPS_USER)
    page.fill("input[name=password]", OPS_PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}/ops/orders")
    # log out: the dashboard is closed again
    page.click("[data-testid=logout]")
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/ops/orders")
    assert "/login?next=" in page.url
    # a user disabled while logged in loses the session at the next request
    login(page, base)
    store = CentralStore(f"sqlite:///{tmp_path}/central.db")
    svc = CentralService(store)
    try:
        svc.set_ops_user_active(OPS_USER, False)
        page.goto(f"{base}/ops/orders")
        assert "/login?next=" in page.url
        page.fill("input[name=username]", OPS_USER)
        page.fill("input[name=password]", OPS_PASSWORD)
        page.click("form.login button[type=submit]")
        assert page.get_by_test_id("login-error").is_visible()
        users = {u["username"]: u for u in svc.list_ops_users()}
        assert users[OPS_USER]["active"] is False and users[OPS_USER]["failed_logins"] == 1
        # re-enabled and given a new password: the old one no longer works
        svc.set_ops_user_active(OPS_USER, True)
        svc.set_ops_user_password(OPS_USER, "a-brand-new-password")
        page.fill("input[name=password]", OPS_PASSWORD)
        page.click("form.login button[type=submit]")
        assert page.get_by_test_id("login-error").is_visible()
        login(page, base, password="a-brand-new-password", then="/ops/sites")
    finally:
        store.close()


def test_sites_page_shows_closures(page, dashboard, tmp_path):
    base, _ = dashboard
    store = CentralStore(f"sqlite:///{tmp_path}/central.db")
    svc = CentralService(store)
    try:
        svc.set_site_closures("acme", "EWR1", {"closures": [
            {"date": "2026-12-25", "reason": "Christmas Day"}, {"date": "2026-12-24", "reason": "Stock count"}]},
            today=_dt.date(2026, 11, 23))
    finally:
        store.close()
    login(page, base, then="/ops/sites")
    cells = page.locator("tr[data-site=EWR1] .closure-list").inner_text().splitlines()
    assert cells == ["2026-12-24 Stock count", "2026-12-25 Christmas Day"]
    assert page.locator("tr[data-site=LAX1] .closure-list").inner_text() == "—"
    page.click("text=EWR1")
    assert page.title() == "EWR1 · Sites · floorsync central"
    rows = [r.inner_text().split("\t") for r in page.locator("[data-testid=closures] tbody tr").all()]
    assert rows == [["2026-12-24", "Stock count"], ["2026-12-25", "Christmas Day"]]
    page.goto(f"{base}/ops/sites/LAX1")
    assert page.get_by_test_id("closures").inner_text() == "Open every business day (no closures set)."


def test_inventory_page_consolidates_drills_into_sites_and_ledger_and_exports_csv(page, dashboard):
    base, _ = dashboard
    login(page, base, then="/ops/inventory")
    rows = {r.get_attribute("data-sku"): r.inner_text().split("\t")
            for r in page.query_selector_all("table[data-testid=inventory] tbody tr")}
    # acme: SKU-1 10 at EWR1 + 5 at LAX1, 3 reserved by the live orders (the cancelled one released its unit)
    assert rows["SKU-1"] == ["SKU-1", "15", "3", "12", "0", "0", "0"]
    assert rows["SKU-2"] == ["SKU-2", "4", "0", "4", "0", "0", "0"]
    assert rows["SKU-3"] == ["SKU-3", "2", "0", "2", "0", "0", "0"]
    page.click("a:text('SKU-1')")
    page.wait_for_selector("table[data-testid=per-site]")
    sites = {r.get_attribute("data-site"): r.inner_text().split("\t")[:5]
             for r in page.query_selector_all("table[data-testid=per-site] tbody tr[data-site]")}
    assert sites["EWR1"][1] == "10" and sites["LAX1"][1] == "5"
    assert int(sites["EWR1"][2]) + int(sites["LAX1"][2]) == 3
    causes = [c.inner_text() for c in page.query_selector_all("table[data-testid=ledger] tbody td:nth-child(3)")]
    assert causes.count("seed") == 2 and "order" in " ".join(causes)
    page.click("tr[data-site=EWR1] a:text('ledger')")
    page.wait_for_url("**site=EWR1")
    assert {c.inner_text() for c in page.query_selector_all("table[data-testid=ledger] tbody td:nth-child(2)")} == {"EWR1"}
    # bolt's stock is its own page; CSV export of the selected merchant
    page.click("nav a:text('Inventory')")
    page.wait_for_selector("table[data-testid=inventory]")
    page.select_option("select[name=merchant]", "bolt")
    page.wait_for_selector("tr[data-sku='SKU-1']")
    assert page.inner_text("tr[data-sku='SKU-1']").split("\t")[:4] == ["SKU-1", "7", "1", "6"]
    csv_text = page.evaluate("fetch(document.querySelector('[data-testid=csv]').href).then(r => r.text())")
    assert csv_text.splitlines() == ["merchant_id,sku,on_hand,reserved,available,in_transit,quarantine,backordered",
                                     "bolt,SKU-1,7,1,6,0,0,0"]


def test_ops_hold_release_and_cancel_from_the_order_page(page, dashboard):
    base, orders = dashboard
    oid = orders[2]["order_id"]            # released, one unit of SKU-1 reserved
    login(page, base, then=f"/ops/orders/{oid}")
    assert page.inner_text("[data-testid=status]") == "released"
    assert [b.inner_text() for b in page.query_selector_all("form.actions button")] == ["Hold", "Cancel order"]
    page.fill("form.actions input[name=reason]", "address check")
    page.click("form.actions button[value=hold]")
    page.wait_for_selector("[data-testid=notice]")
    assert page.inner_text("[data-testid=notice]") == "Hold: the order is now on_hold."
    assert page.inner_text("[data-testid=status]") == "on hold"
    assert "address check" in page.inner_text("[data-testid=timeline]") and "ops:olga" in page.inner_text("[data-testid=timeline]")
    assert [b.inner_text() for b in page.query_selector_all("form.actions button")] == ["Release hold", "Cancel order"]
    page.click("form.actions button[value=release]")
    page.wait_for_function("document.querySelector('[data-testid=notice]').textContent.startsWith('Release:')")
    # cancel needs a reason, then a confirmation
    page.on("dialog", lambda d: d.accept())
    page.click("form.actions button[value=cancel]")
    page.wait_for_function("document.querySelector('[data-testid=notice]').textContent.startsWith('Say why')")
    assert page.inner_text("[data-testid=notice]") == "Say why you cancel this order."
    page.fill("form.actions input[name=reason]", "customer called")
    page.click("form.actions button[value=cancel]")
    page.wait_for_function("document.querySelector('[data-testid=notice]').textContent.startsWith('Cancel:')")
    assert page.inner_text("[data-testid=status]") == "cancelled"
    assert page.query_selector("form.actions") is None   # nothing left to do
    # a form posted without the session's token (another site, a stale page) changes nothing
    r = page.request.post(f"{base}/ops/orders/{orders[3]['order_id']}/action",
                          form={"action": "cancel", "reason": "x", "csrf": "forged"})
    assert r.status == 403
    page.goto(f"{base}/ops/orders/{orders[3]['order_id']}")
    assert page.inner_text("[data-testid=status]") == "released"
