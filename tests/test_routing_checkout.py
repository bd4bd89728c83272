"""Checkout delivery options (pure + HTTP blueprint) and ZIP3 coverage, with exact values."""
from __future__ import annotations

import pytest
from flask import Flask, jsonify, request

from central.routing.core.checkout import RoutingSnapshot, checkout_options, coverage, parse_checkout_body
from central.routing.core.errors import InvalidRequest
from central.routing.network import NetworkProvider, zip3_points
from central.routing.web import routing_blueprint
from tests.fixtures_routing import DFW, EWR, LAX, ORD, WEIGHTS, network, utc  # noqa: F401

NOW = utc(2026, 11, 17, 15, 0)   # Tue 17 Nov 2026, 10:00 New York / 07:00 Los Angeles
BOTH = {(s, x.site_id): 5 for s in "AB" for x in (EWR, LAX)}


def opts(ans):
    return [(o.service, o.promised_date.isoformat(), o.price, o.carriers) for o in ans.options]


def test_near_site_folds_slower_or_pricier_levels_into_one_option(network):
    ans = checkout_options("US", "10001", [("A", 1), ("B", 2)], [EWR, LAX], BOTH, WEIGHTS, network, NOW)
    assert opts(ans) == [("ground", "2026-11-18", 9.4, ("ups_ground",))]
    assert ans.unavailable == (("two_day", "no faster than ground (2026-11-18, 9.40)"),
                               ("overnight", "no faster than ground (2026-11-18, 9.40)"))


def test_far_site_offers_ground_two_day_and_overnight_at_their_prices(network):
    only_lax = {("A", "LAX1"): 5}
    ans = checkout_options("US", "10001", [("A", 1)], [EWR, LAX], only_lax, WEIGHTS, network, NOW)
    assert opts(ans) == [("overnight", "2026-11-18", 49.2, ("fedex_standard_overnight",)),
                         ("two_day", "2026-11-19", 26.9, ("ups_2nd_day_air",)),
                         ("ground", "2026-11-24", 6.95, ("usps_ground_advantage",))]
    assert ans.unavailable == ()


def test_two_day_is_not_offered_where_the_network_cannot_keep_it(network):
    ans = checkout_options("US", "96910", [("A", 1), ("B", 2)], [EWR, LAX], BOTH, WEIGHTS, network, NOW)   # Guam
    assert opts(ans) == [("ground", "2026-11-24", 14.9, ("ups_ground",))]
    assert ans.unavailable == (("two_day", "no two_day carrier service reaches US 96910"),
                               ("overnight", "no overnight carrier service reaches US 96910"))


def test_international_never_promises_domestic_two_day(network):
    ans = checkout_options("GB", "SW1A 1AA", [("A", 1), ("B", 2)], [EWR, LAX], BOTH, WEIGHTS, network, NOW)
    assert opts(ans) == [("international", "2026-11-23", 109.0, ("dhl_express_worldwide",))]
    assert ans.unavailable == () and ans.destination_estimated is True


def test_not_enough_stock_means_no_option(network):
    ans = checkout_options("US", "10001", [("A", 1), ("B", 2)], [EWR, LAX], {("A", "EWR1"): 1, ("B", "LAX1"): 1},
                           WEIGHTS, network, NOW)
    assert ans.options == ()
    assert [r for _, r in ans.unavailable] == ["not enough stock within reach of this service for B"] * 3


def test_parse_checkout_body_names_every_bad_field():
    with pytest.raises(InvalidRequest) as err:
        parse_checkout_body({"ship_to": {"country": "USA"}, "lines": [{"sku": "A", "qty": 0}, {"qty": 1}],
                             "strategy": "cheap"})
    assert err.value.fields == {"ship_to.country": "must be an ISO 3166 alpha-2 code",
                                "lines[0].qty": "must be an integer 1-100000",
                                "lines[1].sku": "required string of at most 64 characters",
                                "strategy": "must be one_package or speed"}
    q = parse_checkout_body({"ship_to": {"country": "us", "postal_code": " 10001 "},
                             "lines": [{"sku": "A", "qty": 1}, {"sku": "A", "qty": 2}]})
    assert (q.country, q.postal_code, q.items, q.strategy) == ("US", "10001", (("A", 3),), "one_package")


