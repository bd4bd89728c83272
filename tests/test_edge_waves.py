"""Wave release by carrier cut-off (site-local times from site.config / edge.carrier_cutoffs), then
ship-by; orders that missed today's cut-off roll into a later wave. Fixed clock, exact contents."""
from __future__ import annotations

import datetime as dt

import pytest

from edge.core.waves import WaveOrder, parse_cutoffs, plan_wave, site_zone
from edge.services import Actor
from edge.sync_handlers import apply_down_event
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import down, edge_config, envelope, fo_body, release

UTC = dt.timezone.utc
PICKER = Actor("picker1", "picker")
MANAGER = Actor("manager1", "manager")
SITE_CONFIG = {"timezone": "America/New_York", "holidays": ["2026-11-26"],
               "capabilities": ["discrete", "batch", "cluster", "zone", "wave"],
               "cutoffs": {"ups": "17:00", "fedex": "18:30", "usps:priority": "15:00", "ground": "16:00"}}


@pytest.fixture
def clock():
    return {"now": dt.datetime(2026, 11, 24, 19, 30, tzinfo=UTC)}   # 14:30 in Newark


@pytest.fixture
def wfloor(tmp_path, edge_store, catalog, clock):
    from edge.seed import seed
    from edge.services import Floor
    from edge.weighing import FixedWeightSource

    f = Floor(edge_config(tmp_path, batch_orders=4), edge_store, weight_source=FixedWeightSource(0),
              now=lambda: clock["now"])
    seed(f, catalog)
    down(f.store, "site.config", SITE_CONFIG)
    return f


def _release_all(store):
    release(store, "FO-U1", [("SKU-0001", 1)], carrier="ups", ship_by="2026-11-24T23:00:00Z")
    release(store, "FO-F1", [("SKU-0002", 1)], carrier="fedex", ship_by="2026-11-24T22:00:00Z")
    b = fo_body("FO-P1", [("SKU-0003", 1)], carrier="usps", ship_by="2026-11-24T21:00:00Z")
    b["service"] = "priority"
    store.write(lambda c: apply_down_event(c, envelope("fulfillment_order.released", b)))
    release(store, "FO-U2", [("SKU-0004", 1)], carrier="ups", ship_by="2026-11-24T21:30:00Z")
    release(store, "FO-X1", [("SKU-0005", 1)], carrier="dhl", ship_by="2026-11-24T23:30:00Z")   # only the ground cut-off
    release(store, "FO-U3", [("SKU-0006", 1)], carrier="ups", ship_by="2026-11-26T20:00:00Z")   # due in two days


def ids(rows):
    return [r["fo_id"] for r in rows]


def test_wave_takes_the_soonest_cutoffs_then_ship_by_and_defers_missed_cutoffs(wfloor, clock):
    _release_all(wfloor.store)
    p = wfloor.waves.preview(MANAGER)
    assert p["cutoffs"] == {"fedex": "18:30", "ground": "16:00", "ups": "17:00", "usps:priority": "15:00"}
    assert ids(p["wave"]) == ["FO-P1", "FO-X1", "FO-U2", "FO-U1"]       # 15:00, 16:00, 17:00 (ship-by 21:30, 23:00)
    assert [(w["cutoff"], w["pickup_at"]) for w in p["wave"]] == [
        ("usps:priority", "2026-11-24T20:00:00Z"), ("ground", "2026-11-24T21:00:00Z"),
        ("ups", "2026-11-24T22:00:00Z"), ("ups", "2026-11-24T22:00:00Z")]
    assert ids(p["waiting"]) == ["FO-U3", "FO-F1"] and p["deferred"] == []   # release order: U3 due later
    assert p["next"] == "Release the wave: 4 order(s), first pickup usps:priority Tue 15:00"

    # 15:10 in Newark: the USPS priority truck has left; FO-P1 rolls to tomorrow's pickup
    clock["now"] = dt.datetime(2026, 11, 24, 20, 10, tzinfo=UTC)
    p = wfloor.waves.preview(MANAGER)
    assert ids(p["wave"]) == ["FO-X1", "FO-U2", "FO-U1", "FO-F1"]
    assert [(d["fo_id"], d["pickup_at"], d["missed_cutoff"]) for d in p["deferred"]] == [
        ("FO-P1", "2026-11-25T20:00:00Z", True)]
    assert ids(p["waiting"]) == ["FO-U3"]
    run = wfloor.picking.start(PICKER, method="wave")
    assert run["method"] == "wave" and [o["fo_id"] for o in run["orders"]] == ["FO-X1", "FO-U2", "FO-U1", "FO-F1"]
    assert [o["slot"] for o in run["orders"]] == [1, 2, 3, 4]

    # the next wave: FO-U3 can still make today's UPS truck, FO-P1 cannot
    p = wfloor.waves.preview(MANAGER)
    assert ids(p["wave"]) == ["FO-U3"] and ids(p["deferred"]) == ["FO-P1"]

    # 19:00 in Newark, every truck gone: tomorrow's pickups, and only orders due on the lead's day
    clock["now"] = dt.datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    p = wfloor.waves.preview(MANAGER)
    assert ids(p["wave"]) == ["FO-P1"] and ids(p["waiting"]) == ["FO-U3"] and p["deferred"] == []
    run2 = wfloor.picking.start(Actor("picker2", "picker"), method="wave")
    assert [o["fo_id"] for o in run2["orders"]] == ["FO-P1"]


