"""Carrier services as data: service levels, zones from distance bands, transit days, rates. Pure.

``parse_rate_card(data)`` turns the parsed rate file (a dict, e.g. from TOML) into a validated
``RateCard`` or raises ``NetworkDataError`` naming the first problem (gaps in distance bands, a
zone without transit days or prices, a short weight-break row, negative or non-numeric prices,
weight breaks not increasing, unknown service level...). Nothing is half-loaded.

Rate file shape::

    [levels.two_day]              # what an order/checkout may ask for
    max_transit_days = 2
    scope = "domestic"            # or "international"
    label = "Two-day"

    [carriers.ups]                # pickup/delivery holidays of a carrier
    holiday_country = "US"
    holidays = ["New Year's Day", "Thanksgiving Day", "Christmas Day"]
    closed = ["2026-12-24"]

    [[services]]
    id = "ups_ground"; carrier = "ups"; class = "ground"; name = "UPS Ground"; scope = "domestic"
    dim_divisor = 5000            # cm^3 per kg; billable = max(actual, volume / divisor); 0 = none
    max_weight_g = 68000
    bands = [[0, 250, "2"], [250, 800, "3"]]   # [min_km, max_km, zone], contiguous from 0
    transit_days = { "2" = 1, "3" = 2 }
    rate_zones = ["2", "3"]
    rates = [[1000, 8.10, 8.60], [5000, 10.40, 11.20]]   # [max_weight_g, price per rate_zone...]
"""
from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from central.routing.core.errors import NetworkDataError
from central.routing.core.promise import CarrierCalendar

SCOPES = ("domestic", "international")
CLASSES = ("ground", "two_day", "overnight", "international")


@dataclass(frozen=True)
class ServiceLevel:
    name: str
    max_transit_days: int
    scope: str = "domestic"
    label: str = ""


@dataclass(frozen=True)
class CarrierService:
    id: str
    carrier: str
    service_class: str
    name: str
    scope: str
    bands: tuple[tuple[float, float, str], ...]
    transit_days: Mapping[str, int]
    weight_breaks: tuple[int, ...]
    prices: Mapping[str, tuple[float, ...]]   # zone -> price per weight break
    dim_divisor: float = 0.0
    max_weight_g: int = 0
    _band_max: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def zone_for(self, km: float) -> str | None:
        """Zone for a distance, None when beyond the last band (service does not reach)."""
        i = bisect.bisect_left(self._band_max, km)
        return self.bands[i][2] if i < len(self.bands) else None

    def billable_g(self, actual_g: int, volume_cm3: float = 0.0) -> int:
        if self.dim_divisor > 0 and volume_cm3 > 0:
            return max(int(actual_g), int(round(volume_cm3 / self.dim_divisor * 1000)))
        return int(actual_g)

    def price(self, zone: str, billable_g: int) -> float | None:
        """Price for a billable weight in a zone; None when over the heaviest weight break."""
        i = bisect.bisect_left(self.weight_breaks, billable_g)
        if i >= len(self.weight_breaks) or (self.max_weight_g and billable_g > self.max_weight_g):
            return None
        return self.prices[zone][i]


@dataclass(frozen=True, eq=False)
class RateCard:
    levels: Mapping[str, ServiceLevel]
    services: tuple[CarrierService, ...]
    carriers: Mapping[str, CarrierCalendar]
    source: str = ""

    @cached_property
    def by_scope(self) -> Mapping[str, tuple[CarrierService, ...]]:
        return {sc: tuple(s for s in self.services if s.scope == sc) for sc in SCOPES}

    def calendar(self, carrier: str) -> CarrierCalendar:
        return self.carriers.get(carrier) or CarrierCalendar(carrier=carrier)


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NetworkDataError(f"{where}: {value!r} is not a number")
    return float(value)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise NetworkDataError(f"{where}: {value!r} is not an integer")
    return value


