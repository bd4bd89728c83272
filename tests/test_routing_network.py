"""Network data: rate file validation (refused at load, previous stays), ZIP/centroid lookup, sites."""
from __future__ import annotations

import json
import pathlib
import pytest

from central.routing.core.errors import NetworkDataError, UnknownDestination
from central.routing.network import (DEFAULT_RATES, NetworkProvider, load_network, load_rate_card, load_sites,
                                     site_from_dict, zip3_points)
from tests.fixtures_routing import network  # noqa: F401

GOOD = DEFAULT_RATES.read_text(encoding="utf-8")


def bad_file(tmp_path: pathlib.Path, old: str, new: str) -> pathlib.Path:
    assert old in GOOD
    p = tmp_path / "rates.toml"
    p.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    return p


def test_shipped_rate_card_loads(network):
    card = network.rates
    assert sorted(card.levels) == ["ground", "international", "overnight", "two_day"]
    assert [s.id for s in card.services] == ["ups_ground", "usps_ground_advantage", "ups_2nd_day_air",
                                             "fedex_standard_overnight", "dhl_express_worldwide"]
    ups = card.services[0]
    assert (ups.zone_for(0), ups.zone_for(300), ups.zone_for(300.1), ups.zone_for(13999), ups.zone_for(14001)) == (
        "2", "2", "3", "8", None)
    assert ups.price("4", 1500) == 10.7 and ups.price("4", 2000) == 10.7 and ups.price("4", 2001) == 13.4
    assert ups.price("2", 68001) is None
    assert ups.billable_g(1000, 10_000) == 2000   # 10 L / 5000 cm3 per kg = 2 kg


@pytest.mark.parametrize("old,new,message", [
    ('[300, 800, "3"], [800, 1300, "4"]', '[300, 800, "3"], [900, 1300, "4"]',
     "service ups_ground: gap in distance bands between 800 and 900 km"),
    ('[  500,  8.10,', '[  500,  -8.10,', "service ups_ground: negative price -8.1 at 500 g zone 2"),
    ('[ 1000,  8.60,  9.05,  9.60, 10.10, 10.70, 11.30, 12.80],', '[ 1000,  8.60,  9.05,  9.60, 10.10, 10.70, 11.30],',
     "service ups_ground: gap in rates: row 1000 g has 6 prices for 7 zones"),
    ('transit_days = { "2" = 1, "3" = 2, "4" = 3,', 'transit_days = { "2" = 1, "3" = 2,',
     "service ups_ground: zone 4 has no transit_days"),
    ('rate_zones = ["2", "3", "4", "5", "6", "7", "8"]\nrates = [\n  [  500,  8.10',
     'rate_zones = ["2", "3", "4", "5", "6", "7", "9"]\nrates = [\n  [  500,  8.10',
     "service ups_ground: gap in rates: zone 8 has no price column"),
    ('[ 2000,  9.40,', '[  900,  9.40,', "service ups_ground: weight breaks must increase (900 g after 1000 g)"),
    ('[  500,  8.10,', '[  500,  "cheap",', "service ups_ground rate 500 g zone 2: 'cheap' is not a number"),
    ('class = "ground"', 'class = "teleport"', "service ups_ground: class 'teleport' unknown"),
    ('max_transit_days = 2', 'max_transit_days = -2', "level two_day: max_transit_days must be >= 0"),
    ('[levels.ground]', '[levels.ground', "not valid TOML"),
])
def test_bad_rate_file_is_refused_with_the_problem_named(tmp_path, old, new, message):
    path = bad_file(tmp_path, old, new)
    with pytest.raises(NetworkDataError) as err:
        load_rate_card(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_refused_rate_file_leaves_the_previous_one_in_force(tmp_path, network):
    provider = NetworkProvider(network)
    before = provider()
    bad = bad_file(tmp_path, '[  500,  8.10,', '[  500,  -8.10,')
    with pytest.raises(NetworkDataError, match="negative price"):
        provider.reload_rates(bad)
    assert provider() is before
    assert provider().rates.services[0].price("2", 500) == 8.1
    good = tmp_path / "cheaper.toml"
    good.write_text(GOOD.replace('[  500,  8.10,', '[  500,  7.10,', 1), encoding="utf-8")
    after = provider.reload_rates(good)
    assert after is provider() and after.rates.services[0].price("2", 500) == 7.1
    assert after.zip_points is before.zip_points


def test_us_zip_and_country_centroid_lookup(network):
    d = network.locate("us", "07114-1234")
    assert (d.country, d.postal_code, d.estimated) == ("US", "07114", False)
    assert abs(d.lat - 40.73) < 0.1 and abs(d.lon + 74.17) < 0.1
    gb = network.locate("GB", "SW1A 1AA")
    assert (gb.lat, gb.lon, gb.estimated) == (54.0, -2.0, True)
    with pytest.raises(UnknownDestination, match="unknown US ZIP code 00000"):
        network.locate("US", "00000")
    with pytest.raises(UnknownDestination, match="unknown country 'ZZ'"):
        network.locate("ZZ", "1")


def test_zip3_areas_cover_the_country():
    areas = zip3_points()
    assert 880 <= len(areas) <= 1000
    lat, lon, n = areas["100"]           # Manhattan
    assert abs(lat - 40.75) < 0.2 and abs(lon + 73.98) < 0.2 and n > 50


def test_site_validation_names_site_and_field(tmp_path):
    row = {"site_id": "EWR1", "lat": 40.7, "lon": -74.1, "timezone": "America/New_York",
           "cutoffs": {"ground": "17:00"}, "holiday_country": "US", "holiday_subdivision": "NJ"}
    assert site_from_dict(row).cutoff("two_day").hour == 17
    with pytest.raises(NetworkDataError, match="site EWR1: timezone 'Not/AZone' is not an IANA time zone"):
        site_from_dict(dict(row, timezone="Not/AZone"))
    with pytest.raises(NetworkDataError, match="site EWR1: cut-off for two_day '15:60' is not a valid local time"):
        site_from_dict(dict(row, cutoffs={"two_day": "15:60"}))
    with pytest.raises(NetworkDataError, match="no holiday calendar for country 'US' subdivision 'XX'"):
        site_from_dict(dict(row, holiday_subdivision="XX"))
    with pytest.raises(NetworkDataError, match="site EWR1: missing timezone"):
        site_from_dict(dict(row, timezone=""))
    f = tmp_path / "sites.json"
    f.write_text(json.dumps({"sites": [row, row]}), encoding="utf-8")
    with pytest.raises(NetworkDataError, match="duplicate site EWR1"):
        load_sites(f)


def test_network_with_other_home_country_uses_centroids(tmp_path):
    net = load_network(home_country="CA")
    assert net.locate("CA", "M5V").estimated is True
    assert net.scope_of("US") == "international"
