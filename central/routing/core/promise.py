"""Ship dates and promised delivery dates. Pure (the `holidays` package is data, no I/O).

Rules:
- A site ships on a *business day*: not Saturday/Sunday, not a public holiday of the site's
  country/subdivision (``holidays`` package), not a site closure date, not a holiday of the carrier.
- Ship date = today (site local date) when today is a business day and the local time is before
  the site's cut-off for that service class; otherwise the next business day.
  (Friday after cut-off => Monday.)
- Promised date = ship date + N transit business days, counted with the same calendar
  (a holiday on transit day 2 => delivered on day 3).
- An order is *urgent* when it ships today and the cut-off is at most ``urgent_window_min`` away.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import holidays as holidays_pkg

from central.routing.core.errors import NetworkDataError
from central.routing.core.model import SiteInfo

_OBSERVED = " (observed)"


@lru_cache(maxsize=4096)
def public_holidays(country: str, subdivision: str | None, year: int) -> frozenset:
    """Dates of the public holidays of ``country``/``subdivision`` in ``year`` (cached)."""
    try:
        cal = holidays_pkg.country_holidays(country, subdiv=subdivision or None, years=year)
    except (NotImplementedError, KeyError) as exc:
        raise NetworkDataError(f"no holiday calendar for country {country!r} subdivision {subdivision!r}") from exc
    return frozenset(d for d in cal if d.year == year)


def days_off(country: str | None, subdivision: str | None, closures, today: dt.date, *, days: int = 366) -> list[str]:
    """The site's public holidays and closure days from ``today`` for ``days`` days, ISO dates in order:
    what a site needs offline to know which days the truck does not come (``site.config`` down event)."""
    end = today + dt.timedelta(days=days)
    out = {d for d in (dt.date.fromisoformat(str(c)) for c in closures or ()) if today <= d < end}
    if country:
        for year in range(today.year, end.year + 1):
            out.update(d for d in public_holidays(country, subdivision, year) if today <= d < end)
    return [d.isoformat() for d in sorted(out)]


def check_calendar(country: str, subdivision: str | None) -> None:
    """Raise NetworkDataError when the holidays package does not know this country/subdivision."""
    try:
        holidays_pkg.country_holidays(country, subdiv=subdivision or None, years=2026)
    except (NotImplementedError, KeyError) as exc:
        raise NetworkDataError(f"no holiday calendar for country {country!r} subdivision {subdivision!r}") from exc


@lru_cache(maxsize=1024)
def named_holidays(country: str, names: tuple[str, ...], year: int) -> frozenset:
    """Dates in ``year`` of the named holidays (their "(observed)" days included), e.g. a carrier's."""
    try:
        cal = holidays_pkg.country_holidays(country, years=year)
    except (NotImplementedError, KeyError) as exc:
        raise NetworkDataError(f"no holiday calendar for country {country!r}") from exc
    wanted = set(names)
    out = set()
    for d, label in cal.items():
        for part in str(label).split(";"):
            part = part.strip()
            if part.endswith(_OBSERVED):
                part = part[: -len(_OBSERVED)]
            if part in wanted and d.year == year:
                out.add(d)
    return frozenset(out)


@dataclass(frozen=True)
class CarrierCalendar:
    """Days a carrier neither picks up nor delivers: named public holidays plus explicit dates."""

    carrier: str
    country: str = "US"
    names: tuple[str, ...] = ()
    dates: frozenset = frozenset()

    def is_holiday(self, d: dt.date) -> bool:
        if d in self.dates:
            return True
        return bool(self.names) and d in named_holidays(self.country, self.names, d.year)


NO_CARRIER_HOLIDAYS = CarrierCalendar(carrier="")


def _is_bd(d: dt.date, country: str, subdivision: str | None, closures: frozenset, carrier: CarrierCalendar) -> bool:
    if d.weekday() >= 5 or d in closures:
        return False
    if country and d in public_holidays(country, subdivision, d.year):
        return False
    return not carrier.is_holiday(d)


def is_business_day(d: dt.date, site: SiteInfo, carrier: CarrierCalendar = NO_CARRIER_HOLIDAYS) -> bool:
    return _is_bd(d, site.holiday_country, site.holiday_subdivision, site.closures, carrier)


@lru_cache(maxsize=65536)
def _dates(today: dt.date, before_cutoff: bool, transit_days: int, country: str, subdivision: str | None,
           closures: frozenset, carrier: CarrierCalendar) -> tuple[dt.date, dt.date, bool]:
    """(ship date, delivery date, ships today) for an order on local ``today``; cached, as it is a
    pure function of its arguments."""
    def is_bd(d: dt.date) -> bool:
        return _is_bd(d, country, subdivision, closures, carrier)

    ships_today = before_cutoff and is_bd(today)
    sd = today if ships_today else next_business_day(today, is_bd)
    return sd, add_business_days(sd, transit_days, is_bd), ships_today


def next_business_day(d: dt.date, is_bd: Callable[[dt.date], bool], limit: int = 60) -> dt.date:
    """The first business day strictly after ``d``."""
    for _ in range(limit):
        d += dt.timedelta(days=1)
        if is_bd(d):
            return d
    raise NetworkDataError(f"no business day within {limit} days after {d - dt.timedelta(days=limit)}")


def add_business_days(start: dt.date, n: int, is_bd: Callable[[dt.date], bool]) -> dt.date:
    d = start
    for _ in range(n):
        d = next_business_day(d, is_bd)
    return d


@dataclass(frozen=True)
class Promise:
    ship_date: dt.date
    promised_date: dt.date
    after_cutoff: bool      # today's cut-off missed (or today is not a business day)
    urgent: bool            # ships today and the cut-off is close
    ship_by: dt.datetime    # the cut-off moment on the ship date (aware, site local time)
    minutes_to_cutoff: float


def ship_date(site: SiteInfo, service_class: str, now: dt.datetime,
              carrier: CarrierCalendar = NO_CARRIER_HOLIDAYS) -> tuple[dt.date, bool, dt.datetime, float]:
    """(ship date, after_cutoff, ship_by, minutes until today's cut-off) for an order placed at ``now``."""
    p = promise(site, service_class, 0, now, carrier)
    return p.ship_date, p.after_cutoff, p.ship_by, p.minutes_to_cutoff


def promise(site: SiteInfo, service_class: str, transit_days: int, now: dt.datetime,
            carrier: CarrierCalendar = NO_CARRIER_HOLIDAYS, urgent_window_min: float = 60) -> Promise:
    """Ship date and promised delivery date for ``transit_days`` business days of transit."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = site.tz
    local = now.astimezone(tz)
    today = local.date()
    cut = site.cutoff(service_class)
    minutes = (cut.hour * 60 + cut.minute) - (local.hour * 60 + local.minute + local.second / 60.0
                                              + local.microsecond / 60e6)
    sd, delivered, ships_today = _dates(today, minutes > 0, transit_days, site.holiday_country,
                                        site.holiday_subdivision, site.closures, carrier)
    ship_by = dt.datetime.combine(sd, cut, tzinfo=tz)
    return Promise(sd, delivered, not ships_today, ships_today and minutes <= urgent_window_min, ship_by, minutes)


def business_days_between(start: dt.date, end: dt.date, is_bd: Callable[[dt.date], bool]) -> int:
    """Business days after ``start`` up to and including ``end`` (0 when end <= start)."""
    n, d = 0, start
    while d < end:
        d += dt.timedelta(days=1)
        if is_bd(d):
            n += 1
    return n
