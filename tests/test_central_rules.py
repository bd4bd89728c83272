"""Pure rules added for issue 3's remaining features: cancel outcome, closure validation, account rules."""
from __future__ import annotations

import datetime as dt

import pytest

from central.core import accounts
from central.core import lifecycle as lc
from central.core import validation as v

TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize("status,open_units,shipped,expect", [
    ("released", 3, 0, "cancelled"), ("picking", 3, 0, "cancelled"), ("on_hold", 2, 0, "cancelled"),
    ("backordered", 2, 0, "cancelled"), ("exception", 1, 0, "cancelled"),
    ("partially_shipped", 2, 3, "shipped"), ("picking", 1, 1, "shipped"), ("backordered", 2, 4, "shipped"),
    ("on_hold", 1, 1, "shipped"), ("exception", 1, 2, "shipped"),
])
def test_cancel_outcome(status, open_units, shipped, expect):
    assert lc.cancel_outcome(status, open_units, shipped) == expect


def test_cancel_outcome_refusals():
    with pytest.raises(lc.NothingToCancel) as e:
        lc.cancel_outcome("shipped", 0, 5)
    assert str(e.value) == ("order is shipped and its 5 unit(s) have shipped: nothing left to cancel (shipped units "
                            "cannot be cancelled; return them instead)")
    with pytest.raises(lc.NothingToCancel):
        lc.cancel_outcome("exception", 0, 2)          # shipped in full, then flagged
    with pytest.raises(lc.TransitionRefused):
        lc.cancel_outcome("cancelled", 0, 0)
    with pytest.raises(lc.TransitionRefused):
        lc.cancel_outcome("delivered", 1, 1)


def test_validate_closures_normalises_and_sorts():
    got = v.validate_closures({"closures": [{"date": "2026-12-25", "reason": " Christmas "},
                                            {"date": "2025-11-22", "reason": "a year ago"},
                                            {"date": "2029-11-23", "reason": "far ahead"}]}, TODAY)
    assert got == [{"date": "2025-11-22", "reason": "a year ago"}, {"date": "2026-12-25", "reason": "Christmas"},
                   {"date": "2029-11-23", "reason": "far ahead"}]
    assert v.validate_closures({"closures": []}, TODAY) == []


def test_validate_closures_names_every_bad_field():
    with pytest.raises(v.Invalid) as e:
        v.validate_closures({"closures": [{"date": "2025-11-21", "reason": "x"}, {"date": "2029-11-26", "reason": "x"},
                                          {"date": "2026-02-29", "reason": ""}, {"date": "2026-12-01", "reason": "x"},
                                          {"date": "2026-12-01"}], "x": 1}, TODAY)
    assert e.value.fields == {
        "x": "unknown field",
        "closures[0].date": "must be between 2025-11-22 and 2029-11-25",
        "closures[1].date": "must be between 2025-11-22 and 2029-11-25",
        "closures[2].reason": "must not be empty",
        "closures[2].date": "must be a calendar date YYYY-MM-DD",
        "closures[4].date": "duplicate of closures[3].date",
        "closures[4].reason": "is required",
    }
    with pytest.raises(v.Invalid) as e:
        v.validate_closures([], TODAY)
    assert e.value.fields == {"body": "must be a JSON object"}


@pytest.mark.parametrize("name,ok", [("ops", True), ("olga.ops-2", True), ("o", False), ("Olga", False),
                                     ("-ops", False), ("a b", False), ("x" * 65, False)])
def test_usernames(name, ok):
    if ok:
        assert accounts.check_username(name) == name
    else:
        with pytest.raises(accounts.AccountError):
            accounts.check_username(name)


def test_passwords():
    assert accounts.check_password("ten-chars!") == "ten-chars!"
    for bad, msg in (("short", "must be at least 10 characters"), ("x" * 201, "must be at most 200 characters"),
                     ("tab\there-123", "must not contain control characters")):
        with pytest.raises(accounts.AccountError) as e:
            accounts.check_password(bad)
        assert (e.value.field, e.value.message) == ("password", msg)
    assert accounts.locked_out(0, None, 0.0) == 0.0
    assert accounts.locked_out(5, 1000.0, 1000.0) == 60.0 and accounts.locked_out(9, 1000.0, 1061.0) == 0.0
    assert len(accounts.generate_password()) == 16
