"""The edge JSON API (auth, roles, next steps, errors) and the handheld + console pages in chromium."""
from __future__ import annotations

import pytest

from edge import store as db
from edge.web import create_app
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import item_code, release, sku_gtin


@pytest.fixture
def client(floor, edge_cfg):
    app = create_app(edge_cfg, floor.store, floor=floor)
    return app.test_client()


def login(client, user, pin):
    r = client.post("/api/login", json={"username": user, "pin": pin, "device": "test"})
    assert r.status_code == 200, r.json
    return {"Authorization": "Bearer " + r.json["token"]}


def test_healthz_and_auth(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"ok": True, "site_id": "EWR1", "outbox_depth": 0}
    assert float(r.headers["X-Server-Time-Ms"]) >= 0
    r = client.post("/api/pick/start", json={})
    assert r.status_code == 401 and r.json["error"] == "unauthorized" and r.json["next"] == "Scan your badge"
    r = client.post("/api/login", json={"username": "picker1", "pin": "9999"})
    assert r.status_code == 401 and r.json["message"] == "unknown user or wrong PIN"
    h = login(client, "picker1", "1111")
    assert client.get("/api/me", headers=h).json["role"] == "picker"
    r = client.post("/api/pack/start", headers=h, json={"code": "FO-1"})
    assert r.status_code == 403 and r.json["error"] == "forbidden"
    r = client.get("/api/console", headers=h)
    assert r.status_code == 403
    r = client.post("/api/pick/start", headers=h, data="not json", content_type="application/json")
    assert r.status_code == 400 and r.json["error"] == "bad_request"


def test_scan_driven_pick_pack_ship_over_the_api(client, floor):
    release(floor.store, "FO-1", [("SKU-0001", 1), ("SKU-0020", 1)])
    hp = login(client, "picker1", "1111")
    r = client.post("/api/pick/start", headers=hp, json={}).json
    assert r["ok"] and r["next"] == f"Scan bin {r['task']['location']}"
    bad = client.post(f"/api/pick/{r['run_id']}/scan", headers=hp, json={"code": "B-04-10-3"})
    assert bad.status_code == 409 and bad.json == {"ok": False, "error": "wrong_location",
                                                   "message": f"wrong bin B-04-10-3: go to {r['task']['location']}",
                                                   "next": f"Scan bin {r['task']['location']}"}
    while r.get("task"):
        t = r["task"]
        r = client.post(f"/api/pick/{r['run_id']}/scan", headers=hp, json={"code": t["location"], "task_id": t["task_id"]}).json
        r = client.post(f"/api/pick/{r['run_id']}/scan", headers=hp, json={"code": item_code(t), "task_id": t["task_id"]}).json
        assert r["ok"], r
    assert r["next"] == "Run complete: take the totes to packing"
    hk = login(client, "packer1", "2222")
    tote = r["orders"][0]["tote"]
    v = client.post("/api/pack/start", headers=hk, json={"code": tote}).json
    assert v["fo_id"] == "FO-1" and v["next"] == "Scan each item: 2 unit(s) left to verify"
    client.post("/api/pack/FO-1/scan", headers=hk, json={"code": sku_gtin("SKU-0001")})
    v = client.post("/api/pack/FO-1/scan", headers=hk, json={"code": sku_gtin("SKU-0020")}).json
    v = client.post("/api/pack/FO-1/carton", headers=hk, json={"code": v["suggested_carton"]}).json
    floor.weight_source.set(v["expected_weight_g"] + 300)
    held = client.post("/api/pack/FO-1/weigh", headers=hk, json={})
    assert held.status_code == 409 and held.json["status"] == "weight_hold" and held.json["error"] == "weight_out_of_tolerance"
    hm = login(client, "manager1", "9999")
    console = client.get("/api/console", headers=hm).json
    assert [w["fo_id"] for w in console["weight_holds"]] == ["FO-1"] and console["orders_by_status"] == {"weight_hold": 1}
    assert any(e["code"] == "wrong_location" for e in console["exceptions"])
    v = client.post("/api/pack/FO-1/override", headers=hm, json={"reason": "scale calibrated, item verified"}).json
    assert v["status"] == "packed"
    s = client.post("/api/ship/FO-1/confirm", headers=hk, json={"code": "1ZFO1"}).json
    assert s["status"] == "shipped" and s["next"].startswith("Put the parcel on the ups cage")
    audit = client.get("/api/audit?subject=fo:FO-1", headers=hm).json["rows"]
    assert [a["action"] for a in audit][:2] == ["ship.confirm", "pack.override"]


