"""The REST API: auth + scopes, tenant isolation, the bad-input corpus, 413, OpenAPI conformance."""
from __future__ import annotations

import copy
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
            ("POST", "/inventory/SKU-1/sites/LAX1/adjust", {"delta": -1})]:
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
