"""Central's real intake and app with the routing package: health reasons, capacity, dimensional
weight, site closures (migration step 2), one shared network provider and the rate-reload endpoint."""
from __future__ import annotations

import copy
import datetime as dt
import shutil

import pytest
from sqlalchemy import create_engine, text

from central.routing.core.promise import is_business_day, next_business_day
from central.routing.network import DEFAULT_RATES, default_provider, site_from_dict
from central.routing_adapter import make_router
from central.services import CentralService
from central.store import MIGRATIONS, CentralStore
from central.web import create_app
from floorsync import config as config_mod
from tests.fixtures_central import CATALOG, order_payload


def _catalog(**site_changes):
    cat = copy.deepcopy(CATALOG)
    for site in cat["sites"]:
        site.update(site_changes.get(site["site_id"], {}))
    # SKU-4: a light but bulky item (600 x 400 x 400 mm = 96,000 cm^3), stocked only at EWR1
    cat["skus"][3].update(weight_g=400, length_mm=600, width_mm=400, height_mm=400)
    cat["stock"].append({"site_id": "EWR1", "sku": "SKU-4", "qty": 5})
    return cat


@pytest.fixture
def app_svc(tmp_path):
    store = CentralStore(f"sqlite:///{tmp_path}/central.db")
    store.create_all()
    svc = CentralService(store)
    svc.seed_catalog(_catalog(EWR1={"capacity_per_day": 2}))
    with store.transaction() as conn:
        admin = store.create_api_key(conn, "acme", "admin")[1]
        reader = store.create_api_key(conn, "acme", "read")[1]
    app = create_app(config_mod.load(env={}), store, service=svc)
    app.test_keys = {"admin": admin, "read": reader}
    yield app, svc
    store.close()


def _ago(minutes: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)).isoformat()


def _rejected(order) -> dict:
    return {r["site_id"]: r["reason"] for r in order["routing_log"][-1]["rejected"]}


def test_rejected_sites_carry_the_routing_health_reasons(app_svc):
    _, svc = app_svc
    svc.set_site_health("LAX1", stale=True, sync_lag_s=0, printers_ok=True, last_heartbeat_at=_ago(6.3), detail="")
    svc.ops.invalidate_sites()
    order, _ = svc.create_order("acme", order_payload("H-1", [("SKU-1", 1)]))
    assert _rejected(order) == {"LAX1": "stale 6 min"}
    assert [f["site_id"] for f in order["fulfillment_orders"]] == ["EWR1"]

    svc.set_site_health("LAX1", stale=False, sync_lag_s=1200, printers_ok=True, last_heartbeat_at=_ago(0), detail="")
    svc.set_site_health("EWR1", stale=False, sync_lag_s=0, printers_ok=False, last_heartbeat_at=_ago(0), detail="")
    svc.ops.invalidate_sites()
    order, _ = svc.create_order("acme", order_payload("H-2", [("SKU-1", 1)]))
    assert _rejected(order) == {"EWR1": "no working label printer", "LAX1": "sync lag 1200 s over 900 s"}
    assert order["status"] == "backordered"
    assert [(b["sku"], b["qty"]) for b in order["backorders"]] == [("SKU-1", 1)]