def _service(raw: Mapping, idx: int, levels: Mapping[str, ServiceLevel]) -> CarrierService:
    sid = raw.get("id") or f"services[{idx}]"
    where = f"service {sid}"
    for key in ("id", "carrier", "class", "bands", "transit_days", "rate_zones", "rates"):
        if key not in raw:
            raise NetworkDataError(f"{where}: missing {key!r}")
    cls = raw["class"]
    if cls not in CLASSES:
        raise NetworkDataError(f"{where}: class {cls!r} unknown; use one of {', '.join(CLASSES)}")
    scope = raw.get("scope", "international" if cls == "international" else "domestic")
    if scope not in SCOPES:
        raise NetworkDataError(f"{where}: scope {scope!r} unknown; use domestic or international")
    bands = []
    prev_max = 0.0
    if not raw["bands"]:
        raise NetworkDataError(f"{where}: bands is empty")
    for i, b in enumerate(raw["bands"]):
        if not isinstance(b, (list, tuple)) or len(b) != 3:
            raise NetworkDataError(f"{where}: band {i} must be [min_km, max_km, zone]")
        lo, hi, z = _num(b[0], f"{where} band {i} min_km"), _num(b[1], f"{where} band {i} max_km"), str(b[2])
        if lo != prev_max:
            raise NetworkDataError(f"{where}: gap in distance bands between {prev_max:g} and {lo:g} km")
        if hi <= lo:
            raise NetworkDataError(f"{where}: band {i} max_km {hi:g} must exceed min_km {lo:g}")
        bands.append((lo, hi, z))
        prev_max = hi
    zones = {z for _, _, z in bands}
    transit = {}
    for z in sorted(zones):
        if z not in raw["transit_days"]:
            raise NetworkDataError(f"{where}: zone {z} has no transit_days")
        days = _int(raw["transit_days"][z], f"{where} transit_days[{z}]")
        if days < 0 or days > 30:
            raise NetworkDataError(f"{where}: transit_days[{z}] = {days} out of range 0-30")
        transit[z] = days
    rate_zones = [str(z) for z in raw["rate_zones"]]
    if len(set(rate_zones)) != len(rate_zones):
        raise NetworkDataError(f"{where}: rate_zones has duplicates")
    missing = sorted(zones - set(rate_zones))
    if missing:
        raise NetworkDataError(f"{where}: gap in rates: zone {missing[0]} has no price column")
    breaks: list[int] = []
    cols: dict[str, list[float]] = {z: [] for z in rate_zones}
    if not raw["rates"]:
        raise NetworkDataError(f"{where}: rates is empty")
    for r, row in enumerate(raw["rates"]):
        if not isinstance(row, (list, tuple)) or not row:
            raise NetworkDataError(f"{where}: rates row {r} must be [max_weight_g, prices...]")
        wb = _int(row[0], f"{where} rates row {r} max_weight_g")
        if breaks and wb <= breaks[-1]:
            raise NetworkDataError(f"{where}: weight breaks must increase ({wb} g after {breaks[-1]} g)")
        if wb <= 0:
            raise NetworkDataError(f"{where}: weight break {wb} g must be > 0")
        if len(row) - 1 != len(rate_zones):
            raise NetworkDataError(f"{where}: gap in rates: row {wb} g has {len(row) - 1} prices for "
                                   f"{len(rate_zones)} zones")
        breaks.append(wb)
        for z, p in zip(rate_zones, row[1:]):
            price = _num(p, f"{where} rate {wb} g zone {z}")
            if price < 0:
                raise NetworkDataError(f"{where}: negative price {price:g} at {wb} g zone {z}")
            cols[z].append(round(price, 2))
    dim = _num(raw.get("dim_divisor", 0), f"{where} dim_divisor")
    if dim < 0:
        raise NetworkDataError(f"{where}: dim_divisor must be >= 0")
    max_w = _int(raw.get("max_weight_g", 0), f"{where} max_weight_g")
    return CarrierService(
        id=str(raw["id"]), carrier=str(raw["carrier"]), service_class=cls, name=str(raw.get("name", raw["id"])),
        scope=scope, bands=tuple(bands), transit_days=transit, weight_breaks=tuple(breaks),
        prices={z: tuple(v) for z, v in cols.items()}, dim_divisor=dim, max_weight_g=max_w,
        _band_max=tuple(hi for _, hi, _ in bands),
    )


def parse_rate_card(data: Mapping, source: str = "") -> RateCard:
    """Validate and build a RateCard from parsed rate-file data; NetworkDataError on any problem."""
    if not isinstance(data, Mapping):
        raise NetworkDataError("rate file must be a table")
    levels = {}
    for name, raw in (data.get("levels") or {}).items():
        days = _int(raw.get("max_transit_days"), f"level {name} max_transit_days")
        if days < 0:
            raise NetworkDataError(f"level {name}: max_transit_days must be >= 0")
        scope = raw.get("scope", "domestic")
        if scope not in SCOPES:
            raise NetworkDataError(f"level {name}: scope {scope!r} unknown")
        levels[name] = ServiceLevel(name, days, scope, str(raw.get("label", name)))
    if not levels:
        raise NetworkDataError("rate file defines no service levels ([levels.<name>])")
    carriers = {}
    for name, raw in (data.get("carriers") or {}).items():
        try:
            closed = frozenset(dt.date.fromisoformat(str(d)) for d in raw.get("closed", ()))
        except ValueError as exc:
            raise NetworkDataError(f"carrier {name}: closed dates must be YYYY-MM-DD") from exc
        carriers[name] = CarrierCalendar(carrier=name, country=str(raw.get("holiday_country", "US")),
                                         names=tuple(raw.get("holidays", ())), dates=closed)
    services = []
    seen = set()
    for i, raw in enumerate(data.get("services") or ()):
        svc = _service(raw, i, levels)
        if svc.id in seen:
            raise NetworkDataError(f"service {svc.id}: duplicate id")
        seen.add(svc.id)
        services.append(svc)
    if not services:
        raise NetworkDataError("rate file defines no carrier services ([[services]])")
    for name, lvl in levels.items():
        if not any(s.scope == lvl.scope for s in services):
            raise NetworkDataError(f"level {name}: no {lvl.scope} carrier service can serve it")
    return RateCard(levels=levels, services=tuple(services), carriers=carriers, source=source)
