"""The demo catalog: deterministic, valid GTINs, every site stocked."""
from __future__ import annotations

import json
import random

from floorsync.catalog import build_catalog, gtin_check_digit, random_order, write_catalog


def test_gtin_check_digit_matches_known_gtins():
    # GS1's own examples: 4006381333931 (EAN-13), 036000291452 (UPC-A), 00012345600012 (GTIN-14)
    assert gtin_check_digit("400638133393") == "1"
    assert gtin_check_digit("03600029145") == "2"
    assert gtin_check_digit("0001234560001") == "2"


def test_catalog_is_deterministic_and_complete():
    a, b = build_catalog(seed=3), build_catalog(seed=3)
    assert a == b
    assert len(a["skus"]) == 300
    assert [s["site_id"] for s in a["sites"]] == ["EWR1", "LAX1", "DFW1"]
    assert len({s["sku"] for s in a["skus"]}) == 300
    for s in a["skus"]:
        gtin = s["gtins"][0]
        assert len(gtin) == 13 and gtin_check_digit(gtin[:-1]) == gtin[-1]
    stocked_sites = {row["site_id"] for row in a["stock"]}
    assert stocked_sites == {"EWR1", "LAX1", "DFW1"}
    assert all(row["qty"] > 0 for row in a["stock"])


def test_write_catalog_keeps_an_existing_file(tmp_path):
    path = tmp_path / "catalog.json"
    first = write_catalog(path, seed=1)
    second = write_catalog(path, seed=99)
    assert first == second == json.loads(path.read_text())


def test_random_order_uses_catalog_skus():
    cat = build_catalog(n_skus=20)
    order = random_order(cat, random.Random(1), 1)
    skus = {s["sku"] for s in cat["skus"]}
    assert order["ship_to"]["country"] == "US"
    assert order["lines"] and all(line["sku"] in skus and line["qty"] >= 1 for line in order["lines"])