def test_coverage_share_of_zip3_areas_within_two_ground_days(network):
    areas = zip3_points()
    one = coverage([EWR], areas, network)
    assert (one.areas, one.reached, one.share, one.weighted_share) == (933, 287, 0.3076, 0.2944)
    three = coverage([EWR, LAX, DFW], areas, network)
    assert (three.reached, three.share, dict(three.per_site)) == (509, 0.5456, {"EWR1": 287, "LAX1": 76, "DFW1": 146})
    four = coverage([EWR, LAX, DFW, ORD], areas, network)
    assert (four.reached, four.share) == (694, 0.7438)
    import dataclasses
    assert coverage([EWR, dataclasses.replace(ORD, active=False)], areas, network).reached == 287
    assert coverage([EWR], areas, network, max_days=1).reached == 116


# ----------------------------------------------------------------------------- HTTP blueprint
class NoKey(Exception):
    pass


@pytest.fixture()
def client(network):
    seen = []

    def snapshot(merchant_id, skus):
        seen.append((merchant_id, tuple(skus)))
        return RoutingSnapshot((EWR, LAX), BOTH, WEIGHTS)

    def authenticate():
        key = request.headers.get("Authorization", "")
        if key != "Bearer k-acme":
            raise NoKey()
        return "acme"

    app = Flask("t")
    app.register_blueprint(routing_blueprint(NetworkProvider(network), snapshot, authenticate=authenticate,
                                             clock=lambda: NOW))
    app.register_error_handler(NoKey, lambda e: (jsonify({"error": {"code": "unauthorized"}}), 401))
    c = app.test_client()
    c.seen = seen
    return c


H = {"Authorization": "Bearer k-acme"}


def test_checkout_endpoint_answers_options(client):
    r = client.post("/api/v1/checkout/options", headers=H,
                    json={"ship_to": {"country": "US", "postal_code": "96910"}, "lines": [{"sku": "A", "qty": 1}]})
    assert r.status_code == 200
    body = r.get_json()
    assert body["options"] == [{"service": "ground", "label": "Standard (ground)", "promised_date": "2026-11-24",
                                "price": 6.95, "shipments": 1, "carriers": ["usps_ground_advantage"]}]
    assert [u["service"] for u in body["unavailable"]] == ["two_day", "overnight"]
    timing = dict(part.strip().split(";dur=") for part in r.headers["Server-Timing"].split(","))
    assert set(timing) == {"app", "cpu"} and float(timing["app"]) > 0
    assert client.seen == [("acme", ("A",))]


@pytest.mark.parametrize("payload,status,code,message", [
    ({"ship_to": {"country": "US", "postal_code": "00000"}, "lines": [{"sku": "A", "qty": 1}]}, 422,
     "validation_failed", "unknown US ZIP code 00000"),
    ({"ship_to": {"country": "US", "postal_code": "10001"}, "lines": [{"sku": "NOPE", "qty": 1}]}, 422,
     "validation_failed", "unknown SKU NOPE"),
    ({"ship_to": {"country": "US", "postal_code": "10001"}, "lines": []}, 422, "validation_failed",
     "invalid checkout request: lines must be a non-empty list of {sku, qty}"),
])
def test_checkout_endpoint_refuses_bad_input_clearly(client, payload, status, code, message):
    r = client.post("/api/v1/checkout/options", headers=H, json=payload)
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == code
    assert r.get_json()["error"]["message"] == message


def test_checkout_endpoint_requires_json_and_auth(client):
    r = client.post("/api/v1/checkout/options", headers=H, data="nope", content_type="application/json")
    assert (r.status_code, r.get_json()["error"]["message"]) == (422, "request body must be JSON")
    r = client.post("/api/v1/checkout/options", json={"lines": [{"sku": "A"}]})
    assert r.status_code == 401


def test_coverage_endpoint(client):
    r = client.get("/api/v1/routing/coverage?days=2", headers=H)
    assert r.status_code == 200
    body = r.get_json()
    assert (body["areas"], body["reached"], body["share"], body["per_site"]) == (
        933, 363, 0.3891, {"EWR1": 287, "LAX1": 76})
    assert client.get("/api/v1/routing/coverage?days=zero", headers=H).status_code == 422
