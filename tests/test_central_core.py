"""Pure rules of central: lifecycle, validation, allocation arithmetic, ledger folds."""
from __future__ import annotations


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central.core import lifecycle as lc
from central.core import validation as v
from central.core.allocation import (available, backorder_fill_plan, crossed_below, oversold_units,
                                     rebuild_balances, tracking_number)

ADDR = {"name": "A", "line1": "1 St", "city": "X", "postal_code": "10001", "country": "US"}


def test_lifecycle_happy_path_and_refusals():
    path = ["received", "routed", "allocated", "released", "picking", "packed", "shipped", "delivered"]
    for a, b in zip(path, path[1:]):
        assert lc.check_transition(a, b) == b
    for current, target in [("shipped", "cancelled"), ("delivered", "on_hold"), ("cancelled", "released"),
                            ("received", "shipped"), ("packed", "picking"), ("released", "nonsense")]:
        with pytest.raises(lc.TransitionRefused) as exc:
            lc.check_transition(current, target)
        assert exc.value.current == current and exc.value.target == target
    assert lc.can_transition("cancelled", "exception")   # shipment after cancel
    assert "shipped" not in lc.CANCELLABLE and "packed" in lc.CANCELLABLE
    assert lc.status_after_shipment(5, 3, False) == "partially_shipped"
    assert lc.status_after_shipment(5, 5, False) == "shipped"
    assert lc.status_after_shipment(5, 5, True) == "exception"


def test_every_status_has_a_transition_table_entry():
    assert set(lc.TRANSITIONS) == set(lc.STATUSES)
    for targets in lc.TRANSITIONS.values():
        assert targets <= set(lc.STATUSES)


def test_validate_order_normalises_and_names_every_field():
    out = v.validate_order({"channel_order_id": "X1", "ship_to": dict(ADDR, name="  Ann  "),
                            "lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1, "line_id": "b"}]})
    assert out["channel"] == "api" and out["service"] == "ground" and out["ship_to"]["name"] == "Ann"
    assert [ln["line_id"] for ln in out["lines"]] == ["1", "b"]
    with pytest.raises(v.Invalid) as exc:
        v.validate_order({"channel_order_id": "", "ship_to": dict(ADDR, country="USA"), "service": "fast",
                          "lines": [{"sku": "A", "qty": 0}, {"sku": "A", "qty": 1}], "x": 1},
                         known_skus={"B"})
    assert exc.value.fields == {
        "x": "unknown field", "channel_order_id": "must not be empty", "service": "must be one of ground, two_day, overnight",
        "ship_to.country": "must be at most 2 characters", "lines[0].qty": "must be >= 1",
        "lines[1].sku": "duplicate line: SKU A already on line 0", "lines[0].sku": "unknown SKU A"}


@pytest.mark.parametrize("country,postal,ok", [("US", "10001", True), ("US", "10001-1234", True),
                                               ("US", "1000", False), ("CA", "K1A 0B1", True), ("CA", "12345", False),
                                               ("GB", "SW1A 1AA", True), ("DE", "1011", False), ("FR", None, False),
                                               ("NZ", None, True), ("ZZ", "1", False)])
def test_postal_codes_per_country(country, postal, ok):
    addr = dict(ADDR, country=country)
    addr.pop("postal_code")
    if postal is not None:
        addr["postal_code"] = postal
    payload = {"channel_order_id": "X", "ship_to": addr, "lines": [{"sku": "A", "qty": 1}]}
    if ok:
        v.validate_order(payload)
    else:
        with pytest.raises(v.Invalid):
            v.validate_order(payload)


def test_gtin_check_digit_and_sku_validation():
    assert v.gtin_check_ok("00012345600012") and not v.gtin_check_ok("00012345600013")
    with pytest.raises(v.Invalid) as exc:
        v.validate_sku({"sku": "A", "gtins": ["00012345600013"], "weight_g": -1})
    assert set(exc.value.fields) == {"gtins[0]", "weight_g"}


def test_allocation_arithmetic():
    assert available(10, 3, 2) == 5 and available(3, 3, 2) == 0
    assert crossed_below(6, 5, 6) and not crossed_below(5, 4, 6) and not crossed_below(7, 6, 6)
    assert not crossed_below(10, 0, 0)          # no threshold, no alert
    assert oversold_units(10, 10, 0) == 0 and oversold_units(10, 9, 2) == 1
    bos = [{"id": 2, "qty": 3, "created_at": "2026-01-02"}, {"id": 1, "qty": 2, "created_at": "2026-01-01"},
           {"id": 3, "qty": 5, "created_at": "2026-01-03"}]
    assert backorder_fill_plan(bos, 4) == [(1, 2), (2, 2)]
    assert backorder_fill_plan(bos, 0) == []
    t1, t2 = tracking_number("ups", "FO1"), tracking_number("ups", "FO2")
    assert t1.startswith("1Z") and len(t1) == 20 and t1 != t2 and t1 == tracking_number("ups", "FO1")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["S1", "S2"]),
                          st.integers(-50, 50), st.integers(-50, 50)), max_size=40))
def test_ledger_fold_is_the_sum_of_deltas(rows):
    ledger = [{"merchant_id": "m", "sku": sku, "site_id": site, "d_on_hand": a, "d_reserved": b, "d_in_transit": 0,
               "d_quarantine": 0} for sku, site, a, b in rows]
    out = rebuild_balances(ledger)
    for (m, sku, site), bal in out.items():
        assert bal.on_hand == sum(a for s, si, a, _ in rows if (s, si) == (sku, site))
        assert bal.reserved == sum(b for s, si, _, b in rows if (s, si) == (sku, site))
