"""`floorsync simulate`: replay a small history with hand-checked outcomes, and the what-ifs."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from floorsync import cli as cli_mod

SITES = """
[[sites]]
site_id = "EWR1"
lat = 40.7066
lon = -74.1581
timezone = "America/New_York"
cutoffs = { ground = "17:00" }
holiday_subdivision = "NJ"

[[sites]]
site_id = "LAX1"
lat = 33.9292
lon = -118.2436
timezone = "America/Los_Angeles"
cutoffs = { ground = "17:00" }
holiday_subdivision = "CA"

[[candidates]]
site_id = "DFW1"
lat = 32.9230
lon = -97.0130
timezone = "America/Chicago"
cutoffs = { ground = "17:00" }
holiday_subdivision = "TX"
"""
CATALOG = {"skus": [{"sku": "A", "weight_g": 400}, {"sku": "B", "weight_g": 400}],
           "stock": [{"site_id": "EWR1", "sku": "A", "qty": 10}, {"site_id": "LAX1", "sku": "B", "qty": 10}]}
HISTORY = """order_id,placed_at,country,postal_code,service,lines,strategy
H1,2026-11-17T15:00:00Z,US,10001,ground,A:1,
H2,2026-11-17T16:00:00Z,US,90001,ground,B:1,
H3,2026-11-17T17:00:00Z,US,75201,ground,A:1;B:1,
H4,2026-11-17T18:00:00Z,US,00000,ground,A:1,
"""


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "sites.toml").write_text(SITES, encoding="utf-8")
    (tmp_path / "catalog.json").write_text(json.dumps(CATALOG), encoding="utf-8")
    (tmp_path / "history.csv").write_text(HISTORY, encoding="utf-8")
    return tmp_path


def run(files, *extra):
    args = ["simulate", "--sites", str(files / "sites.toml"), "--catalog", str(files / "catalog.json"),
            "--history", str(files / "history.csv"), *extra]
    return CliRunner().invoke(cli_mod.build(), args, catch_exceptions=False)


def reports(result):
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_baseline_numbers(files):
    (base,) = reports(run(files, "--json"))
    # H1 EWR1 5.35 (2 days), H2 LAX1 5.35 (2 days), H3 split EWR1+LAX1 6.20+6.20 (4 days), H4 unknown ZIP
    assert base == {"name": "baseline", "orders": 4, "shipped": 3, "share_within_2bd": 0.6667, "avg_cost": 7.7,
                    "split_rate": 0.3333, "backordered": 0, "orders_per_site": {"EWR1": 2, "LAX1": 2},
                    "errors": 1, "total_cost": 23.1}


def test_what_if_opening_a_candidate_site(files):
    base, what_if = reports(run(files, "--json", "--add-site", "DFW1"))
    # DFW1 (stocked with every SKU) ships H3 whole from 24 km away: 800 g by USPS zone 2, 6.90, 2 days
    assert what_if == {"name": "what-if +DFW1", "orders": 4, "shipped": 3, "share_within_2bd": 1.0, "avg_cost": 5.87,
                       "split_rate": 0.0, "backordered": 0, "orders_per_site": {"DFW1": 1, "EWR1": 1, "LAX1": 1},
                       "errors": 1, "total_cost": 17.6}
    assert base["share_within_2bd"] == 0.6667


def test_what_if_removing_and_restocking(files):
    _, removed = reports(run(files, "--json", "--remove-site", "LAX1"))
    assert (removed["shipped"], removed["backordered"], removed["orders_per_site"], removed["total_cost"],
            removed["share_within_2bd"]) == (2, 2, {"EWR1": 2}, 11.55, 0.3333)
    _, restocked = reports(run(files, "--json", "--restock", "EWR1"))
    # EWR1 now holds B too: H2 still goes to LAX1 (nearest), H3 ships whole from EWR1 (800 g, zone 6, 4 days)
    assert (restocked["split_rate"], restocked["orders_per_site"], restocked["total_cost"]) == (
        0.0, {"EWR1": 2, "LAX1": 1}, 19.5)


def test_new_site_at_a_zip_and_table_output(files):
    result = run(files, "--add-site", "ATL9@30303")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Replayed 4 orders placed 2026-11-17 .. 2026-11-17 from history.csv against 2 site(s) (carriers.toml)"
    assert lines[1].split() == ["baseline", "what-if", "+ATL9"]
    # ATL9 holds everything and ships H3 whole (Atlanta-Dallas is zone 4: 3 days, 7.65)
    assert lines[3].split() == ["within", "2", "business", "days", "66.7%", "66.7%"]
    assert lines[4].split() == ["avg", "cost", "per", "order", "$7.70", "$6.12"]
    assert lines[5].split() == ["split", "rate", "33.3%", "0.0%"]
    assert "  ATL9" in result.output
    assert lines[-2] == "baseline: 1 order(s) refused, e.g. H4: unknown US ZIP code 00000"


@pytest.mark.parametrize("args,message", [
    (["--add-site", "NOPE1"], "NOPE1: not a candidate in"),
    (["--remove-site", "ZZZ1"], "ZZZ1 is not in the network (EWR1, LAX1)"),
    (["--add-site", "X@00000"], "X@00000: use ID@ZIP with a known US ZIP"),
])
def test_bad_what_if_is_a_clear_usage_error(files, args, message):
    result = run(files, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_malformed_history_row_names_the_line(files):
    (files / "history.csv").write_text(HISTORY.replace("H2,2026-11-17T16:00:00Z", "H2,yesterday"), encoding="utf-8")
    result = run(files)
    assert result.exit_code == 1
    assert "history.csv line 3: placed_at 'yesterday' is not ISO 8601" in result.output


def test_sample_history_runs(tmp_path):
    result = CliRunner().invoke(cli_mod.build(), ["simulate", "--limit", "300", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (base,) = [json.loads(x) for x in result.output.splitlines()]
    assert base["orders"] == 300 and base["errors"] == 0
    assert sum(base["orders_per_site"].values()) >= base["shipped"] >= 290
    assert set(base["orders_per_site"]) == {"EWR1", "LAX1", "DFW1"}


def test_help_explains_the_command():
    result = CliRunner().invoke(cli_mod.build(), ["simulate", "--help"])
    assert result.exit_code == 0
    for text in ("--add-site", "--remove-site", "--restock", "2 business days", "floorsync simulate"):
        assert text in result.output


def test_bad_rate_file_is_refused_naming_the_problem(files):
    from central.routing.network import DEFAULT_RATES

    bad = files / "rates.toml"
    bad.write_text(DEFAULT_RATES.read_text(encoding="utf-8").replace("[  500,  8.10,", "[  500,  -8.10,", 1),
                   encoding="utf-8")
    result = run(files, "--rates", str(bad))
    assert result.exit_code == 1
    assert f"rate file {bad}: service ups_ground: negative price -8.1 at 500 g zone 2" in result.output


@pytest.mark.parametrize("row,message", [
    ("H9,2026-11-17T15:00:00,US,10001,ground,A:1,", "line 6: placed_at '2026-11-17T15:00:00' needs a UTC offset"),
    ("H9,2026-11-17T15:00:00Z,US,10001,ground,A:x,", "line 6: line item 'A:x' must be SKU:qty with qty > 0"),
    ("H9,2026-11-17T15:00:00Z,US,10001,ground,A:1,fastest", "line 6: strategy 'fastest' unknown"),
])
def test_history_rows_are_validated(files, row, message):
    (files / "history.csv").write_text(HISTORY + row + "\n", encoding="utf-8")
    result = run(files)
    assert result.exit_code == 1
    assert f"history.csv {message}" in result.output


def test_daily_capacity_sends_work_elsewhere_or_backorders(files):
    capped = SITES.replace('holiday_subdivision = "NJ"', 'holiday_subdivision = "NJ"\ncapacity_per_day = 1', 1)
    (files / "sites.toml").write_text(capped, encoding="utf-8")
    (base,) = reports(run(files, "--json"))
    # EWR1 takes H1 and is then full for the day: H3's SKU A has nowhere else to go.
    assert (base["orders_per_site"], base["backordered"], base["shipped"]) == ({"EWR1": 1, "LAX1": 2}, 1, 3)