def test_receive_count_return_and_transfer_endpoints(client, floor):
    hr = login(client, "receiver1", "3333")
    r = client.post("/api/receive", headers=hr, json={"code": sku_gtin("SKU-0002"), "qty": 4}).json
    assert r["next"] == f"Put away: scan bin {r['suggested_bin']}"
    p = client.post(f"/api/receive/{r['receipt_id']}/putaway", headers=hr, json={"code": r["suggested_bin"]}).json
    assert p["ok"] and p["bin"] == r["suggested_bin"]
    bad = client.post("/api/receive", headers=hr, json={"code": sku_gtin("SKU-0002"), "qty": -4})
    assert bad.status_code == 400 and bad.json["error"] == "invalid_quantity"
    hc = login(client, "counter1", "4444")
    t = client.get(f"/api/count/{r['suggested_bin']}", headers=hc).json
    assert t["skus"] == ["SKU-0002"]
    c = client.post(f"/api/count/{r['suggested_bin']}", headers=hc, json={"code": sku_gtin("SKU-0002"), "counted": 204}).json
    assert c["status"] == "accepted" and c["variance"] == 0
    ret = client.post("/api/returns", headers=hr, json={"code": sku_gtin("SKU-0003")}).json
    g = client.post(f"/api/returns/{ret['return_id']}/grade", headers=hr, json={"grade": "C"}).json
    assert g["location"] == "QC-01"
    assert client.post("/api/transfers/NOPE/ship", headers=hr).status_code == 404
    assert client.get("/api/nope", headers=hr).json["error"] == "not_found"


