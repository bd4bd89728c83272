"""Pure floor rules: walk sequence, pick method, FEFO allocation, cartons, weight gate, counts, returns, put-away."""
from __future__ import annotations

import pytest

from edge.core.layout import Bin, build_layout, parse_code, walk_sequence
from edge.core.packing import Carton, Item, expected_weight, fits, smallest_carton, tolerance_g, weight_gate
from edge.core.picking import MethodRules, OrderProfile, StockSlot, allocate, choose_method, pick_path, urgency_key
from edge.core.rules import (FO_TRANSITIONS, BinState, CountRule, can_transition, grade_disposition, needs_recount,
                             suggest_putaway, valid_qty)

ALL = ("discrete", "batch", "cluster", "zone", "wave")


def test_serpentine_walk_goes_up_one_aisle_and_down_the_next():
    seq = [(b.code, s) for b, s in build_layout(["A"], 2, 3, 1)]
    assert [c for c, _ in seq] == ["A-01-01-1", "A-01-02-1", "A-01-03-1", "A-02-03-1", "A-02-02-1", "A-02-01-1"]
    assert [s for _, s in seq] == [10, 20, 30, 40, 50, 60]


def test_walk_sequence_orders_levels_within_a_bay_and_zones_in_order():
    bins = [Bin("B", 1, 1, 1), Bin("A", 1, 1, 2), Bin("A", 1, 1, 1)]
    assert [b.code for b, _ in walk_sequence(bins)] == ["A-01-01-1", "A-01-01-2", "B-01-01-1"]
    assert parse_code("a-03-02-1") == Bin("A", 3, 2, 1)
    assert parse_code("DOCK") is None


@pytest.mark.parametrize("lines,units,skus,caps,expected", [
    (60, 60, 60, ALL, "wave"),
    (30, 30, 25, ALL, "zone"),
    (3, 150, 3, ALL, "batch"),
    (12, 12, 12, ALL, "cluster"),
    (2, 3, 2, ALL, "discrete"),
    (60, 60, 60, ("discrete", "cluster"), "discrete"),   # 60 lines is above the cluster band
    (30, 30, 25, ("cluster_picking",), "cluster"),       # seed-style capability names
    (3, 150, 3, (), "discrete"),
])
def test_pick_method_follows_the_seed_rules_and_site_capabilities(lines, units, skus, caps, expected):
    method, why = choose_method(OrderProfile(lines, units, skus), caps)
    assert method == expected
    assert why


def test_pick_method_thresholds_are_configurable():
    rules = MethodRules(wave_min_lines=5, zone_min_skus=100, batch_min_units=1000, cluster_min_lines=2, cluster_max_lines=4)
    assert choose_method(OrderProfile(5, 5, 5), ALL, rules)[0] == "wave"
    assert choose_method(OrderProfile(3, 3, 3), ALL, rules)[0] == "cluster"


def test_fefo_takes_the_earliest_expiry_even_when_it_is_further_down_the_walk():
    slots = [StockSlot("A-01-01-1", "A", 10, "L2", "2027-12-31", 5), StockSlot("A-02-01-1", "A", 90, "L1", "2027-06-30", 3)]
    a = allocate(4, slots, fefo=True)
    assert [(x.location, x.lot, x.qty) for x in a.allocations] == [("A-02-01-1", "L1", 3), ("A-01-01-1", "L2", 1)]
    assert a.missing == 0
    b = allocate(4, slots, fefo=False)
    assert [(x.location, x.qty) for x in b.allocations] == [("A-01-01-1", 4)]


def test_allocation_reports_the_shortfall():
    a = allocate(10, [StockSlot("A-01-01-1", "A", 10, "", None, 4), StockSlot("A-01-02-1", "A", 20, "", None, 0)], fefo=False)
    assert sum(x.qty for x in a.allocations) == 4 and a.missing == 6