def test_site_capacity_counts_todays_fulfillment_orders(app_svc):
    _, svc = app_svc
    # SKU-2 is stocked only at EWR1 (4 units), whose capacity is 2 orders a day
    for i in (1, 2):
        order, _ = svc.create_order("acme", order_payload(f"C-{i}", [("SKU-2", 1)]))
        assert [f["site_id"] for f in order["fulfillment_orders"]] == ["EWR1"]
    order, _ = svc.create_order("acme", order_payload("C-3", [("SKU-2", 1)]))
    assert order["status"] == "backordered"
    assert _rejected(order)["EWR1"] == "at capacity (2/2 orders today)"
    assert order["fulfillment_orders"] == []
    # a fresh router (another process) counts today's fulfillment orders from the store
    fresh = make_router(svc.ops.router.network_provider, store=svc.store)
    with svc.store.read() as conn:
        sites = svc.store.list_sites(conn, "acme")
    plan = fresh(order={"merchant_id": "acme", "ship_to": order["ship_to"], "service": "ground"},
                 lines=[("1", "SKU-2", 1)], sites=sites, available={("SKU-2", "EWR1"): 2}, weights={"SKU-2": 200},
                 now=dt.datetime.now(dt.timezone.utc), max_sync_lag_s=900)
    assert plan.shipments == () and plan.log["rejected"] == [
        {"site_id": "EWR1", "reason": "at capacity (2/2 orders today)"},
        {"site_id": "LAX1", "reason": "out of stock for SKU-2"}]


def test_dimensional_weight_comes_from_the_sku_dimensions(app_svc):
    _, svc = app_svc
    order, _ = svc.create_order("acme", order_payload("D-1", [("SKU-4", 1)]))
    shipment = order["routing_log"][-1]["shipments"][0]
    # 96,000 cm^3 bills as 16 kg at USPS (divisor 6000, over its 9 kg limit) and 19.2 kg at UPS (5000):
    # zone 2 at the 20 kg break of UPS Ground (19.90), not the 400 g USPS rate the same item gets without its dimensions
    assert (shipment["site_id"], shipment["carrier_service"], shipment["cost"]) == ("EWR1", "ups_ground", 19.9)
    # the same request routed without the store (no dimensions): the actual 400 g rate (USPS 500 g break, zone 2)
    bare = make_router(svc.ops.router.network_provider)
    with svc.store.read() as conn:
        sites = svc.store.list_sites(conn, "acme")
    plan = bare(order={"merchant_id": "acme", "ship_to": order["ship_to"], "service": "ground"},
                lines=[("1", "SKU-4", 1)], sites=sites,
                available={("SKU-4", "EWR1"): 5}, weights={"SKU-4": 400},
                now=dt.datetime.now(dt.timezone.utc), max_sync_lag_s=900)
    got = plan.log["shipments"][0]
    assert (got["carrier_service"], got["cost"]) == ("usps_ground_advantage", 5.35)


def test_checkout_prices_bulky_items_by_dimensional_weight(app_svc):
    app, _ = app_svc
    client, key = app.test_client(), app.test_keys["read"]
    r = client.post("/api/v1/checkout/options", headers={"Authorization": f"Bearer {key}"},
                    json={"ship_to": {"country": "US", "postal_code": "10118"}, "lines": [{"sku": "SKU-4", "qty": 1}]})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert {o["service"]: o["price"] for o in r.get_json()["options"]}["ground"] == 19.9


def test_site_closure_moves_the_ship_date(app_svc):
    _, svc = app_svc
    first, _ = svc.create_order("acme", order_payload("X-1", [("SKU-2", 1)]))
    closed = first["routing_log"][-1]["shipments"][0]["ship_date"]
    with svc.store.transaction() as conn:
        assert svc.store.set_site_closures(conn, "EWR1", [closed]) is True
    svc.ops.invalidate_sites()
    assert svc.get_site("acme", "EWR1")["closures"] == [closed]
    second, _ = svc.create_order("acme", order_payload("X-2", [("SKU-2", 1)]))
    shipment = second["routing_log"][-1]["shipments"][0]
    assert shipment["site_id"] == "EWR1"
    # the first business day after the closed day (site calendar without the closure, carrier holidays)
    open_site = site_from_dict(dict(svc.get_site("acme", "EWR1"), closures=[]))
    calendar = svc.ops.router.network_provider().rates.calendar(shipment["carrier"])
    expect = next_business_day(dt.date.fromisoformat(closed), lambda d: is_business_day(d, open_site, calendar))
    assert shipment["ship_date"] == expect.isoformat() != closed


