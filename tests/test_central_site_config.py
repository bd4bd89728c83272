"""Central sends each site its calendar (`site.config`): time zone, carrier cut-offs, days off (public
holidays and closures) and capabilities — on first seeding, and again whenever one of them changes —
so the edge plans waves by the right truck days while offline."""
from __future__ import annotations

import copy
import datetime as _dt

from central.services import CentralService
from edge.core.waves import next_pickup, parse_cutoffs, site_zone
from sync.core.events import validate_body
from tests.fixtures_central import *  # noqa: F401,F403
from tests.fixtures_central import CATALOG, outbox

TODAY = _dt.date(2026, 11, 23)  # a Monday; Thanksgiving is Thursday 2026-11-26


def site_configs(store, site):
    return [e.body for e in outbox(store, site, skip=("sku.upsert",)) if e.type == "site.config"]


def test_seeding_sends_each_site_its_calendar_once(central_store):
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    (ewr,) = site_configs(central_store, "EWR1")
    validate_body("site.config", ewr)
    assert ewr["timezone"] == "America/New_York"
    assert ewr["cutoffs"] == {"ground": "17:00", "two_day": "15:00", "overnight": "13:00"}
    assert ewr["capabilities"] == ["each"]
    today = _dt.date.today()
    christmas = _dt.date(today.year, 12, 25)
    christmas = christmas if christmas >= today else christmas.replace(year=today.year + 1)
    new_year = _dt.date(today.year + 1, 1, 1)
    assert christmas.isoformat() in ewr["holidays"] and new_year.isoformat() in ewr["holidays"]  # US holidays ahead
    assert all(today.isoformat() <= d for d in ewr["holidays"])
    assert ewr["holidays"] == sorted(ewr["holidays"]) and len(ewr["holidays"]) <= 400
    assert len(site_configs(central_store, "LAX1")) == 1
    svc.seed_catalog(copy.deepcopy(CATALOG))  # same catalog again: nothing changed, nothing sent
    assert len(site_configs(central_store, "EWR1")) == 1
    changed = copy.deepcopy(CATALOG)
    changed["sites"][0]["cutoffs"] = {"ground": "16:30"}
    svc.seed_catalog(changed)
    assert [c["cutoffs"] for c in site_configs(central_store, "EWR1")] == [
        {"ground": "17:00", "two_day": "15:00", "overnight": "13:00"}, {"ground": "16:30"}]
    assert len(site_configs(central_store, "LAX1")) == 1


def test_a_closure_set_through_the_service_reaches_the_site_and_moves_its_truck_day(central_store):
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    svc.set_site_closures("acme", "EWR1", {"closures": [{"date": "2026-11-24", "reason": "Flooding"}]},
                          today=TODAY)
    first, latest = site_configs(central_store, "EWR1")
    assert "2026-11-24" not in first["holidays"]
    assert latest["holidays"][:2] == ["2026-11-24", "2026-11-26"]  # the closure, then Thanksgiving
    assert site_configs(central_store, "LAX1") == [site_configs(central_store, "LAX1")[0]]  # only EWR1 told
    # what the edge computes from it: Monday evening after the cut-off, the next truck skips the
    # closed Tuesday and comes Wednesday at 17:00 New York time
    tz = site_zone(latest["timezone"])
    now = _dt.datetime(2026, 11, 23, 18, 0, tzinfo=tz)
    at, missed = next_pickup(parse_cutoffs(latest["cutoffs"])["ground"], tz, now, frozenset(latest["holidays"]))
    assert missed is True
    assert at == _dt.datetime(2026, 11, 25, 17, 0, tzinfo=tz).astimezone(_dt.timezone.utc)