def test_pick_path_and_urgency_order():
    tasks = [{"walk_seq": 30, "sku": "B"}, {"walk_seq": 10, "sku": "C"}, {"walk_seq": 10, "sku": "A"}]
    assert [(t["walk_seq"], t["sku"]) for t in pick_path(tasks)] == [(10, "A"), (10, "C"), (30, "B")]
    orders = [{"fo_id": 1, "urgent": False, "ship_by": "2026-01-01"}, {"fo_id": 2, "urgent": True, "ship_by": "2026-01-05"},
              {"fo_id": 3, "urgent": False, "ship_by": "2025-12-31"}]
    assert [o["fo_id"] for o in sorted(orders, key=urgency_key)] == [2, 3, 1]


CARTONS = [Carton("S", 300, 200, 120, 160), Carton("M", 400, 300, 200, 320), Carton("L", 500, 400, 300, 520)]


def test_smallest_fitting_carton_respects_each_dimension_and_volume():
    small = [Item("X", 2, 150, 100, 50, 200)]
    assert smallest_carton(CARTONS, small).code == "S"
    long_item = [Item("Y", 1, 450, 50, 50, 100)]   # too long for S and M
    assert smallest_carton(CARTONS, long_item).code == "L"
    many = [Item("Z", 30, 100, 100, 100, 50)]      # 30 litres of goods: only L (60 l * 0.85) holds them
    assert smallest_carton(CARTONS, many).code == "L"
    assert smallest_carton(CARTONS, [Item("Q", 1, 900, 10, 10, 1)]) is None
    assert not fits(Carton("T", 500, 500, 500, 100, max_weight_g=1000), [Item("H", 1, 10, 10, 10, 950)])


def test_weight_gate_tolerance_is_max_of_percent_and_minimum():
    assert tolerance_g(1000, 3.0, 50) == 50
    assert tolerance_g(5000, 3.0, 50) == 150
    assert expected_weight([Item("A", 2, 1, 1, 1, 300)], 160) == 760
    assert weight_gate(760, 810, 3.0, 50).ok
    g = weight_gate(760, 811, 3.0, 50)
    assert not g.ok and g.difference_g == 51 and g.tolerance_g == 50
    assert weight_gate(5000, 4850, 3.0, 50).ok and not weight_gate(5000, 4849, 3.0, 50).ok


def test_count_variance_needs_recount_only_above_both_thresholds():
    rule = CountRule(max_units=2, max_pct=5.0)
    assert not needs_recount(100, 102, rule)     # 2 units
    assert not needs_recount(100, 104, rule)     # 4 units but 4 %
    assert needs_recount(100, 106, rule)         # 6 units and 6 %
    assert needs_recount(0, 3, rule)
    assert not needs_recount(0, 2, rule)


def test_return_grades():
    assert grade_disposition("a") == ("restock", True, None)
    assert grade_disposition("B") == ("refurbish", False, "refurb")
    assert grade_disposition("C") == ("quarantine", False, "quarantine")
    assert grade_disposition("SCRAP") == ("scrap", False, None)
    with pytest.raises(ValueError):
        grade_disposition("D")


def test_putaway_prefers_same_sku_then_empty_bin_in_the_sku_zone_never_a_mixed_bin():
    bins = [BinState("A-01-01-1", "A", 10, frozenset({"OTHER"})), BinState("A-01-02-1", "A", 20, frozenset()),
            BinState("B-01-01-1", "B", 5, frozenset()), BinState("B-02-01-1", "B", 50, frozenset({"SKU1"}))]
    assert suggest_putaway("SKU1", "A", bins).code == "B-02-01-1"
    assert suggest_putaway("SKU2", "A", bins).code == "A-01-02-1"
    assert suggest_putaway("SKU2", "C", bins).code == "B-01-01-1"
    assert suggest_putaway("SKU2", "A", [bins[0]]) is None


def test_quantities_and_state_machine():
    assert valid_qty("12", 999) == 12
    for bad in (0, -1, 1000, "1e3", 2.5, True, "abc"):
        with pytest.raises(ValueError):
            valid_qty(bad, 999)
    assert can_transition(FO_TRANSITIONS, "packed", "shipped")
    assert not can_transition(FO_TRANSITIONS, "shipped", "cancelled")
    assert not can_transition(FO_TRANSITIONS, "released", "packed")