def test_migration_step_2_adds_closures_to_an_older_database(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    store = CentralStore(url)
    store.create_all()
    with store.transaction() as conn:   # make it look like a database from before step 2
        conn.execute(text("ALTER TABLE sites DROP COLUMN closures"))
        conn.execute(text("DELETE FROM schema_migrations WHERE version = 2"))
    store.close()
    store = CentralStore(url)
    store.create_all()
    assert MIGRATIONS[1] == (2, "sites.closures")
    assert store.schema_version() == MIGRATIONS[-1][0]
    svc = CentralService(store)
    svc.seed_catalog(_catalog())
    assert svc.get_site("acme", "EWR1")["closures"] == []
    store.create_all()   # idempotent
    engine = create_engine(url)
    with engine.connect() as conn:
        cols = [r[1] for r in conn.execute(text("PRAGMA table_info(sites)"))]
    engine.dispose()
    assert cols.count("closures") == 1
    store.close()


def _options(client, key):
    r = client.post("/api/v1/checkout/options", headers={"Authorization": f"Bearer {key}"},
                    json={"ship_to": {"country": "US", "postal_code": "10118"}, "lines": [{"sku": "SKU-2", "qty": 1}]})
    assert r.status_code == 200, r.get_data(as_text=True)
    return {o["service"]: o["price"] for o in r.get_json()["options"]}


def test_rate_reload_through_the_api_shared_by_checkout_and_router(app_svc, tmp_path):
    app, svc = app_svc
    provider = app.extensions["routing"]["network"]
    assert provider is default_provider() and svc.ops.router.network_provider is provider
    client, keys = app.test_client(), app.test_keys
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    rates = tmp_path / "carriers.toml"
    shutil.copy(DEFAULT_RATES, rates)
    original = rates.read_text(encoding="utf-8")
    try:
        provider.reload_rates(rates)
        assert _options(client, keys["read"])["ground"] == 4.75

        r = client.post("/api/v1/routing/rates/reload", headers={"Authorization": f"Bearer {keys['read']}"})
        assert r.status_code == 403

        # a rate table with a negative price is refused; the previous rates stay in force everywhere
        rates.write_text(original.replace("[ 250,  4.75,", "[ 250,  -4.75,", 1), encoding="utf-8")
        r = client.post("/api/v1/routing/rates/reload", headers=admin)
        assert r.status_code == 422
        err = r.get_json()["error"]
        assert err["code"] == "invalid_rate_file"
        assert err["message"].startswith(f"rate file {rates}: ") and "negative" in err["message"]
        assert _options(client, keys["read"])["ground"] == 4.75
        order, _ = svc.create_order("acme", order_payload("R-1", [("SKU-2", 1)]))
        assert order["routing_log"][-1]["shipments"][0]["cost"] == 4.75

        rates.write_text("not = [valid toml", encoding="utf-8")
        r = client.post("/api/v1/routing/rates/reload", headers=admin)
        assert r.status_code == 422 and "not valid TOML" in r.get_json()["error"]["message"]

        # a good edit takes effect for checkout AND for order routing at once
        rates.write_text(original.replace("[ 250,  4.75,", "[ 250,  3.99,", 1), encoding="utf-8")
        r = client.post("/api/v1/routing/rates/reload", headers=admin)
        assert r.status_code == 200, r.get_data(as_text=True)
        got = r.get_json()
        assert got["source"] == "carriers.toml" and "usps_ground_advantage" in got["services"]
        assert got["loaded_at"].endswith("Z")
        assert _options(client, keys["read"])["ground"] == 3.99
        order, _ = svc.create_order("acme", order_payload("R-2", [("SKU-2", 1)]))
        assert order["routing_log"][-1]["shipments"][0]["cost"] == 3.99
    finally:
        provider.reload_rates(DEFAULT_RATES)   # the process-wide provider: leave the shipped rates in force
