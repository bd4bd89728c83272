"""Central stores the cartons (packages) of a shipment with their own tracking numbers and shows them
in the REST order, the ``order.shipped`` webhook and the ops order page — on SQLite and PostgreSQL."""
from __future__ import annotations

import copy
import json
import re

import jsonschema
import pytest

from central import sync_handlers
from central.openapi import spec
from central.services import CentralService
from central.store import MIGRATIONS, CentralStore
from central.web import create_app
from floorsync import config as config_mod
from sync.core.envelope import Envelope
from tests.fixtures_central import *  # noqa: F401,F403
from tests.fixtures_central import CATALOG, order_payload

PASSWORD = "correct-horse-battery"


@pytest.fixture
def shop(central_store):
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    svc.add_ops_user("olga", PASSWORD, "Olga Ops")
    sync_handlers.configure(svc.ops)
    with central_store.transaction() as conn:
        key = central_store.create_api_key(conn, "acme", "read")[1]
    app = create_app(config_mod.load(env={}), central_store, service=svc)
    return svc, app, key


def _up(svc, seq: int, kind: str, body: dict, site: str):
    env = Envelope(1, f"ev-{site}-{seq}", "acme", site, "up", seq, "e1", kind, "2026-01-01T00:00:00Z", body)
    return svc.store.run(lambda conn: sync_handlers.apply_up_event(conn, env))


def _validator(name: str) -> jsonschema.Draft202012Validator:
    comps = json.loads(json.dumps(spec()["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/"))
    return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": comps})


def _page_cartons(app, order_id: str) -> list[list[str]]:
    """The rows of the Packages table on the ops order page, as an ops user sees them (cell texts)."""
    client = app.test_client()
    r = client.post("/login", data={"username": "olga", "password": PASSWORD, "next": f"/ops/orders/{order_id}"})
    assert r.status_code == 302
    html = client.get(f"/ops/orders/{order_id}").get_data(as_text=True)
    rows = re.findall(r'<tr data-testid="carton">(.*?)</tr>', html, re.S)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in rows]


def test_a_two_carton_shipment_shows_every_package_tracking_number(shop):
    svc, app, key = shop
    hook = svc.subscribe_webhook("acme", {"url": "http://127.0.0.1:9/hooks", "events": ["order.shipped"]})
    order, _ = svc.create_order("acme", order_payload("MC-7", [("SKU-1", 3), ("SKU-2", 1)]))
    [fo] = order["fulfillment_orders"]
    master = fo["tracking_number"]
    assert svc.get_order("acme", order["order_id"])["fulfillment_orders"][0]["cartons"] == []   # nothing shipped yet
    lines = [{"line_id": "1", "sku": "SKU-1", "qty": 3}, {"line_id": "2", "sku": "SKU-2", "qty": 1}]
    cartons = [{"seq": 1, "tracking_number": master, "carton": "BOX-L", "weight_g": 640,
                "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 2}, {"line_id": "2", "sku": "SKU-2", "qty": 1}]},
               {"seq": 2, "tracking_number": f"{master}-02", "carton": "BOX-S", "weight_g": 230,
                "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 1}]}]
    _up(svc, 1, "shipment.shipped", {"fo_id": fo["fo_id"], "order_id": order["order_id"], "tracking_number": master,
                                     "carrier": fo["carrier"], "service": fo["service"], "weight_g": 870,
                                     "lines": lines, "shipped_at": "2026-11-24T18:00:00Z", "cartons": cartons},
        fo["site_id"])

    # REST: GET /api/v1/orders/{id} -> fulfillment_orders[].cartons, valid against the OpenAPI document
    r = app.test_client().get(f"/api/v1/orders/{order['order_id']}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    got = r.get_json()
    _validator("Order").validate(got)
    assert got["status"] == "shipped"
    assert got["fulfillment_orders"][0]["cartons"] == [
        {"seq": 1, "tracking_number": master, "carton": "BOX-L", "weight_g": 640,
         "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 2}, {"line_id": "2", "sku": "SKU-2", "qty": 1}]},
        {"seq": 2, "tracking_number": f"{master}-02", "carton": "BOX-S", "weight_g": 230,
         "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 1}]}]

    # the order.shipped webhook carries the same packages
    [delivery] = svc.webhook_deliveries("acme", hook["webhook_id"])
    payload = delivery["payload"]
    _validator("OrderShippedEvent").validate(payload)
    assert [(c["seq"], c["tracking_number"], c["carton"], c["weight_g"]) for c in payload["data"]["cartons"]] == [
        (1, master, "BOX-L", 640), (2, f"{master}-02", "BOX-S", 230)]
    assert payload["data"]["cartons"][1]["lines"] == [{"line_id": "1", "sku": "SKU-1", "qty": 1}]
    assert payload["data"]["tracking_number"] == master

    # the ops order page lists both packages
    assert _page_cartons(app, order["order_id"]) == [
        [fo["fo_id"], "1", master, "BOX-L", "640 g", "SKU-1 × 2, SKU-2 × 1"],
        [fo["fo_id"], "2", f"{master}-02", "BOX-S", "230 g", "SKU-1 × 1"]]


def test_a_single_parcel_shipment_is_one_package_under_the_master_tracking_number(shop):
    svc, app, _ = shop
    hook = svc.subscribe_webhook("acme", {"url": "http://127.0.0.1:9/hooks", "events": ["order.shipped"]})
    order, _ = svc.create_order("acme", order_payload("SP-1", [("SKU-1", 2)]))
    [fo] = order["fulfillment_orders"]
    _up(svc, 1, "shipment.shipped", {"fo_id": fo["fo_id"], "order_id": order["order_id"],
                                     "tracking_number": fo["tracking_number"], "carrier": fo["carrier"],
                                     "service": fo["service"], "weight_g": 455,
                                     "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 2}],
                                     "shipped_at": "2026-11-24T18:00:00Z"}, fo["site_id"])
    one = [{"seq": 1, "tracking_number": fo["tracking_number"], "carton": None, "weight_g": 455,
            "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 2}]}]
    got = svc.get_order("acme", order["order_id"])
    _validator("Order").validate(got)
    assert got["fulfillment_orders"][0]["cartons"] == one
    assert svc.webhook_deliveries("acme", hook["webhook_id"])[0]["payload"]["data"]["cartons"] == one
    assert _page_cartons(app, order["order_id"]) == [
        [fo["fo_id"], "1", fo["tracking_number"], "—", "455 g", "SKU-1 × 2"]]


def test_schema_step_3_adds_the_carton_table_to_an_older_database(tmp_path):
    from sqlalchemy import inspect, text

    url = f"sqlite:///{tmp_path}/old.db"
    store = CentralStore(url)
    store.create_all()
    with store.transaction() as conn:   # a database from before step 3
        conn.execute(text("DROP TABLE shipment_cartons"))
        conn.execute(text("DELETE FROM schema_migrations WHERE version = 3"))
    assert store.schema_version() == 2
    store.close()
    store = CentralStore(url)
    store.create_all()
    try:
        assert MIGRATIONS[2] == (3, "shipment_cartons") and store.schema_version() == 3
        with store.read() as conn:
            assert [c["name"] for c in inspect(conn).get_columns("shipment_cartons")] == [
                "fo_id", "seq", "tracking_number", "carton", "weight_g", "lines", "shipped_at"]
        store.create_all()   # idempotent
        assert store.schema_version() == 3
    finally:
        store.close()
