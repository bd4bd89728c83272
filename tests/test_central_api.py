"""The REST API: auth + scopes, tenant isolation, the bad-input corpus, 413, OpenAPI conformance."""
from __future__ import annotations

import copy
import datetime as _dt
import json

import jsonschema
import pytest

from central.services import CentralService
from central.web import create_app
from floorsync import config as config_mod
from tests.fixtures_central import *  # noqa: F401,F403
from tests.fixtures_central import ADDRESS, CATALOG, CATALOG_B, order_payload


@pytest.fixture
def api(central_store):
    cfg = config_mod.load(env={}).replace("central", max_body_bytes=64 * 1024)
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    svc.seed_catalog(copy.deepcopy(CATALOG_B))
    keys = {}
    with central_store.transaction() as conn:
        for merchant in ("acme", "bolt"):
            for scope in ("read", "write", "admin"):
                keys[(merchant, scope)] = central_store.create_api_key(conn, merchant, scope)[1]
        revoked_id, keys["revoked"] = central_store.create_api_key(conn, "acme", "admin")
        central_store.revoke_api_key(conn, revoked_id)
    app = create_app(cfg, central_store, service=svc)
    client = app.test_client()

    class Api:
        store = central_store
        service = svc

        def call(self, method, path, key=("acme", "admin"), **kw):
            headers = kw.pop("headers", {})
            if key is not None:
                headers["Authorization"] = f"Bearer {keys[key] if isinstance(key, tuple) else keys[key]}"
            return client.open(f"/api/v1{path}", method=method, headers=headers, **kw)

    api = Api()
    api.client = client
    return api


def test_healthz_and_openapi_document(api):
    r = api.client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"
    doc = api.client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0" and "/orders" in doc["paths"]