@pytest.mark.browser
def test_handheld_page_scan_driven_pick_and_console(page, floor, edge_cfg):
    from werkzeug.serving import make_server
    import threading

    release(floor.store, "FO-7", [("SKU-0001", 2), ("SKU-0002", 1)])
    app = create_app(edge_cfg, floor.store, floor=floor)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        page.goto(base + "/handheld")
        page.fill("#user", "picker1")
        page.fill("#pin", "1111")
        page.press("#pin", "Enter")
        page.click("#goPick")
        page.wait_for_function("document.getElementById('next').textContent.startsWith('Scan bin')")
        tasks = floor.store.read(lambda c: db.run_tasks(c, db.runs_open(c, "picker1")[0]["run_id"]))
        assert page.evaluate("document.activeElement.id") == "scan"   # wedge scans land in the input
        # a wrong bin first: red feedback, nothing changes
        page.keyboard.type("C-04-10-3")
        page.keyboard.press("Enter")
        page.wait_for_selector("#flash.bad")
        assert "wrong bin" in page.text_content("#flash")
        assert page.evaluate("getComputedStyle(document.getElementById('flash')).backgroundColor") == "rgb(254, 226, 226)"
        for t in tasks:
            page.keyboard.type(t["location"])
            page.keyboard.press("Enter")
            page.wait_for_function(f"document.getElementById('next').textContent.startsWith('Scan item {t['sku']}')")
            for _ in range(t["qty"]):
                page.keyboard.type(item_code(t))
                page.keyboard.press("Enter")
                page.wait_for_function("document.getElementById('flash').className === 'flash ok'")
                page.wait_for_timeout(50)
        page.wait_for_function("document.getElementById('next').textContent === 'Run complete: take the totes to packing'")
        assert page.text_content("#bigline") == "Done"
        assert floor.store.read(lambda c: db.fo_get(c, "FO-7"))["status"] == "picked"
        size = page.evaluate("parseFloat(getComputedStyle(document.getElementById('shortBtn')).minHeight)")
        assert size >= 80   # glove-sized targets
        # pack and ship it from the same page, scan by scan
        page.evaluate("sessionStorage.clear()")
        page.goto(base + "/handheld")
        page.fill("#user", "packer1")
        page.fill("#pin", "2222")
        page.press("#pin", "Enter")
        page.click("#goPack")
        tote = floor.store.read(lambda c: c.execute("SELECT tote FROM totes WHERE fo_id = 'FO-7'").fetchone()[0])

        def scan(code, expect_next):
            page.keyboard.type(code)
            page.keyboard.press("Enter")
            page.wait_for_function("(t) => document.getElementById('next').textContent.startsWith(t)", arg=expect_next)
        page.wait_for_function("document.activeElement.id === 'scan'")
        scan(tote, "Scan each item: 3 unit(s)")
        scan(sku_gtin("SKU-0001"), "Scan each item: 2 unit(s)")
        page.wait_for_timeout(50)
        scan(sku_gtin("SKU-0001"), "Scan each item: 1 unit(s)")
        scan(sku_gtin("SKU-0002"), "Scan carton BOX-XS")
        scan("BOX-XS", "Put the BOX-XS on the scale")
        expected = floor.store.read(lambda c: db.fo_get(c, "FO-7"))["expected_weight_g"]
        floor.weight_source.set(expected + 5)
        page.click("#weighBtn")
        page.wait_for_function("document.getElementById('next').textContent.startsWith('Scan the shipping label')")
        page.keyboard.type("1ZFO7")
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('flash').textContent.includes('shipped 1ZFO7')")
        assert floor.store.read(lambda c: db.fo_get(c, "FO-7"))["status"] == "shipped"
        # the console shows it at a glance
        page.goto(base + "/console")
        page.fill("#user", "manager1")
        page.fill("#pin", "9999")
        page.click("#loginBtn")
        page.wait_for_selector("#tiles .tile")
        tiles = page.inner_text("#tiles")
        assert "1\nSHIPPED" in tiles.upper()
        assert "wrong_location" in page.inner_text("#exceptions")
        page.screenshot(path=str(floor.store.path) + "-console.png", full_page=True)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.browser
def test_handheld_shows_a_cancel_mid_pick_and_guides_the_put_back(page, floor, edge_cfg):
    import threading

    from werkzeug.serving import make_server

    from tests.fixtures_edge import down

    release(floor.store, "FO-8", [("SKU-0001", 1), ("SKU-0002", 1)])
    app = create_app(edge_cfg, floor.store, floor=floor)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page.goto(f"http://127.0.0.1:{server.port}/handheld")
        page.fill("#user", "picker1")
        page.fill("#pin", "1111")
        page.press("#pin", "Enter")
        page.click("#goPick")
        page.wait_for_function("document.getElementById('next').textContent.startsWith('Scan bin')")
        first = floor.store.read(lambda c: db.run_tasks(c, db.runs_open(c, "picker1")[0]["run_id"]))[0]
        page.keyboard.type(first["location"])
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('next').textContent.startsWith('Scan item')")
        page.keyboard.type(item_code(first))
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('next').textContent.startsWith('Scan bin')")
        down(floor.store, "order.cancelled", {"order_id": "OFO-8", "fo_id": "FO-8", "reason": "customer"})
        page.keyboard.type("A-01-01-1")            # the screen still shows the old task: refused as stale
        page.keyboard.press("Enter")
        page.wait_for_selector("#flash.bad")
        assert "cancelled — return items to location " + first["location"] in page.text_content("#flash")
        page.wait_for_selector("button.putback")
        assert "Order FO-8 cancelled" in page.text_content("#alerts")
        page.click("button.putback")
        page.keyboard.type(first["location"])
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('flash').textContent.includes('returned 1 to')")
        assert floor.store.read(lambda c: db.tasks_to_put_back(c, "FO-8")) == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
