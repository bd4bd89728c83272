"""Routing decisions: candidates, fewest splits, cut-offs, strategies, backorders, reasons."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from central.routing.core import (InvalidRequest, RouteLine, RouteRequest, UnknownDestination, UnknownSku, reroute,
                                  route)
from tests.fixtures_routing import DFW, EWR, LAX, ORD, PHL, WEIGHTS, network, utc  # noqa: F401

D = dt.date
TUE_1630_ET = utc(2026, 11, 17, 21, 30)   # Tue 17 Nov 2026 16:30 New York / 15:30 Chicago
TUE_1730_ET = utc(2026, 11, 17, 22, 30)   # 17:30 New York / 16:30 Chicago


def req(lines, postal="10001", service="ground", strategy="one_package", country="US"):
    return RouteRequest("acme", tuple(RouteLine(f"L{i + 1}", s, q) for i, (s, q) in enumerate(lines)), country,
                        postal, service, strategy)


def stock(sites, skus="ABC", qty=10):
    return {(s, x.site_id): qty for s in skus for x in sites}


def test_nearest_wins_when_promise_and_cost_tie(network):
    d = route(req([("A", 1)], "15222"), [EWR, ORD], stock([EWR, ORD]), WEIGHTS, network, TUE_1630_ET)
    (s,) = d.shipments
    assert (s.site_id, s.carrier_service, s.ship_date, s.promised_date, s.cost, s.urgent) == (
        "EWR1", "usps_ground_advantage", D(2026, 11, 17), D(2026, 11, 19), 5.5, True)
    assert s.lines == (RouteLine("L1", "A", 1),)
    assert d.rejected == (("ORD1", "farther 683 km vs 494 km"),)
    assert d.backordered == ()


def test_after_cutoff_another_site_still_before_its_cutoff_wins(network):
    # 17:30 in New York is 16:30 in Chicago: EWR1 slips to Wednesday, ORD1 still ships today.
    d = route(req([("A", 1)], "15222"), [EWR, ORD], stock([EWR, ORD]), WEIGHTS, network, TUE_1730_ET)
    (s,) = d.shipments
    assert (s.site_id, s.ship_date, s.promised_date, s.urgent) == ("ORD1", D(2026, 11, 17), D(2026, 11, 19), True)
    assert d.rejected_text() == ["EWR1: after cut-off (ships 2026-11-18, promise 2026-11-20)"]
    ewr_term = next(t for t in d.terms if t.site_id == "EWR1")
    assert (ewr_term.after_cutoff, ewr_term.chosen, ewr_term.ship_date) == (True, False, D(2026, 11, 18))


def test_site_specific_later_cutoff(network):
    d = route(req([("A", 1)], "10001"), [EWR, PHL], stock([EWR, PHL]), WEIGHTS, network, TUE_1730_ET)
    assert [s.site_id for s in d.shipments] == ["PHL1"]
    assert d.shipments[0].cost == 5.35
    assert d.rejected_text() == ["EWR1: after cut-off (ships 2026-11-18, promise 2026-11-20)"]


def test_one_package_prefers_a_single_site_over_a_faster_split(network):
    av = {("A", "EWR1"): 5, ("A", "LAX1"): 5, ("B", "LAX1"): 5, ("B", "PHL1"): 5}
    d = route(req([("A", 1), ("B", 1)]), [EWR, PHL, LAX], av, WEIGHTS, network, utc(2026, 11, 17, 15, 0))
    (s,) = d.shipments
    assert (s.site_id, s.promised_date, s.cost, s.distance_km) == ("LAX1", D(2026, 11, 24), 10.6, 3941.9)
    assert d.rejected_text() == ["EWR1: out of stock for B", "PHL1: out of stock for A"]
    assert d.split is False


def test_speed_prefers_a_faster_split_over_a_slower_single_package(network):
    av = {("A", "EWR1"): 5, ("A", "LAX1"): 5, ("B", "LAX1"): 5, ("B", "PHL1"): 5}
    d = route(req([("A", 1), ("B", 1)], strategy="speed"), [EWR, PHL, LAX], av, WEIGHTS, network,
              utc(2026, 11, 17, 15, 0))
    assert [(s.site_id, [ln.sku for ln in s.lines], s.promised_date) for s in d.shipments] == [
        ("EWR1", ["A"], D(2026, 11, 19)), ("PHL1", ["B"], D(2026, 11, 19))]
    assert d.promised_date == D(2026, 11, 19)
    assert d.rejected_text() == ["LAX1: slower single package (promise 2026-11-24 vs 2026-11-19)"]
    assert "speed: split into 2 to arrive by 2026-11-19" in d.explanation


def test_speed_keeps_a_single_package_when_it_is_as_fast(network):
    av = {("A", "EWR1"): 5, ("B", "EWR1"): 5, ("A", "PHL1"): 5, ("B", "PHL1"): 5}
    d = route(req([("A", 1), ("B", 1)], strategy="speed"), [EWR, PHL], av, WEIGHTS, network, TUE_1630_ET)
    assert [s.site_id for s in d.shipments] == ["EWR1"]


def test_greedy_split_uses_fewest_shipments(network):
    # X holds A+B, W holds B+C, Y holds C, Z holds A: two shipments suffice.
    av = {("A", "EWR1"): 3, ("B", "EWR1"): 3, ("B", "PHL1"): 3, ("C", "PHL1"): 3, ("C", "ORD1"): 3,
          ("A", "LAX1"): 3}
    d = route(req([("A", 1), ("B", 1), ("C", 1)]), [EWR, PHL, ORD, LAX], av, WEIGHTS, network, TUE_1630_ET)
    assert [(s.site_id, [(ln.line_id, ln.sku, ln.qty) for ln in s.lines]) for s in d.shipments] == [
        ("EWR1", [("L1", "A", 1), ("L2", "B", 1)]), ("PHL1", [("L3", "C", 1)])]
    assert dict(d.rejected) == {"ORD1": "not needed for the split; out of stock for A, B",
                                "LAX1": "not needed for the split; out of stock for B, C"}


def test_one_line_split_across_sites_only_when_no_site_holds_it_whole(network):
    av = {("A", "EWR1"): 3, ("A", "PHL1"): 4}
    d = route(req([("A", 5)]), [EWR, PHL], av, WEIGHTS, network, TUE_1630_ET)
    assert [(s.site_id, s.lines) for s in d.shipments] == [
        ("PHL1", (RouteLine("L1", "A", 4),)), ("EWR1", (RouteLine("L1", "A", 1),))]
    assert d.backordered == ()


def test_unfillable_units_are_backordered_not_dropped(network):
    av = {("A", "EWR1"): 2}
    d = route(req([("A", 5), ("B", 1)]), [EWR, PHL], av, WEIGHTS, network, TUE_1630_ET)
    assert [(s.site_id, s.lines) for s in d.shipments] == [("EWR1", (RouteLine("L1", "A", 2),))]
    assert d.backordered == (RouteLine("L1", "A", 3), RouteLine("L2", "B", 1))
    assert d.rejected_text() == ["PHL1: out of stock for A, B"]
    assert "backordered A x3, B x1: no eligible site has the stock" in d.explanation


def test_nothing_in_stock_backorders_everything(network):
    d = route(req([("SKU-12", 2)]), [EWR, LAX], {}, WEIGHTS, network, TUE_1630_ET)
    assert d.shipments == () and d.promised_date is None
    assert d.backordered == (RouteLine("L1", "SKU-12", 2),)
    assert d.rejected_text() == ["EWR1: out of stock for SKU-12", "LAX1: out of stock for SKU-12"]


def test_unhealthy_inactive_capacity_region_and_partial_stock_reasons(network):
    stale = dataclasses.replace(LAX, healthy=False, health_reason="stale 6 min")
    off = dataclasses.replace(ORD, active=False)
    full = dataclasses.replace(DFW, capacity_per_day=100)
    av = {**stock([EWR, stale, off, full, PHL]), ("A", "PHL1"): 1}
    d = route(req([("A", 2)], "10001"), [EWR, stale, off, full, PHL], av, WEIGHTS, network, TUE_1630_ET,
              load={"DFW1": 100})
    assert [s.site_id for s in d.shipments] == ["EWR1"]
    assert d.rejected_text() == ["LAX1: stale 6 min", "ORD1: inactive", "DFW1: at capacity (100/100 orders today)",
                                 "PHL1: only 1 of 2 A"]
    domestic_only = dataclasses.replace(EWR, service_regions=frozenset({"US"}))
    d = route(req([("A", 1)], "M5V 2T6", "international", country="CA"), [domestic_only, LAX], stock([EWR, LAX]),
              WEIGHTS, network, TUE_1630_ET)
    assert d.rejected_text() == ["EWR1: does not serve CA"]
    assert d.destination_estimated is True and d.shipments[0].site_id == "LAX1"


def test_service_levels_pick_the_cheapest_carrier_service_meeting_them(network):
    av = stock([LAX])
    # LAX -> New York is zone 8: ground 5 days; two-day needs air; overnight needs FedEx overnight.
    now = utc(2026, 11, 17, 15, 0)   # 07:00 in Los Angeles
    got = {}
    for svc in ("ground", "two_day", "overnight"):
        (s,) = route(req([("A", 1)], service=svc), [LAX], av, WEIGHTS, network, now).shipments
        got[svc] = (s.carrier_service, s.service, s.promised_date, s.cost)
    assert got == {"ground": ("usps_ground_advantage", "ground", D(2026, 11, 24), 6.95),
                   "two_day": ("ups_2nd_day_air", "two_day", D(2026, 11, 19), 26.9),
                   "overnight": ("fedex_standard_overnight", "overnight", D(2026, 11, 18), 49.2)}


def test_two_day_near_a_site_uses_ground_when_ground_keeps_it(network):
    (s,) = route(req([("A", 1)], service="two_day"), [EWR], stock([EWR]), WEIGHTS, network,
                 utc(2026, 11, 17, 15, 0)).shipments
    assert (s.carrier_service, s.promised_date, s.cost) == ("usps_ground_advantage", D(2026, 11, 19), 5.35)


def test_heavy_parcel_uses_the_carrier_that_takes_the_weight(network):
    (s,) = route(req([("HEAVY", 1)]), [EWR], {("HEAVY", "EWR1"): 1}, WEIGHTS, network,
                 utc(2026, 11, 17, 15, 0)).shipments
    assert (s.carrier_service, s.cost, s.weight_g, s.promised_date) == ("ups_ground", 25.6, 30000, D(2026, 11, 18))


def test_dimensional_weight_raises_the_price(network):
    args = (req([("A", 1)]), [EWR], stock([EWR]), WEIGHTS, network, utc(2026, 11, 17, 15, 0))
    light = route(*args).shipments[0]
    bulky = route(*args, sku_volumes_cm3={"A": 40_000}).shipments[0]   # 40 L box: 6.67 kg billable at USPS (divisor 6000)
    assert (light.carrier_service, light.cost) == ("usps_ground_advantage", 5.35)
    assert (bulky.carrier_service, bulky.cost) == ("usps_ground_advantage", 12.6)


def test_international_destination_by_country_centroid(network):
    d = route(req([("A", 1)], "SW1A 1AA", "international", country="GB"), [EWR, LAX], stock([EWR, LAX]), WEIGHTS,
              network, utc(2026, 11, 17, 15, 0))
    (s,) = d.shipments
    assert (s.site_id, s.carrier_service, s.promised_date, s.cost) == (
        "EWR1", "dhl_express_worldwide", D(2026, 11, 23), 52.0)
    assert d.destination_estimated is True
    assert d.rejected_text() == ["LAX1: later promise 2026-11-24 vs 2026-11-23"]


def test_reroute_keeps_the_shorting_site_out(network):
    original = req([("A", 2), ("B", 1)])
    d = reroute([RouteLine("L1", "A", 2)], original, [EWR, PHL], stock([EWR, PHL]), WEIGHTS, network,
                TUE_1630_ET, exclude={"EWR1": "short pick"})
    assert [(s.site_id, s.lines) for s in d.shipments] == [("PHL1", (RouteLine("L1", "A", 2),))]
    assert d.rejected_text() == ["EWR1: short pick"]


def test_decision_serialises_for_the_order_timeline(network):
    d = route(req([("A", 1)], "15222"), [EWR, ORD], stock([EWR, ORD]), WEIGHTS, network, TUE_1730_ET)
    out = d.to_dict()
    assert out["promised_date"] == "2026-11-19"
    assert out["rejected"] == [{"site_id": "EWR1", "reason": "after cut-off (ships 2026-11-18, promise 2026-11-20)"}]
    assert out["shipments"][0]["ship_by"] == "2026-11-17T17:00:00-06:00"
    assert [t["site_id"] for t in out["terms"]] == ["ORD1", "EWR1"]


@pytest.mark.parametrize("make,exc,message", [
    (lambda: req([]), InvalidRequest, "order has no lines"),
    (lambda: req([("A", 0)]), InvalidRequest, "line L1: qty must be a positive integer, got 0"),
    (lambda: req([("NOPE", 1), ("A", 1), ("NOPE2", 1)]), UnknownSku, "unknown SKU NOPE, NOPE2"),
    (lambda: req([("A", 1)], "00000"), UnknownDestination, "unknown US ZIP code 00000"),
    (lambda: req([("A", 1)], "ABCDE"), UnknownDestination, "postal code 'ABCDE' is not a US ZIP code"),
    (lambda: req([("A", 1)], "1", "international", country="XX"), UnknownDestination, "unknown country 'XX'"),
    (lambda: req([("A", 1)], "SW1A 1AA", "two_day", country="GB"), InvalidRequest,
     "service two_day is domestic only; GB is an international destination"),
    (lambda: req([("A", 1)], service="teleport"), InvalidRequest, "service 'teleport' unknown"),
    (lambda: req([("A", 1)], strategy="cheapest"), InvalidRequest, "strategy 'cheapest' unknown"),
])
def test_bad_input_is_a_clear_error(network, make, exc, message):
    with pytest.raises(exc) as err:
        route(make(), [EWR], stock([EWR]), WEIGHTS, network, TUE_1630_ET)
    assert str(err.value).startswith(message)


def test_site_health_reasons_read_like_the_floor_talks():
    from central.routing.core.health import site_health

    now = utc(2026, 11, 17, 15, 0)
    args = dict(printers_ok=True, sync_lag_s=0.0, max_sync_lag_s=900.0, now=now)
    assert site_health(stale=True, last_heartbeat_at="2026-11-17T14:54:00Z", **args) == (False, "stale 6 min")
    assert site_health(stale=True, last_heartbeat_at=None, **args) == (False, "stale (no heartbeat yet)")
    assert site_health(stale=False, last_heartbeat_at=None, **dict(args, printers_ok=False)) == (
        False, "no working label printer")
    assert site_health(stale=False, last_heartbeat_at=None, **dict(args, sync_lag_s=1200.0)) == (
        False, "sync lag 1200 s over 900 s")
    assert site_health(stale=False, last_heartbeat_at=None, **args) == (True, "")


def test_standard_order_abroad_travels_as_international(network):
    d = route(req([("A", 1)], "SW1A 1AA", "ground", country="GB"), [EWR], stock([EWR]), WEIGHTS, network,
              utc(2026, 11, 17, 15, 0))
    assert d.service == "international"
    assert [(s.carrier_service, s.promised_date) for s in d.shipments] == [("dhl_express_worldwide", D(2026, 11, 23))]


def test_same_sku_on_two_lines_keeps_line_ids_when_split(network):
    av = {("A", "EWR1"): 3, ("A", "PHL1"): 2, ("B", "PHL1"): -4}   # negative availability counts as none
    d = route(req([("A", 2), ("A", 3), ("B", 1)]), [EWR, PHL], av, WEIGHTS, network, TUE_1630_ET)
    assert [(s.site_id, s.lines) for s in d.shipments] == [
        ("EWR1", (RouteLine("L1", "A", 2), RouteLine("L2", "A", 1))), ("PHL1", (RouteLine("L2", "A", 2),))]
    assert d.backordered == (RouteLine("L3", "B", 1),)