def test_auth_and_scopes(api):
    assert api.call("GET", "/orders", key=None).status_code == 401
    r = api.call("GET", "/orders", key=None, headers={"Authorization": "Bearer fsk_nope_nope"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    assert api.call("GET", "/orders", key="revoked").status_code == 401
    assert api.call("GET", "/orders", key=("acme", "read")).status_code == 200
    r = api.call("POST", "/orders", key=("acme", "read"), json=order_payload("A-1", [("SKU-1", 1)]))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert api.call("POST", "/orders", key=("acme", "write"), json=order_payload("A-1", [("SKU-1", 1)])).status_code == 201
    assert api.call("GET", "/webhooks", key=("acme", "write")).status_code == 403
    assert api.call("GET", "/webhooks", key=("acme", "admin")).status_code == 200


def test_order_create_replay_conflict_and_list(api):
    body = order_payload("A-2", [("SKU-1", 2)])
    r1 = api.call("POST", "/orders", json=body)
    r2 = api.call("POST", "/orders", json=body)
    assert (r1.status_code, r2.status_code) == (201, 200)
    assert r1.get_json()["order_id"] == r2.get_json()["order_id"]
    r3 = api.call("POST", "/orders", json=order_payload("A-2", [("SKU-1", 3)]))
    assert r3.status_code == 409 and r3.get_json()["error"]["fields"] == {
        "channel_order_id": "already used with a different body"}
    for i in range(4):
        api.call("POST", "/orders", json=order_payload(f"A-L{i}", [("SKU-1", 1)]))
    page1 = api.call("GET", "/orders?limit=3").get_json()
    page2 = api.call("GET", f"/orders?limit=3&cursor={page1['next_cursor']}").get_json()
    ids = [o["channel_order_id"] for o in page1["items"] + page2["items"]]
    assert ids == ["A-L3", "A-L2", "A-L1", "A-L0", "A-2"] and page2["next_cursor"] is None
    assert [o["channel_order_id"] for o in api.call("GET", "/orders?q=A-L1").get_json()["items"]] == ["A-L1"]
    assert len(api.call("GET", "/orders?status=released&site=EWR1&service=ground&channel=web").get_json()["items"]) == 5
    assert api.call("GET", "/orders?status=nope").get_json()["error"]["fields"] == {
        "status": "must be one of " + ", ".join(__import__("central.core.lifecycle", fromlist=["x"]).STATUSES)}


def test_actions_through_api(api):
    oid = api.call("POST", "/orders", json=order_payload("A-3", [("SKU-1", 1), ("SKU-2", 1)])).get_json()["order_id"]
    assert api.call("POST", f"/orders/{oid}/hold", json={}).get_json()["error"]["fields"] == {"reason": "is required"}
    assert api.call("POST", f"/orders/{oid}/hold", json={"reason": "fraud check"}).get_json()["status"] == "on_hold"
    assert api.call("POST", f"/orders/{oid}/release").get_json()["status"] == "released"
    r = api.call("POST", f"/orders/{oid}/address", json={"ship_to": dict(ADDRESS, line1="9 Elm St")})
    assert r.get_json()["ship_to"]["line1"] == "9 Elm St"
    assert api.call("POST", f"/orders/{oid}/service", json={"service": "two_day"}).get_json()["service"] == "two_day"
    assert api.call("POST", f"/orders/{oid}/split", json={"line_ids": ["2"]}).status_code == 200
    assert api.call("POST", f"/orders/{oid}/cancel", json={"reason": "changed mind"}).get_json()["status"] == "cancelled"
    r = api.call("POST", f"/orders/{oid}/hold", json={"reason": "x"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_transition"
    events = api.call("GET", f"/orders/{oid}/events").get_json()["items"]
    assert [e["kind"] for e in events][-3:] == ["service_changed", "split", "cancelled"]
    inv = api.call("GET", "/inventory/SKU-1").get_json()
    assert inv["totals"]["reserved"] == 0 and inv["totals"]["on_hand"] == 15
    ledger = api.call("GET", "/inventory/SKU-1/ledger?site=EWR1").get_json()["items"]
    assert [(r["cause"], r["d_reserved"]) for r in ledger[:2]] == [("cancel", -1), ("order", 1)]


def test_tenant_isolation_on_every_endpoint(api):
    """Merchant B cannot read or change anything of merchant A's, whatever the endpoint."""
    a = api.call("POST", "/orders", json=order_payload("T-1", [("SKU-1", 1)])).get_json()
    hook = api.call("POST", "/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["order.shipped"]}).get_json()
    t = api.call("POST", "/transfers", json={"from_site": "EWR1", "to_site": "LAX1",
                                             "lines": [{"sku": "SKU-2", "qty": 1}]}).get_json()
    b = ("bolt", "admin")
    oid = a["order_id"]
    for method, path, body in [
            ("GET", f"/orders/{oid}", None), ("GET", f"/orders/{oid}/events", None),
            ("POST", f"/orders/{oid}/cancel", {}), ("POST", f"/orders/{oid}/hold", {"reason": "x"}),
            ("POST", f"/orders/{oid}/release", {}), ("POST", f"/orders/{oid}/address", {"ship_to": ADDRESS}),
            ("POST", f"/orders/{oid}/service", {"service": "overnight"}),
            ("POST", f"/orders/{oid}/split", {"line_ids": ["1"]}),
            ("POST", f"/orders/{oid}/replacement", {"reason": "x"}),
            ("GET", "/inventory/SKU-2", None), ("GET", "/sites/LAX1", None),
            ("GET", f"/transfers/{t['transfer_id']}", None), ("POST", f"/transfers/{t['transfer_id']}/ship", None),
            ("GET", f"/webhooks/{hook['webhook_id']}/deliveries", None),
            ("DELETE", f"/webhooks/{hook['webhook_id']}", None),
            ("POST", "/inventory/SKU-1/sites/LAX1/adjust", {"delta": -1}),
            ("GET", "/sites/LAX1/closures", None),
            ("PUT", "/sites/LAX1/closures", {"closures": [{"date": "2026-12-24", "reason": "x"}]})]:
        r = api.call(method, path, key=b, json=body) if body is not None else api.call(method, path, key=b)
        assert r.status_code == 404, (method, path, r.status_code, r.get_data(as_text=True))
    assert api.call("GET", "/orders", key=b).get_json()["items"] == []
    assert api.call("GET", "/orders?q=T-1", key=b).get_json()["items"] == []
    assert api.call("GET", "/webhooks", key=b).get_json()["items"] == []
    assert api.call("GET", "/transfers", key=b).get_json()["items"] == []
    assert [s["site_id"] for s in api.call("GET", "/sites", key=b).get_json()["items"]] == ["EWR1"]
    assert api.call("GET", "/inventory/SKU-1", key=b).get_json()["totals"]["on_hand"] == 7
    assert {s["sku"] for s in api.call("GET", "/skus", key=b).get_json()["items"]} == {"SKU-1"}
    # A's order and stock are untouched
    assert api.call("GET", f"/orders/{oid}").get_json()["status"] == "released"
    assert api.call("GET", "/inventory/SKU-1").get_json()["totals"]["on_hand"] == 15


GOOD = order_payload("BAD-0", [("SKU-1", 1)])


def _with(path: str, value, base=None):
    body = copy.deepcopy(base or GOOD)
    cur = body
    parts = path.replace("]", "").replace("[", ".").split(".")
    for p in parts[:-1]:
        cur = cur[int(p)] if p.isdigit() else cur[p]
    last = parts[-1]
    if value is KeyError:
        del cur[last]
    else:
        cur[int(last) if last.isdigit() else last] = value
    return body


CORPUS = [
    ("malformed json", b'{"channel_order_id": "x", "lines": [', "body"),
    ("json array", b"[1, 2, 3]", "body"),
    ("empty body", b"", "body"),
    ("wrong type qty", _with("lines[0].qty", "2"), "lines[0].qty"),
    ("float qty", _with("lines[0].qty", 1.5), "lines[0].qty"),
    ("bool qty", _with("lines[0].qty", True), "lines[0].qty"),
    ("zero qty", _with("lines[0].qty", 0), "lines[0].qty"),
    ("negative qty", _with("lines[0].qty", -3), "lines[0].qty"),
    ("absurd qty", _with("lines[0].qty", 10**12), "lines[0].qty"),
    ("unknown sku", _with("lines[0].sku", "NOPE-1"), "lines[0].sku"),
    ("bad sku format", _with("lines[0].sku", "bad sku!"), "lines[0].sku"),
    ("lines not a list", _with("lines", {"sku": "SKU-1"}), "lines"),
    ("no lines", _with("lines", []), "lines"),
    ("too many lines", _with("lines", [{"sku": f"SKU-{i}", "qty": 1} for i in range(201)]), "lines"),
    ("duplicate lines", _with("lines", [{"sku": "SKU-1", "qty": 1}, {"sku": "SKU-1", "qty": 2}]), "lines[1].sku"),
    ("duplicate line ids", _with("lines", [{"line_id": "a", "sku": "SKU-1", "qty": 1},
                                           {"line_id": "a", "sku": "SKU-2", "qty": 1}]), "lines[1].line_id"),
    ("unknown top-level field", _with("discount", 5), "discount"),
    ("unknown line field", _with("lines[0].price", 5), "lines[0].price"),
    ("unknown address field", _with("ship_to.planet", "Mars"), "ship_to.planet"),
    ("over-long name", _with("ship_to.name", "x" * 201), "ship_to.name"),
    ("over-long channel order id", _with("channel_order_id", "A" * 121), "channel_order_id"),
    ("control characters", _with("ship_to.line1", "1 Main\x00St"), "ship_to.line1"),
    ("invalid country", _with("ship_to.country", "XX"), "ship_to.country"),
    ("lowercase country", _with("ship_to.country", "us"), "ship_to.country"),
    ("invalid US ZIP", _with("ship_to.postal_code", "ABCDE"), "ship_to.postal_code"),
    ("missing US ZIP", _with("ship_to.postal_code", KeyError), "ship_to.postal_code"),
    ("invalid UK postcode", _with("ship_to", dict(ADDRESS, country="GB", postal_code="123")), "ship_to.postal_code"),
    ("missing ship_to", _with("ship_to", KeyError), "ship_to"),
    ("ship_to not object", _with("ship_to", "somewhere"), "ship_to"),
    ("missing channel_order_id", _with("channel_order_id", KeyError), "channel_order_id"),
    ("unknown service", _with("service", "teleport"), "service"),
    ("gift message too long", _with("gift_message", "g" * 501), "gift_message"),
    ("urgent not bool", _with("urgent", "yes"), "urgent"),
]


def test_bad_input_corpus_is_422_naming_the_field_and_changes_nothing(api):
    with api.store.read() as conn:
        before = api.store.table_snapshot(conn)
    for name, body, field in CORPUS:
        if isinstance(body, bytes):
            r = api.call("POST", "/orders", data=body, headers={"Content-Type": "application/json"})
        else:
            r = api.call("POST", "/orders", json=body)
        assert r.status_code == 422, (name, r.status_code, r.get_data(as_text=True))
        err = r.get_json()["error"]
        assert err["code"] == "validation_failed" and field in err["fields"], (name, err)
    with api.store.read() as conn:
        assert api.store.table_snapshot(conn) == before


def test_every_offending_field_is_named_at_once(api):
    body = _with("lines[0].qty", 0, _with("ship_to.country", "XX", _with("extra", 1)))
    fields = api.call("POST", "/orders", json=body).get_json()["error"]["fields"]
    assert set(fields) == {"lines[0].qty", "ship_to.country", "extra"}


def test_body_size_limit_is_413(api):
    big = _with("note", "n" * 100_000)
    r = api.call("POST", "/orders", json=big)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "payload_too_large"


def test_csv_import_endpoint(api):
    text = ("channel_order_id,name,line1,city,postal_code,country,sku,qty\n"
            "CSV-9,Ann,1 A St,Boston,02110,US,SKU-1,1\nCSV-10,Bob,2 B St,Austin,78701,US,NOPE,1\n")
    r = api.call("POST", "/orders/import", data=text.encode(), headers={"Content-Type": "text/csv"})
    out = r.get_json()
    assert r.status_code == 200 and (out["imported"], out["failed"]) == (1, 1)
    assert out["errors"][0]["fields"] == {"3": {"sku": "unknown SKU NOPE"}}


def test_responses_match_the_openapi_document(api):
    """Drive every documented operation once and validate each response body against its schema."""
    doc = api.client.get("/api/v1/openapi.json").get_json()
    comps = json.loads(json.dumps(doc["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/"))
    jsonschema.Draft202012Validator.check_schema({"$defs": comps})

    def check(method, path, template, status, **kw):
        r = api.call(method, path, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.get_data(as_text=True))
        op = doc["paths"][template][method.lower()]
        assert str(status) in op["responses"], (template, status)
        content = op["responses"][str(status)].get("content")
        if content:
            schema = json.loads(json.dumps(content["application/json"]["schema"]).replace(
                "#/components/schemas/", "#/$defs/"))
            jsonschema.Draft202012Validator({**schema, "$defs": comps}).validate(r.get_json())
        return r.get_json()

    o = check("POST", "/orders", "/orders", 201, json=order_payload("O-1", [("SKU-1", 1), ("SKU-2", 1)]))
    check("POST", "/orders", "/orders", 200, json=order_payload("O-1", [("SKU-1", 1), ("SKU-2", 1)]))
    check("POST", "/orders", "/orders", 409, json=order_payload("O-1", [("SKU-1", 2)]))
    check("POST", "/orders", "/orders", 422, json={"lines": []})
    check("GET", "/orders", "/orders", 200)
    oid = o["order_id"]
    check("GET", f"/orders/{oid}", "/orders/{order_id}", 200)
    check("GET", "/orders/nope", "/orders/{order_id}", 404)
    check("GET", f"/orders/{oid}/events", "/orders/{order_id}/events", 200)
    check("POST", f"/orders/{oid}/hold", "/orders/{order_id}/hold", 200, json={"reason": "r"})
    check("POST", f"/orders/{oid}/release", "/orders/{order_id}/release", 200)
    check("POST", f"/orders/{oid}/address", "/orders/{order_id}/address", 200, json={"ship_to": ADDRESS})
    check("POST", f"/orders/{oid}/service", "/orders/{order_id}/service", 200, json={"service": "overnight"})
    check("POST", f"/orders/{oid}/split", "/orders/{order_id}/split", 200, json={"line_ids": ["2"]})
    check("POST", f"/orders/{oid}/replacement", "/orders/{order_id}/replacement", 201, json={"reason": "lost"})
    check("POST", f"/orders/{oid}/cancel", "/orders/{order_id}/cancel", 200, json={"reason": "r"})
    check("POST", f"/orders/{oid}/cancel", "/orders/{order_id}/cancel", 409)
    check("POST", "/orders/import", "/orders/import", 200,
          data=b"channel_order_id,name,line1,city,postal_code,country,sku,qty\nZ-1,A,1 A,B,02110,US,SKU-1,1\n")
    check("GET", "/inventory", "/inventory", 200)
    check("GET", "/inventory/SKU-1", "/inventory/{sku}", 200)
    check("GET", "/inventory/SKU-1/ledger", "/inventory/{sku}/ledger", 200)
    check("POST", "/inventory/SKU-1/sites/EWR1/adjust", "/inventory/{sku}/sites/{site_id}/adjust", 200,
          json={"delta": 2, "reason": "found"})
    check("GET", "/sites", "/sites", 200)
    check("GET", "/sites/EWR1", "/sites/{site_id}", 200)
    day = (_dt.date.today() + _dt.timedelta(days=30)).isoformat()
    check("PUT", "/sites/EWR1/closures", "/sites/{site_id}/closures", 200,
          json={"closures": [{"date": day, "reason": "Stock count"}]})
    check("PUT", "/sites/EWR1/closures", "/sites/{site_id}/closures", 422, json={"closures": [{"date": day}]})
    check("PUT", "/sites/NOPE/closures", "/sites/{site_id}/closures", 404, json={"closures": []})
    check("GET", "/sites/EWR1/closures", "/sites/{site_id}/closures", 200)
    check("GET", "/sites/EWR1", "/sites/{site_id}", 200)
    check("GET", "/skus", "/skus", 200)
    check("POST", "/skus", "/skus", 201, json={"sku": "NEW-1", "description": "New", "gtins": ["00012345600012"],
                                                "weight_g": 50})
    check("PUT", "/skus/NEW-1", "/skus/{sku}", 200, json={"description": "Renamed"})
    check("GET", "/skus/NEW-1", "/skus/{sku}", 200)
    check("POST", "/skus/bulk", "/skus/bulk", 200, json={"skus": [{"sku": "NEW-2"}, {"sku": "NEW-1"}]})
    t = check("POST", "/transfers", "/transfers", 201,
              json={"from_site": "EWR1", "to_site": "LAX1", "lines": [{"sku": "SKU-1", "qty": 1}]})
    check("GET", "/transfers", "/transfers", 200)
    check("GET", f"/transfers/{t['transfer_id']}", "/transfers/{transfer_id}", 200)
    check("POST", f"/transfers/{t['transfer_id']}/ship", "/transfers/{transfer_id}/ship", 200)
    check("POST", f"/transfers/{t['transfer_id']}/receive", "/transfers/{transfer_id}/receive", 200)
    h = check("POST", "/webhooks", "/webhooks", 201, json={"url": "http://127.0.0.1:9/x", "events": ["order.cancelled"]})
    check("GET", "/webhooks", "/webhooks", 200)
    check("GET", f"/webhooks/{h['webhook_id']}/deliveries", "/webhooks/{webhook_id}/deliveries", 200)
    check("DELETE", f"/webhooks/{h['webhook_id']}", "/webhooks/{webhook_id}", 204)
    check("GET", "/alerts", "/alerts", 200)
    check("GET", "/orders", "/orders", 401, key=None)
    check("POST", "/orders", "/orders", 403, key=("acme", "read"), json=GOOD)


# ---------------------------------------------------------------------- cancel of a partly shipped order
def _ship(api, fo, lines, seq):
    from central import sync_handlers
    from sync.core.envelope import Envelope

    env = Envelope(1, f"ev-{fo['site_id']}-{seq}", "acme", fo["site_id"], "up", seq, "e1", "shipment.shipped",
                   "2026-01-01T00:00:00Z", {
                       "fo_id": fo["fo_id"], "order_id": fo["order_id"], "tracking_number": fo["tracking_number"],
                       "carrier": fo["carrier"], "service": fo["service"], "weight_g": 500, "lines": lines,
                       "shipped_at": "2026-01-01T10:00:00Z"})
    sync_handlers.configure(api.service.ops)
    api.store.run(lambda conn: sync_handlers.apply_up_event(conn, env))


def _stock(api, sku, site):
    return {s["site_id"]: s for s in api.call("GET", f"/inventory/{sku}").get_json()["sites"]}[site]


def test_cancel_of_a_partly_shipped_order_cancels_only_the_unshipped_rest(api):
    from tests.fixtures_central import outbox

    hook = api.call("POST", "/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["order.cancelled"]}).get_json()
    # SKU-2 is stocked only at EWR1, SKU-3 only at LAX1: two shipments
    order = api.call("POST", "/orders", json=order_payload("P-1", [("SKU-2", 3), ("SKU-3", 2)])).get_json()
    fos = {fo["site_id"]: dict(fo, order_id=order["order_id"]) for fo in order["fulfillment_orders"]}
    assert sorted(fos) == ["EWR1", "LAX1"]
    oid = order["order_id"]
    _ship(api, fos["EWR1"], [{"line_id": "1", "sku": "SKU-2", "qty": 3}], 1)
    assert api.call("GET", f"/orders/{oid}").get_json()["status"] == "partially_shipped"
    assert (_stock(api, "SKU-3", "LAX1")["reserved"], _stock(api, "SKU-3", "LAX1")["available"]) == (2, 0)

    r = api.call("POST", f"/orders/{oid}/cancel", json={"reason": "customer wants no more"})
    assert r.status_code == 200, r.get_data(as_text=True)
    after = r.get_json()
    assert after["status"] == "shipped"
    assert [(ln["sku"], ln["qty"], ln["qty_shipped"], ln["qty_cancelled"]) for ln in after["lines"]] == [
        ("SKU-2", 3, 3, 0), ("SKU-3", 2, 0, 2)]
    assert {fo["site_id"]: fo["status"] for fo in after["fulfillment_orders"]} == {"EWR1": "shipped",
                                                                                   "LAX1": "cancelled"}
    # the LAX1 reservation is released; the shipped units stay shipped (EWR1 on_hand 4 - 3)
    lax = _stock(api, "SKU-3", "LAX1")
    assert (lax["on_hand"], lax["reserved"], lax["available"]) == (2, 0, 2)
    ewr = _stock(api, "SKU-2", "EWR1")
    assert (ewr["on_hand"], ewr["reserved"], ewr["available"]) == (1, 0, 1)
    # only the unshipped site is told to cancel
    assert [(e.type, e.body["fo_id"]) for e in outbox(api.store, "LAX1")][-1] == ("order.cancelled",
                                                                                 fos["LAX1"]["fo_id"])
    assert "order.cancelled" not in [e.type for e in outbox(api.store, "EWR1")]
    last = api.call("GET", f"/orders/{oid}/events").get_json()["items"][-1]
    assert (last["kind"], last["from_status"], last["to_status"]) == ("remainder_cancelled", "partially_shipped",
                                                                      "shipped")
    assert last["reason"] == ("customer wants no more: cancelled 2 unshipped unit(s); 3 shipped unit(s) stay shipped")
    assert last["detail"] == {"lines": [{"line_id": "2", "sku": "SKU-3", "qty_cancelled": 2, "qty_shipped": 0}]}
    ledger = api.call("GET", "/inventory/SKU-3/ledger?site=LAX1").get_json()["items"]
    assert [(x["cause"], x["d_reserved"], x["ref"]) for x in ledger[:2]] == [("cancel", -2, oid), ("order", 2, oid)]
    [d] = api.call("GET", f"/webhooks/{hook['webhook_id']}/deliveries").get_json()["items"]
    assert d["payload"]["data"] == {"order_id": oid, "channel_order_id": "P-1", "reason": "customer wants no more",
                                    "status": "shipped", "cancelled_units": 2, "shipped_units": 3,
                                    "lines": [{"line_id": "2", "sku": "SKU-3", "qty_cancelled": 2, "qty_shipped": 0}]}

    # nothing is left: a second cancel is a 409 that says why, and changes nothing
    again = api.call("POST", f"/orders/{oid}/cancel", json={})
    assert again.status_code == 409
    assert again.get_json()["error"] == {
        "code": "invalid_transition",
        "message": "order is shipped and its 3 unit(s) have shipped: nothing left to cancel (shipped units cannot "
                   "be cancelled; return them instead)"}
    kinds = [e["kind"] for e in api.call("GET", f"/orders/{oid}/events").get_json()["items"]]
    assert kinds == ["received", "routed", "allocated", "released", "partially_shipped", "remainder_cancelled"]

    # the edge ships the cancelled rest anyway (offline): physical facts win, the order becomes an exception
    _ship(api, fos["LAX1"], [{"line_id": "2", "sku": "SKU-3", "qty": 2}], 1)
    assert api.call("GET", f"/orders/{oid}").get_json()["status"] == "exception"
    lax = _stock(api, "SKU-3", "LAX1")
    assert (lax["on_hand"], lax["reserved"]) == (0, 0)
    assert api.service.verify_ledger() == {"rows": api.service.verify_ledger()["rows"], "mismatches": [],
                                           "oversold_units": 0}


def test_cancel_of_a_fully_shipped_order_is_refused(api):
    order = api.call("POST", "/orders", json=order_payload("F-1", [("SKU-1", 2)])).get_json()
    [fo] = order["fulfillment_orders"]
    _ship(api, dict(fo, order_id=order["order_id"]), [{"line_id": "1", "sku": "SKU-1", "qty": 2}], 1)
    r = api.call("POST", f"/orders/{order['order_id']}/cancel", json={"reason": "too late"})
    assert r.status_code == 409
    assert r.get_json()["error"]["message"] == (
        "order is shipped and its 2 unit(s) have shipped: nothing left to cancel (shipped units cannot be "
        "cancelled; return them instead)")
    assert api.call("GET", f"/orders/{order['order_id']}").get_json()["status"] == "shipped"


def test_cancel_with_a_backordered_rest_after_a_partial_shipment(api):
    """Partly shipped, the rest backordered: cancel drops the backorder and the order ends shipped."""
    order = api.call("POST", "/orders", json=order_payload("PB-1", [("SKU-2", 6)])).get_json()   # 4 in stock
    assert [(b["qty"], b["status"]) for b in order["backorders"]] == [(2, "open")]
    [fo] = order["fulfillment_orders"]
    _ship(api, dict(fo, order_id=order["order_id"]), [{"line_id": "1", "sku": "SKU-2", "qty": 4}], 1)
    oid = order["order_id"]
    assert api.call("GET", f"/orders/{oid}").get_json()["status"] == "partially_shipped"
    after = api.call("POST", f"/orders/{oid}/cancel", json={"reason": "stop"}).get_json()
    assert after["status"] == "shipped"
    assert [(b["qty"], b["status"]) for b in after["backorders"]] == [(2, "cancelled")]
    assert [(ln["qty_shipped"], ln["qty_cancelled"], ln["qty_backordered"]) for ln in after["lines"]] == [(4, 2, 0)]
    # new stock no longer goes to this order
    api.call("POST", "/inventory/SKU-2/sites/EWR1/adjust", json={"delta": 5, "reason": "receipt"})
    assert _stock(api, "SKU-2", "EWR1")["reserved"] == 0


# ---------------------------------------------------------------------- site closures
def test_site_closures_put_get_and_routing_uses_them(api):
    today = _dt.date.today()
    d1, d2 = (today + _dt.timedelta(days=10)).isoformat(), (today + _dt.timedelta(days=3)).isoformat()
    r = api.call("PUT", "/sites/EWR1/closures", json={"closures": [{"date": d1, "reason": "Inventory count"},
                                                                    {"date": d2, "reason": " Flooding "}]})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json() == {"site_id": "EWR1", "closures": [{"date": d2, "reason": "Flooding"},
                                                            {"date": d1, "reason": "Inventory count"}]}
    assert api.call("GET", "/sites/EWR1/closures", key=("acme", "read")).get_json() == r.get_json()
    site = api.call("GET", "/sites/EWR1").get_json()
    assert site["closures"] == [d2, d1]
    assert site["closure_details"] == [{"date": d2, "reason": "Flooding"}, {"date": d1, "reason": "Inventory count"}]
    # bolt shares EWR1 and sees the same closures
    assert api.call("GET", "/sites/EWR1", key=("bolt", "read")).get_json()["closures"] == [d2, d1]
    # the closures are what routing reads: the service layer's site view (used by routing) has the dates
    assert api.service.get_site("acme", "EWR1")["closures"] == [d2, d1]
    # an empty list reopens every day
    assert api.call("PUT", "/sites/EWR1/closures", json={"closures": []}).get_json() == {"site_id": "EWR1",
                                                                                           "closures": []}
    assert api.call("GET", "/sites/EWR1").get_json()["closures"] == []


def test_site_closure_moves_the_promise(api):
    first = api.call("POST", "/orders", json=order_payload("CL-1", [("SKU-2", 1)])).get_json()
    ship_date = first["routing_log"][-1]["shipments"][0]["ship_date"]
    r = api.call("PUT", "/sites/EWR1/closures", json={"closures": [{"date": ship_date, "reason": "Power cut"}]})
    assert r.status_code == 200
    second = api.call("POST", "/orders", json=order_payload("CL-2", [("SKU-2", 1)])).get_json()
    shipment = second["routing_log"][-1]["shipments"][0]
    assert shipment["site_id"] == "EWR1" and shipment["ship_date"] > ship_date


def test_site_closures_bad_input_is_422_naming_fields_and_changes_nothing(api):
    today = _dt.date.today()
    ok_day = (today + _dt.timedelta(days=5)).isoformat()
    api.call("PUT", "/sites/EWR1/closures", json={"closures": [{"date": ok_day, "reason": "Count"}]})
    far = (today + _dt.timedelta(days=3 * 366 + 1)).isoformat()
    old = (today - _dt.timedelta(days=367)).isoformat()
    cases = [
        ({}, {"closures": "is required: a list of {date, reason} (empty to reopen every day)"}),
        ({"closures": "2026-12-24"}, {"closures": "is required: a list of {date, reason} (empty to reopen every day)"}),
        ({"closures": [], "extra": 1}, {"extra": "unknown field"}),
        ({"closures": ["2026-12-24"]}, {"closures[0]": "must be an object {date, reason}"}),
        ({"closures": [{"date": "2026-13-01", "reason": "x"}]}, {"closures[0].date": "must be a calendar date YYYY-MM-DD"}),
        ({"closures": [{"date": "24/12/2026", "reason": "x"}]}, {"closures[0].date": "must be a calendar date YYYY-MM-DD"}),
        ({"closures": [{"date": 20261224, "reason": "x"}]}, {"closures[0].date": "must be a string"}),
        ({"closures": [{"date": far, "reason": "x"}]},
         {"closures[0].date": f"must be between {(today - _dt.timedelta(days=366)).isoformat()} and "
                              f"{(today + _dt.timedelta(days=3 * 366)).isoformat()}"}),
        ({"closures": [{"date": old, "reason": "x"}]},
         {"closures[0].date": f"must be between {(today - _dt.timedelta(days=366)).isoformat()} and "
                              f"{(today + _dt.timedelta(days=3 * 366)).isoformat()}"}),
        ({"closures": [{"date": ok_day}]}, {"closures[0].reason": "is required"}),
        ({"closures": [{"date": ok_day, "reason": "   "}]}, {"closures[0].reason": "must not be empty"}),
        ({"closures": [{"date": ok_day, "reason": "x" * 201}]},
         {"closures[0].reason": "must be at most 200 characters"}),
        ({"closures": [{"date": ok_day, "reason": "a\x00b"}]},
         {"closures[0].reason": "must not contain control characters"}),
        ({"closures": [{"date": ok_day, "reason": "x", "why": "y"}]}, {"closures[0].why": "unknown field"}),
        ({"closures": [{"date": ok_day, "reason": "a"}, {"date": ok_day, "reason": "b"}]},
         {"closures[1].date": "duplicate of closures[0].date"}),
        ({"closures": [{"date": ok_day, "reason": "x"}] * 401}, {"closures": "at most 400 closures"}),
    ]
    with api.store.read() as conn:
        before = api.store.table_snapshot(conn)
    for body, fields in cases:
        r = api.call("PUT", "/sites/EWR1/closures", json=body)
        assert r.status_code == 422, (body, r.get_data(as_text=True))
        assert r.get_json()["error"]["fields"] == fields, body
    assert api.call("PUT", "/sites/EWR1/closures", data=b"{nope", headers={"Content-Type": "application/json"}
                    ).status_code == 422
    with api.store.read() as conn:
        assert api.store.table_snapshot(conn) == before
    assert api.call("GET", "/sites/EWR1/closures").get_json()["closures"] == [{"date": ok_day, "reason": "Count"}]


def test_site_closures_need_admin_scope_and_a_site_in_the_network(api):
    body = {"closures": [{"date": (_dt.date.today() + _dt.timedelta(days=2)).isoformat(), "reason": "x"}]}
    for scope in ("read", "write"):
        r = api.call("PUT", "/sites/EWR1/closures", key=("acme", scope), json=body)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert api.call("PUT", "/sites/LAX1/closures", key=("bolt", "admin"), json=body).status_code == 404
    assert api.call("PUT", "/sites/ZZZ9/closures", json=body).status_code == 404
    assert api.call("GET", "/sites/EWR1/closures").get_json()["closures"] == []


def test_cancel_after_a_shipment_that_left_a_line_behind(api):
    """One shipment reported only part of its lines: the cancel frees what that shipment still reserves."""
    order = api.call("POST", "/orders", json=order_payload("LB-1", [("SKU-1", 1), ("SKU-2", 2)])).get_json()
    [fo] = order["fulfillment_orders"]
    assert fo["site_id"] == "EWR1"
    _ship(api, dict(fo, order_id=order["order_id"]), [{"line_id": "1", "sku": "SKU-1", "qty": 1}], 1)
    oid = order["order_id"]
    assert api.call("GET", f"/orders/{oid}").get_json()["status"] == "partially_shipped"
    assert _stock(api, "SKU-2", "EWR1")["reserved"] == 2
    after = api.call("POST", f"/orders/{oid}/cancel", json={"reason": "rest not wanted"}).get_json()
    assert after["status"] == "shipped"
    assert [(ln["qty_shipped"], ln["qty_cancelled"]) for ln in after["lines"]] == [(1, 0), (0, 2)]
    assert (_stock(api, "SKU-2", "EWR1")["reserved"], _stock(api, "SKU-2", "EWR1")["available"]) == (0, 4)
    assert api.service.verify_ledger()["mismatches"] == []
