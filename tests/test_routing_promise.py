"""Ship dates and promised dates with fixed clocks across time zones, weekends, holidays and DST."""
from __future__ import annotations

import datetime as dt

import pytest

from central.routing.core.errors import NetworkDataError
from central.routing.core.model import SiteInfo
from central.routing.core.promise import CarrierCalendar, promise, ship_date

UTC = dt.timezone.utc
D = dt.date

EWR = SiteInfo("EWR1", 40.7066, -74.1581, "America/New_York",
               {"ground": "17:00", "two_day": "15:00", "overnight": "13:00"}, "US", "NJ")
LAX = SiteInfo("LAX1", 33.9292, -118.2436, "America/Los_Angeles", {"ground": "17:00"}, "US", "CA")
DFW = SiteInfo("DFW1", 32.9230, -97.0130, "America/Chicago", {"ground": "17:00"}, "US", "TX")
UPS = CarrierCalendar("ups", "US", ("New Year's Day", "Memorial Day", "Independence Day", "Labor Day",
                                    "Thanksgiving Day", "Christmas Day"))
USPS = CarrierCalendar("usps", "US", ("Columbus Day", "Veterans Day", "Thanksgiving Day", "Christmas Day"))


def at(y, m, d, hh, mm, tz="UTC"):
    from zoneinfo import ZoneInfo
    return dt.datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(tz))


def test_before_cutoff_ships_today_and_transit_counts_business_days():
    p = promise(EWR, "ground", 1, at(2026, 11, 20, 16, 0, "America/New_York"), UPS)   # Friday 16:00
    assert (p.ship_date, p.promised_date, p.after_cutoff) == (D(2026, 11, 20), D(2026, 11, 23), False)


def test_friday_after_cutoff_ships_monday():
    p = promise(EWR, "ground", 1, at(2026, 11, 20, 17, 30, "America/New_York"), UPS)  # Friday 17:30
    assert (p.ship_date, p.promised_date, p.after_cutoff, p.urgent) == (D(2026, 11, 23), D(2026, 11, 24), True, False)


def test_exactly_at_cutoff_is_after_cutoff():
    p = promise(EWR, "ground", 1, at(2026, 11, 18, 17, 0, "America/New_York"), UPS)
    assert p.ship_date == D(2026, 11, 19)


def test_weekend_order_ships_monday():
    p = promise(EWR, "ground", 2, at(2026, 11, 14, 9, 0, "America/New_York"), UPS)    # Saturday morning
    assert (p.ship_date, p.promised_date) == (D(2026, 11, 16), D(2026, 11, 18))


def test_holiday_on_transit_day_two_moves_delivery_to_day_three():
    # ships Tuesday 24 Nov; day 1 = Wed 25; day 2 would be Thanksgiving Thu 26 -> Friday 27
    p = promise(EWR, "ground", 2, at(2026, 11, 24, 10, 0, "America/New_York"), UPS)
    assert (p.ship_date, p.promised_date) == (D(2026, 11, 24), D(2026, 11, 27))


def test_after_cutoff_before_thanksgiving_skips_holiday_and_weekend():
    # Wednesday 25 Nov after cut-off: Thu 26 holiday -> ships Fri 27; 1 day transit -> Mon 30
    p = promise(EWR, "ground", 1, at(2026, 11, 25, 18, 0, "America/New_York"), UPS)
    assert (p.ship_date, p.promised_date) == (D(2026, 11, 27), D(2026, 11, 30))


def test_same_instant_differs_by_site_time_zone():
    now = at(2026, 11, 20, 22, 30)   # 17:30 New York, 16:30 Dallas, 14:30 Los Angeles (a Friday)
    assert ship_date(EWR, "ground", now)[0] == D(2026, 11, 23)
    assert ship_date(DFW, "ground", now)[0] == D(2026, 11, 20)
    assert ship_date(LAX, "ground", now)[0] == D(2026, 11, 20)


def test_late_utc_evening_is_still_the_previous_day_in_los_angeles():
    now = at(2026, 11, 21, 0, 30)    # Saturday 00:30 UTC = Friday 16:30 in Los Angeles
    p = promise(LAX, "ground", 1, now, UPS)
    assert (p.ship_date, p.promised_date, p.urgent) == (D(2026, 11, 20), D(2026, 11, 23), True)


def test_spring_dst_change_moves_the_utc_cutoff():
    # 21:30 UTC is 16:30 EST on Friday 6 March 2026 (before cut-off) ...
    assert ship_date(EWR, "ground", at(2026, 3, 6, 21, 30))[0] == D(2026, 3, 6)
    # ... but 17:30 EDT on Monday 9 March 2026, after clocks went forward on Sunday 8 March.
    assert ship_date(EWR, "ground", at(2026, 3, 9, 21, 30))[0] == D(2026, 3, 10)


