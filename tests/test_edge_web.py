"""The edge JSON API (auth, roles, next steps, errors) and the handheld + console pages in chromium."""
from __future__ import annotations

import contextlib
import threading

import pytest

from edge import store as db
from edge.web import create_app
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import item_code, pack_and_ship, pick_all, release, sku_gtin


@pytest.fixture
def client(floor, edge_cfg):
    app = create_app(edge_cfg, floor.store, floor=floor)
    return app.test_client()


@contextlib.contextmanager
def serving(app):
    """The app on a real threaded HTTP server on 127.0.0.1 (for chromium); yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def page_login(page, url: str, user: str, pin: str) -> None:
    """Open a page and log in on it (user, PIN, Enter: what a badge scan and the keypad do)."""
    page.goto(url)
    page.fill("#user", user)
    page.fill("#pin", pin)
    page.press("#pin", "Enter")


def login(client, user, pin):
    r = client.post("/api/login", json={"username": user, "pin": pin, "device": "test"})
    assert r.status_code == 200, r.json
    return {"Authorization": "Bearer " + r.json["token"]}


def test_healthz_and_auth(client, floor):
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
    # every refusal is in the audit log, also those refused before any workflow ran (wrong PIN,
    # role check, malformed body); a request without a session is the login screen, not an action
    refused = floor.store.read(lambda c: [(a["username"], a["action"], a["code"])
                                          for a in db.audit_rows(c, ok=False)])
    assert refused[::-1] == [("picker1", "auth.login", "unauthorized"),
                             ("picker1", "POST /api/pack/start", "forbidden"),
                             ("picker1", "GET /api/console", "forbidden"),
                             ("picker1", "POST /api/pick/start", "bad_request")]


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
    release(floor.store, "FO-7", [("SKU-0001", 2), ("SKU-0002", 1)])
    with serving(create_app(edge_cfg, floor.store, floor=floor)) as base:
        page_login(page, base + "/handheld", "picker1", "1111")
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
        page_login(page, base + "/handheld", "packer1", "2222")
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
        page_login(page, base + "/console", "manager1", "9999")
        page.wait_for_selector("#tiles .tile")
        tiles = page.inner_text("#tiles")
        assert "1\nSHIPPED" in tiles.upper()
        assert "wrong_location" in page.inner_text("#exceptions")
        page.screenshot(path=str(floor.store.path) + "-console.png", full_page=True)


@pytest.mark.browser
def test_handheld_shows_a_cancel_mid_pick_and_guides_the_put_back(page, floor, edge_cfg):
    from tests.fixtures_edge import down

    release(floor.store, "FO-8", [("SKU-0001", 1), ("SKU-0002", 1)])
    with serving(create_app(edge_cfg, floor.store, floor=floor)) as base:
        page_login(page, base + "/handheld", "picker1", "1111")
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


@pytest.mark.browser
def test_console_qc_card_releases_and_rejects_quarantined_stock(page, floor, edge_cfg):
    from edge.services import Actor

    r1 = floor.receiving.receive(Actor("receiver1", "receiver"), sku_gtin("SKU-0007"), qty=5)
    r2 = floor.receiving.receive(Actor("receiver1", "receiver"), sku_gtin("SKU-0007"), qty=2)
    home = floor.qc.pending()[0]["suggested_bin"]
    with serving(create_app(edge_cfg, floor.store, floor=floor)) as base:
        page_login(page, base + "/console", "manager1", "9999")
        page.wait_for_selector(f'button[data-release="{r1["receipt_id"]}"]')
        assert page.input_value(f'input[data-bin="{r1["receipt_id"]}"]') == home      # the suggested bin, prefilled
        assert "2\nQC WAITING" in page.inner_text("#tiles").upper()
        assert page.inner_text("#qc").count("blind receipt") == 2  # where each quarantined receipt came from
        page.click(f'button[data-release="{r1["receipt_id"]}"]')
        page.wait_for_function("document.getElementById('qcmsg').textContent.startsWith('✔ QC done')")
        page.select_option(f'select[data-reason="{r2["receipt_id"]}"]', "defective")
        page.select_option(f'select[data-disp="{r2["receipt_id"]}"]', "return_to_vendor")
        page.click(f'button[data-reject="{r2["receipt_id"]}"]')
        page.wait_for_function("document.getElementById('qcmsg').textContent.includes('return-to-vendor shelf')")
        assert floor.qc.pending() == []
        assert sum(r["qty"] for r in floor.store.read(lambda c: db.stock_at(c, home, "SKU-0007"))) == 5
        decisions = floor.store.read(lambda c: [(d["outcome"], d["disposition"], d["reason"], d["username"])
                                                for d in db.qc_decisions(c)])
        assert decisions == [("rejected", "return_to_vendor", "defective", "manager1"),
                             ("released", "available", None, "manager1")]
        page.wait_for_selector("#qc p.empty")


@pytest.mark.browser
def test_handheld_packs_two_cartons_and_ships_each(page, floor, edge_cfg):
    from edge.services import Actor
    from tests.fixtures_edge import pick_all

    release(floor.store, "FO-9", [("SKU-0001", 1), ("SKU-0002", 1)])
    pick_all(floor, Actor("picker1", "picker"), floor.picking.start(Actor("picker1", "picker"), fo_id="FO-9"))
    with serving(create_app(edge_cfg, floor.store, floor=floor)) as base:
        page_login(page, base + "/handheld", "packer1", "2222")
        page.click("#goPack")

        def scan(code, expect_next):
            page.keyboard.type(code)
            page.keyboard.press("Enter")
            page.wait_for_function("(t) => document.getElementById('next').textContent.startsWith(t)", arg=expect_next)

        page.wait_for_function("document.activeElement.id === 'scan'")
        scan("FO-9", "Scan each item: 2 unit(s)")
        scan(sku_gtin("SKU-0001"), "Scan each item: 1 unit(s)")
        floor.weight_source.set(110 + 90)             # SKU-0001 in a BOX-XS
        page.click("#closeBtn")
        page.wait_for_function("document.getElementById('flash').textContent.includes('carton 1 closed — label 1ZFO9')")
        assert page.text_content("#next") == "Scan each item for carton 2: 1 unit(s) left to verify, Close carton when full"
        assert "1 closed" in page.text_content("#meta")
        page.click("#scan")
        scan(sku_gtin("SKU-0002"), "Scan carton BOX-XS")
        floor.weight_source.set(120 + 90)
        page.click("#closeBtn")                       # the last carton: the order packs
        page.wait_for_function("document.getElementById('next').textContent.startsWith('Scan the shipping label 1ZFO9 (carton 1 of 2)')")
        page.click("#scan")
        scan("1ZFO9", "Put carton 1 on the ups cage; scan label 1ZFO9-02")
        page.keyboard.type("1ZFO9-02")
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('flash').textContent.includes('shipped 1ZFO9')")
        assert floor.store.read(lambda c: db.fo_get(c, "FO-9"))["status"] == "shipped"
        assert [c["status"] for c in floor.store.read(lambda c: db.fo_cartons(c, "FO-9"))] == ["shipped", "shipped"]


@pytest.mark.browser
def test_handheld_counts_the_bins_the_schedule_made_due(page, floor, edge_cfg):
    from edge.services import Actor

    floor.counting.add_schedule(Actor("manager1", "manager"), "ZA", "zone", "A", 5)
    created = floor.counting.schedule_due()["locations"]
    assert len(created) == 2
    first, second = created
    [row] = floor.store.read(lambda c: db.stock_at(c, first))
    with serving(create_app(edge_cfg, floor.store, floor=floor)) as base:
        page_login(page, base + "/handheld", "counter1", "4444")
        page.click("#goCount")
        page.wait_for_function("(t) => document.getElementById('next').textContent === t", arg=f"Go to bin {first} and scan it")
        assert page.text_content("#meta").startswith("2 due · 0 overdue")
        page.click("#scan")
        page.keyboard.type(first)
        page.keyboard.press("Enter")
        page.wait_for_function("(t) => document.getElementById('next').textContent === t", arg=f"Scan an item in {first}")
        page.keyboard.type(sku_gtin(row["sku"]))
        page.keyboard.press("Enter")
        page.wait_for_function("document.activeElement.id === 'qty'")
        page.keyboard.type(str(row["qty"]))
        page.keyboard.press("Enter")
        page.wait_for_function("(t) => document.getElementById('flash').textContent.includes(t)",
                               arg=f"Bin {first} done: next due count is bin {second}")
        page.wait_for_function("(t) => document.getElementById('next').textContent === t", arg=f"Go to bin {second} and scan it")
    task = floor.store.read(lambda c: c.execute("SELECT status, done_by FROM count_tasks WHERE location = ?", (first,)).fetchone())
    assert tuple(task) == ("done", "counter1")
    assert floor.counting.due()["tasks"][0]["location"] == second


@pytest.mark.browser
def test_handheld_qc_releases_into_the_scanned_bin_and_rejects_with_a_reason(page, floor, edge_cfg):
    from edge.services import Actor

    r = floor.receiving.receive(Actor("receiver1", "receiver"), sku_gtin("SKU-0007"), qty=5)
    home = floor.qc.pending()[0]["suggested_bin"]
    with serving(create_app(edge_cfg, floor.store, floor=floor)) as base:
        page_login(page, base + "/handheld", "receiver1", "3333")
        page.click("#goQc")
        page.wait_for_function("(t) => document.getElementById('next').textContent === t", arg=f"Scan bin {home} to release, or Reject")
        assert page.text_content("#meta") == f"receipt {r['receipt_id']} · 5 of 5 waiting · 1/1"
        page.fill("#qty", "4")
        page.click("#scan")
        page.keyboard.type(home)
        page.keyboard.press("Enter")
        page.wait_for_function("(t) => document.getElementById('flash').textContent.includes(t)",
                               arg=f"1 unit(s) of receipt {r['receipt_id']} still in quarantine")
        page.wait_for_function("document.getElementById('meta').textContent.startsWith('receipt') && "
                               "document.getElementById('meta').textContent.includes('1 of 5 waiting')")
        page.click("#qcReject")
        page.click('#rejectPanel button[data-disp="return_to_vendor"]')
        page.click('#rejectPanel button[data-reason="expired"]')
        page.wait_for_function("document.getElementById('flash').textContent.includes('Take 1 x SKU-0007 to the return-to-vendor shelf')")
        page.wait_for_function("document.getElementById('next').textContent === 'Nothing waiting in quarantine'")
    decisions = floor.store.read(lambda c: [(d["outcome"], d["disposition"], d["qty"], d["reason"], d["location"], d["username"])
                                            for d in db.qc_decisions(c, r["receipt_id"])])
    assert decisions == [("released", "available", 4, None, home, "receiver1"),
                         ("rejected", "return_to_vendor", 1, "expired", "QC-01", "receiver1")]


def test_end_of_day_manifests_list_download_and_close(client, floor):
    from edge.services import Actor

    release(floor.store, "FO-1", [("SKU-0001", 1)])
    release(floor.store, "FO-2", [("SKU-0020", 2)])
    release(floor.store, "FO-3", [("SKU-0002", 1)], carrier="fedex", tracking="7712FO3")
    picker, packer = Actor("picker1", "picker"), Actor("packer1", "packer")
    pick_all(floor, picker, floor.picking.start(picker, method="batch"))
    shipped = [pack_and_ship(floor, packer, fo) for fo in ("FO-1", "FO-2", "FO-3")]
    assert [s["status"] for s in shipped] == ["shipped"] * 3
    hm, hp = login(client, "manager1", "9999"), login(client, "picker1", "1111")
    assert client.get("/api/manifests", headers=hp).status_code == 403  # managers only
    lst = client.get("/api/manifests", headers=hm).json
    assert [(m["carrier"], m["status"], m["parcels"]) for m in sorted(lst["manifests"], key=lambda m: m["carrier"])] == [
        ("fedex", "open", 1), ("ups", "open", 2)]
    assert lst["next"].startswith("Close the ") and lst["next"].endswith(" manifest(s) when the truck is loaded")
    ups = next(m for m in lst["manifests"] if m["carrier"] == "ups")
    day = ups["day"]
    csv_resp = client.get(f"/api/manifests/{ups['manifest_id']}/manifest.csv", headers=hm)
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    assert csv_resp.headers["Content-Disposition"] == f"attachment; filename={ups['manifest_id']}.csv"
    rows = [r.split(",") for r in csv_resp.get_data(as_text=True).strip().split("\r\n")]
    assert rows[0] == ["manifest_id", "carrier", "ship_date", "order_id", "fo_id", "carton_seq", "carton",
                       "tracking_number", "service", "weight_g", "shipped_at"]
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[7], r[8]) for r in rows[1:]] == [
        (ups["manifest_id"], "ups", day, "OFO-1", "FO-1", "1", "1ZFO1", "ground"),
        (ups["manifest_id"], "ups", day, "OFO-2", "FO-2", "1", "1ZFO2", "ground")]
    assert sum(int(r[9]) for r in rows[1:]) == ups["weight_g"] > 0
    pdf = client.get(f"/api/manifests/{ups['manifest_id']}/manifest.pdf", headers=hm)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert client.get("/api/manifests/MAN-NOPE/manifest.csv", headers=hm).status_code == 404
    closed = client.post("/api/ship/manifests/ups/close", headers=hm, json={}).json
    assert closed["parcels"] == 2 and closed["next"] == "Hand 2 parcel(s) to ups and get the driver's signature"
    after = {m["carrier"]: m for m in client.get("/api/manifests", headers=hm).json["manifests"]}
    assert after["ups"]["status"] == "closed" and after["ups"]["closed_by"] == "manager1"
    assert after["fedex"]["status"] == "open"
    assert client.get("/api/console", headers=hm).json["manifests"][0]["carrier"] == "fedex"  # open first


def test_console_closes_the_days_manifest(page, floor, edge_cfg):
    from edge.services import Actor

    release(floor.store, "FO-1", [("SKU-0001", 1)])
    picker, packer = Actor("picker1", "picker"), Actor("packer1", "packer")
    pick_all(floor, picker, floor.picking.start(picker))
    pack_and_ship(floor, packer, "FO-1")
    mid = floor.shipping.manifests()[0]["manifest_id"]
    with serving(create_app(edge_cfg, floor.store, floor=floor)) as base:
        page_login(page, base + "/console", "manager1", "9999")
        page.wait_for_selector('button[data-close="ups"]')
        row = page.inner_text("#manifests tr:nth-child(2)")
        assert mid in row and "open" in row and "\t1\t" in row
        assert page.get_attribute("#manifests a >> nth=0", "href") == f"/api/manifests/{mid}/manifest.csv"
        csv_text = page.evaluate(f"fetch('/api/manifests/{mid}/manifest.csv').then(r => r.text())")  # the login cookie
        assert csv_text.count("\r\n") == 2 and ",FO-1,1," in csv_text
        page.click('button[data-close="ups"]')
        page.wait_for_function("document.getElementById('manmsg').textContent.startsWith('✔ 1 parcel(s)')")
        page.wait_for_function("!document.querySelector('button[data-close]')")
        assert "closed" in page.inner_text("#manifests") and "manager1" in page.inner_text("#manifests")