def test_wave_api_and_console_show_the_plan(wfloor, clock):
    from edge.web import create_app

    _release_all(wfloor.store)
    app = create_app(wfloor.full_cfg, wfloor.store, floor=wfloor)
    client = app.test_client()
    token = client.post("/api/login", json={"username": "manager1", "pin": "9999"}).json["token"]
    h = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/waves/next", headers=h)
    assert r.status_code == 200 and ids(r.json["wave"]) == ["FO-P1", "FO-X1", "FO-U2", "FO-U1"]
    assert client.get("/api/console", headers=h).json["wave"]["next"].startswith("Release the wave: 4 order(s)")
    assert app.test_client().get("/api/waves/next").status_code == 401   # no session cookie, no token


def test_cutoff_core_rules():
    tz = site_zone("America/New_York")
    cut = parse_cutoffs(["ups=17:00", "UPS:Next_Day=15:30"])
    assert cut == {"ups": dt.time(17, 0), "ups:next_day": dt.time(15, 30)}
    with pytest.raises(ValueError, match="HH:MM"):
        parse_cutoffs({"ups": "25:00"})
    with pytest.raises(ValueError, match="carrier=HH:MM"):
        parse_cutoffs(["ups"])
    with pytest.raises(ValueError, match="unknown time zone"):
        site_zone("Mars/Olympus")
    # 22:00 on Wed 25 Nov in Newark, Thanksgiving (26th) is a holiday: the next UPS pickup is Friday
    now = dt.datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    o = WaveOrder("A", "ups", "next_day", "2026-11-27T20:00:00Z")
    plan = plan_wave([o], cut, tz, now, 5, holidays=frozenset({"2026-11-26"}))
    assert plan.wave[0].cutoff_key == "ups:next_day"
    assert plan.wave[0].as_dict()["pickup_at"] == "2026-11-27T20:30:00Z"
    # an order with no matching cut-off sorts after every order that has one
    p = plan_wave([WaveOrder("N", "dhl", "ground", "2026-11-24T10:00:00Z"), WaveOrder("U", "ups", "ground", "2026-11-25T10:00:00Z")],
                  cut, tz, dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC), 5)
    assert [x.order.fo_id for x in p.wave + p.waiting] == ["U", "N"] and p.wave[0].order.fo_id == "U"


def test_bad_carrier_cutoff_config_is_refused(tmp_path):
    with pytest.raises(ValueError, match="carrier_cutoffs"):
        edge_config(tmp_path, carrier_cutoffs="ups=25:00")
    cfg = edge_config(tmp_path, carrier_cutoffs="ups=17:00,fedex:overnight=15:30", timezone="America/Chicago")
    assert cfg.edge.carrier_cutoffs == ("ups=17:00", "fedex:overnight=15:30") and cfg.edge.timezone == "America/Chicago"