def test_autumn_dst_change_moves_the_utc_cutoff():
    # 21:30 UTC is 17:30 EDT on Friday 30 Oct 2026 -> ships Monday 2 Nov; Tue 3 Nov is Election
    # Day, a New Jersey holiday, so one transit day lands on Wed 4 Nov ...
    p = promise(EWR, "ground", 1, at(2026, 10, 30, 21, 30), UPS)
    assert (p.ship_date, p.promised_date) == (D(2026, 11, 2), D(2026, 11, 4))
    # ... and 21:30 UTC is 16:30 EST on Monday 2 Nov after clocks went back on Sunday 1 Nov.
    p = promise(EWR, "ground", 1, at(2026, 11, 2, 21, 30), UPS)
    assert (p.ship_date, p.promised_date, p.urgent) == (D(2026, 11, 2), D(2026, 11, 4), True)
    # Dallas (no Election Day holiday in Texas) on the same clocks: 16:30 CDT Fri, 15:30 CST Mon.
    assert promise(DFW, "ground", 1, at(2026, 10, 30, 21, 30), UPS).promised_date == D(2026, 11, 2)
    assert promise(DFW, "ground", 1, at(2026, 11, 2, 21, 30), UPS).promised_date == D(2026, 11, 3)


def test_ship_by_is_the_local_cutoff_instant():
    p = promise(EWR, "two_day", 2, at(2026, 3, 9, 12, 0, "America/New_York"), UPS)
    assert p.ship_by.astimezone(UTC) == dt.datetime(2026, 3, 9, 19, 0, tzinfo=UTC)   # 15:00 EDT


def test_subdivision_holiday_only_at_that_site():
    # Lincoln's Birthday (Thu 12 Feb 2026) is a New Jersey holiday, not a Texas one.
    assert ship_date(EWR, "ground", at(2026, 2, 11, 18, 0, "America/New_York"))[0] == D(2026, 2, 13)
    assert ship_date(DFW, "ground", at(2026, 2, 11, 18, 0, "America/Chicago"))[0] == D(2026, 2, 12)


def test_site_closure_is_not_a_ship_day():
    closed = SiteInfo("EWR1", 40.7, -74.1, "America/New_York", {"ground": "17:00"}, "US", "NJ",
                      closures=frozenset({"2026-11-23"}))
    p = promise(closed, "ground", 1, at(2026, 11, 20, 17, 30, "America/New_York"), UPS)
    assert (p.ship_date, p.promised_date) == (D(2026, 11, 24), D(2026, 11, 25))


def test_carrier_holiday_counts_only_for_that_carrier():
    # Columbus Day (Mon 12 Oct 2026): USPS closed, UPS working; not a NJ site holiday in this calendar.
    now = at(2026, 10, 9, 10, 0, "America/New_York")   # Friday
    assert promise(DFW, "ground", 1, now, UPS).promised_date == D(2026, 10, 12)
    assert promise(DFW, "ground", 1, now, USPS).promised_date == D(2026, 10, 13)


def test_service_class_uses_its_own_cutoff_and_falls_back_to_ground():
    now = at(2026, 11, 18, 14, 0, "America/New_York")   # Wednesday 14:00
    assert ship_date(EWR, "overnight", now)[0] == D(2026, 11, 19)   # 13:00 cut-off passed
    assert ship_date(EWR, "two_day", now)[0] == D(2026, 11, 18)     # 15:00 cut-off ahead
    assert ship_date(LAX, "overnight", at(2026, 11, 18, 14, 0, "America/Los_Angeles"))[0] == D(2026, 11, 18)


def test_urgent_within_window_of_cutoff():
    assert promise(EWR, "ground", 1, at(2026, 11, 18, 16, 0, "America/New_York"), UPS, 60).urgent is True
    assert promise(EWR, "ground", 1, at(2026, 11, 18, 15, 59, "America/New_York"), UPS, 60).urgent is False


def test_naive_clock_is_refused():
    with pytest.raises(ValueError):
        ship_date(EWR, "ground", dt.datetime(2026, 11, 18, 12, 0))


@pytest.mark.parametrize("tz,cut,message", [
    ("Mars/Olympus_Mons", "17:00", "site X1: timezone 'Mars/Olympus_Mons' is not an IANA time zone"),
    ("America/New_York", "25:00", "site X1: cut-off for ground '25:00' is not a valid local time HH:MM"),
    ("America/New_York", "5pm", "site X1: cut-off for ground '5pm' is not a valid local time HH:MM"),
])
def test_invalid_site_time_zone_or_cutoff_is_a_clear_error(tz, cut, message):
    with pytest.raises(NetworkDataError) as err:
        SiteInfo("X1", 40.0, -74.0, tz, {"ground": cut})
    assert str(err.value).startswith(message)
