"""Routing value types: sites, requests, shipments, decisions. Pure, frozen.

``SiteInfo`` validates itself on construction (IANA time zone, "HH:MM" cut-offs, capacity), so a
bad site can never reach the router: it fails with ``NetworkDataError`` naming the site and field.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from central.routing.core.errors import InvalidRequest, NetworkDataError

STRATEGIES = ("one_package", "speed")


def parse_hhmm(text: str, what: str = "cut-off") -> dt.time:
    """'15:00' -> time(15, 0). Raises NetworkDataError for anything else (e.g. '25:00', '3pm')."""
    try:
        hh, mm = str(text).strip().split(":")
        if len(hh) not in (1, 2) or len(mm) != 2 or not (hh.isdigit() and mm.isdigit()):
            raise ValueError
        return dt.time(int(hh), int(mm))
    except ValueError as exc:
        raise NetworkDataError(f"{what} {text!r} is not a valid local time HH:MM (00:00-23:59)") from exc


def zone(name: str, what: str = "timezone") -> ZoneInfo:
    try:
        if not name or name.startswith("/") or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise NetworkDataError(f"{what} {name!r} is not an IANA time zone (e.g. 'America/New_York')") from exc


@dataclass(frozen=True)
class SiteInfo:
    """One fulfillment center as routing sees it (a snapshot: central builds these from its store).

    ``cutoffs`` maps a service class ("ground", "two_day", "overnight", "international") to the
    local order cut-off "HH:MM"; a class without its own cut-off uses "ground"'s, else 17:00.
    ``service_regions`` lists destination country codes; empty means every country.
    ``capacity_per_day`` of 0 means unlimited.
    """

    site_id: str
    lat: float
    lon: float
    timezone: str
    cutoffs: Mapping[str, str] = field(default_factory=lambda: {"ground": "17:00"})
    holiday_country: str = "US"
    holiday_subdivision: str | None = None
    closures: frozenset = frozenset()
    active: bool = True
    healthy: bool = True
    health_reason: str = ""
    service_regions: frozenset = frozenset()
    capabilities: frozenset = frozenset()
    capacity_per_day: int = 0
    _cutoff_times: Mapping[str, dt.time] = field(default=None, init=False, repr=False, compare=False)
    _tz: ZoneInfo = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sid = self.site_id
        if not sid or not str(sid).strip():
            raise NetworkDataError("site_id must not be empty")
        set_ = object.__setattr__
        set_(self, "_tz", zone(self.timezone, f"site {sid}: timezone"))
        if not -90 <= float(self.lat) <= 90 or not -180 <= float(self.lon) <= 180:
            raise NetworkDataError(f"site {sid}: lat/lon {self.lat},{self.lon} out of range")
        times = {svc: parse_hhmm(v, f"site {sid}: cut-off for {svc}") for svc, v in dict(self.cutoffs or {}).items()}
        set_(self, "_cutoff_times", times)
        if int(self.capacity_per_day) < 0:
            raise NetworkDataError(f"site {sid}: capacity_per_day must be >= 0, got {self.capacity_per_day}")
        closures = []
        for d in self.closures or ():
            if isinstance(d, str):
                try:
                    d = dt.date.fromisoformat(d)
                except ValueError as exc:
                    raise NetworkDataError(f"site {sid}: closure {d!r} is not a date YYYY-MM-DD") from exc
            closures.append(d)
        set_(self, "closures", frozenset(closures))
        set_(self, "service_regions", frozenset(str(c).upper() for c in (self.service_regions or ())))
        set_(self, "capabilities", frozenset(self.capabilities or ()))

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    def cutoff(self, service_class: str) -> dt.time:
        t = self._cutoff_times
        return t.get(service_class) or t.get("ground") or dt.time(17, 0)

    def serves(self, country: str) -> bool:
        return not self.service_regions or country.upper() in self.service_regions


@dataclass(frozen=True)
class RouteLine:
    line_id: str
    sku: str
    qty: int


@dataclass(frozen=True)
class RouteRequest:
    """An order to route. ``service`` is the service level asked for (see the network's levels)."""

    merchant_id: str
    lines: tuple[RouteLine, ...]
    country: str
    postal_code: str
    service: str = "ground"
    strategy: str = "one_package"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if not self.lines:
            raise InvalidRequest("order has no lines", {"lines": "must not be empty"})
        for i, ln in enumerate(self.lines):
            if not ln.sku:
                raise InvalidRequest(f"line {ln.line_id}: sku is empty", {f"lines[{i}].sku": "required"})
            if not isinstance(ln.qty, int) or isinstance(ln.qty, bool) or ln.qty <= 0:
                raise InvalidRequest(f"line {ln.line_id}: qty must be a positive integer, got {ln.qty!r}",
                                     {f"lines[{i}].qty": "must be > 0"})
        if self.strategy not in STRATEGIES:
            raise InvalidRequest(f"strategy {self.strategy!r} unknown; use one of {', '.join(STRATEGIES)}",
                                 {"strategy": "unknown"})
        if not self.country or len(self.country.strip()) != 2:
            raise InvalidRequest(f"country {self.country!r} must be an ISO 3166 alpha-2 code", {"country": "invalid"})


@dataclass(frozen=True)
class Shipment:
    """The part of an order one site ships. ``service`` is the service class, ``carrier`` e.g. "ups"."""

    site_id: str
    lines: tuple[RouteLine, ...]
    service: str
    carrier: str
    ship_date: dt.date
    promised_date: dt.date
    cost: float
    urgent: bool = False
    carrier_service: str = ""
    ship_by: dt.datetime | None = None
    distance_km: float = 0.0
    zone: str = ""
    transit_days: int = 0
    weight_g: int = 0

    def to_dict(self) -> dict:
        return {
            "site_id": self.site_id, "service": self.service, "carrier": self.carrier,
            "carrier_service": self.carrier_service, "ship_date": self.ship_date.isoformat(),
            "promised_date": self.promised_date.isoformat(), "cost": self.cost, "urgent": self.urgent,
            "ship_by": self.ship_by.isoformat() if self.ship_by else None, "distance_km": self.distance_km,
            "zone": self.zone, "transit_days": self.transit_days, "weight_g": self.weight_g,
            "lines": [{"line_id": ln.line_id, "sku": ln.sku, "qty": ln.qty} for ln in self.lines],
        }


@dataclass(frozen=True)
class Term:
    """Score terms of one candidate site (what the choice was made on)."""

    site_id: str
    carrier_service: str
    ship_date: dt.date
    promised_date: dt.date
    cost: float
    distance_km: float
    lines_held: int
    lines_total: int
    after_cutoff: bool
    chosen: bool = False

    def to_dict(self) -> dict:
        return {"site_id": self.site_id, "carrier_service": self.carrier_service,
                "ship_date": self.ship_date.isoformat(), "promised_date": self.promised_date.isoformat(),
                "cost": self.cost, "distance_km": self.distance_km, "lines_held": self.lines_held,
                "lines_total": self.lines_total, "after_cutoff": self.after_cutoff, "chosen": self.chosen}


@dataclass(frozen=True)
class Decision:
    """Where an order goes. ``rejected`` is ((site_id, reason), ...) for every site not used."""

    shipments: tuple[Shipment, ...]
    backordered: tuple[RouteLine, ...]
    rejected: tuple[tuple[str, str], ...]
    terms: tuple[Term, ...]
    explanation: str
    strategy: str = "one_package"
    service: str = "ground"
    destination_estimated: bool = False

    @property
    def split(self) -> bool:
        return len(self.shipments) > 1

    @property
    def promised_date(self) -> dt.date | None:
        """The order's promise: the latest shipment's date (None when nothing ships)."""
        return max((s.promised_date for s in self.shipments), default=None)

    def rejected_text(self) -> list[str]:
        return [f"{sid}: {reason}" for sid, reason in self.rejected]

    def to_dict(self) -> dict:
        return {
            "strategy": self.strategy, "service": self.service, "explanation": self.explanation,
            "destination_estimated": self.destination_estimated,
            "promised_date": self.promised_date.isoformat() if self.promised_date else None,
            "shipments": [s.to_dict() for s in self.shipments],
            "backordered": [{"line_id": ln.line_id, "sku": ln.sku, "qty": ln.qty} for ln in self.backordered],
            "rejected": [{"site_id": s, "reason": r} for s, r in self.rejected],
            "terms": [t.to_dict() for t in self.terms],
        }
