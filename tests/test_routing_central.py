"""The checkout endpoint mounted on central's real app over a seeded central store (SQLite)."""
from __future__ import annotations

import copy
import datetime as dt

import pytest

from central.services import CentralService
from central.web import create_app
from central.routing.web import register_routing
from floorsync import config as config_mod
from tests.fixtures_central import *  # noqa: F401,F403
from tests.fixtures_central import CATALOG, CATALOG_B
from tests.fixtures_routing import network  # noqa: F401

NOW = dt.datetime(2026, 11, 17, 15, 0, tzinfo=dt.timezone.utc)   # Tue 10:00 New York


@pytest.fixture
def api(sqlite_store, network):
    from central.routing.network import NetworkProvider

    svc = CentralService(sqlite_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    svc.seed_catalog(copy.deepcopy(CATALOG_B))
    with sqlite_store.transaction() as conn:
        acme = sqlite_store.create_api_key(conn, "acme", "read")[1]
        bolt = sqlite_store.create_api_key(conn, "bolt", "read")[1]
    app = create_app(config_mod.load(env={}), sqlite_store, service=svc)
    if "routing" not in app.blueprints:   # central's app factory mounts it; older trees did not
        register_routing(app, svc)
    app.extensions["routing"].update(network=NetworkProvider(network), clock=lambda: NOW)
    client = app.test_client()

    def post(body, key=acme):
        return client.post("/api/v1/checkout/options", json=body, headers={"Authorization": f"Bearer {key}"})

    post.svc, post.bolt, post.client = svc, bolt, client
    return post


def body(postal, *lines):
    return {"ship_to": {"country": "US", "postal_code": postal}, "lines": [{"sku": s, "qty": q} for s, q in lines]}


def test_checkout_options_from_central_stock(api):
    # SKU-1 (100 g) at EWR1 and LAX1: from Newark, 1-day UPS Ground keeps "overnight" (8.10) and
    # 2-day USPS the standard promise (4.75); two-day adds nothing over ground.
    r = api(body("10118", ("SKU-1", 1)))
    assert r.status_code == 200, r.get_data(as_text=True)
    got = r.get_json()
    assert [(o["service"], o["promised_date"], o["price"]) for o in got["options"]] == [
        ("overnight", "2026-11-18", 8.1), ("ground", "2026-11-19", 4.75)]
    assert [u["service"] for u in got["unavailable"]] == ["two_day"]


def test_checkout_respects_stock_and_site_health(api):
    # SKU-3 only at LAX1 (2 units): 3 units cannot be promised at all.
    got = api(body("10118", ("SKU-3", 3))).get_json()
    assert got["options"] == []
    got = api(body("10118", ("SKU-3", 1))).get_json()
    assert [(o["service"], o["promised_date"]) for o in got["options"]] == [
        ("overnight", "2026-11-18"), ("two_day", "2026-11-19"), ("ground", "2026-11-24")]
    api.svc.set_site_health("LAX1", stale=True, sync_lag_s=0, printers_ok=True,
                            last_heartbeat_at="2026-11-17T14:54:00Z", detail="")
    got = api(body("10118", ("SKU-3", 1))).get_json()
    assert got["options"] == []
    assert got["unavailable"][0]["reason"] == "not enough stock within reach of this service for SKU-3"


def test_checkout_errors_and_tenancy(api):
    r = api(body("10118", ("SKU-404", 1)))
    assert (r.status_code, r.get_json()["error"]["message"]) == (422, "unknown SKU SKU-404")
    r = api(body("10118", ("SKU-2", 1)), key=api.bolt)   # bolt's catalog has no SKU-2
    assert (r.status_code, r.get_json()["error"]["message"]) == (422, "unknown SKU SKU-2")
    r = api.client.post("/api/v1/checkout/options", json=body("10118", ("SKU-1", 1)))
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
