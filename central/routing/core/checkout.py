"""Checkout delivery options and network coverage. Pure.

``checkout_options`` answers "which services can we offer this shopper, by when, at what cost"
from memory-resident data by routing the basket once per service level: a level is offered only
when the network can keep it (every unit placed with sites whose carrier service meets the
level; nothing backordered). A level that arrives no sooner and costs no less than one listed
before it is folded away (reported in ``unavailable``). International destinations only get
international levels, so they never see a domestic two-day promise.

``coverage`` is the share of US ZIP3 areas a site set reaches within N business days of transit by
a service class (ground by default), from each area's centroid.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Mapping

from central.routing.core.errors import InvalidRequest
from central.routing.core.geo import Network, haversine_km
from central.routing.core.model import RouteLine, RouteRequest, SiteInfo
from central.routing.core.router import route


MAX_LINES = 200
MAX_QTY = 100_000


@dataclass(frozen=True)
class RoutingSnapshot:
    """What checkout needs from central for one merchant, read from memory-resident data."""

    sites: tuple[SiteInfo, ...]
    available: Mapping                       # (sku, site_id) -> allocatable units
    sku_weights_g: Mapping[str, int]
    sku_volumes_cm3: Mapping[str, float] | None = None


@dataclass(frozen=True)
class CheckoutQuery:
    country: str
    postal_code: str
    items: tuple[tuple[str, int], ...]
    strategy: str = "one_package"


def parse_checkout_body(body) -> CheckoutQuery:
    """Validate ``{"ship_to": {"country", "postal_code"}, "lines": [{"sku", "qty"}], "strategy"?}``."""
    if not isinstance(body, Mapping):
        raise InvalidRequest("request body must be a JSON object", {"body": "must be an object"})
    errs: dict[str, str] = {}
    ship_to = body.get("ship_to")
    if not isinstance(ship_to, Mapping):
        errs["ship_to"] = "required object with country and postal_code"
        ship_to = {}
    country = ship_to.get("country", "US") if ship_to else ""
    postal = ship_to.get("postal_code", "")
    if not isinstance(country, str) or len(country.strip()) != 2:
        errs["ship_to.country"] = "must be an ISO 3166 alpha-2 code"
    if not isinstance(postal, str) or len(postal) > 20:
        errs["ship_to.postal_code"] = "must be a string of at most 20 characters"
    lines = body.get("lines")
    items: dict[str, int] = {}
    if not isinstance(lines, list) or not lines:
        errs["lines"] = "must be a non-empty list of {sku, qty}"
    elif len(lines) > MAX_LINES:
        errs["lines"] = f"at most {MAX_LINES} lines"
    else:
        for i, ln in enumerate(lines):
            sku = ln.get("sku") if isinstance(ln, Mapping) else None
            qty = ln.get("qty", 1) if isinstance(ln, Mapping) else None
            if not isinstance(sku, str) or not sku.strip() or len(sku) > 64:
                errs[f"lines[{i}].sku"] = "required string of at most 64 characters"
                continue
            if isinstance(qty, bool) or not isinstance(qty, int) or not 0 < qty <= MAX_QTY:
                errs[f"lines[{i}].qty"] = f"must be an integer 1-{MAX_QTY}"
                continue
            items[sku] = items.get(sku, 0) + qty
    strategy = body.get("strategy", "one_package")
    if strategy not in ("one_package", "speed"):
        errs["strategy"] = "must be one_package or speed"
    if errs:
        raise InvalidRequest("invalid checkout request: " + "; ".join(f"{k} {v}" for k, v in errs.items()), errs)
    return CheckoutQuery(country.strip().upper(), postal.strip(), tuple(items.items()), strategy)


@dataclass(frozen=True)
class CheckoutOption:
    service: str
    label: str
    promised_date: dt.date
    price: float
    shipments: int
    carriers: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"service": self.service, "label": self.label, "promised_date": self.promised_date.isoformat(),
                "price": self.price, "shipments": self.shipments, "carriers": list(self.carriers)}


@dataclass(frozen=True)
class CheckoutAnswer:
    options: tuple[CheckoutOption, ...]
    unavailable: tuple[tuple[str, str], ...]   # (service, why not offered)
    destination_estimated: bool

    def to_dict(self) -> dict:
        return {"options": [o.to_dict() for o in self.options],
                "unavailable": [{"service": s, "reason": r} for s, r in self.unavailable],
                "destination_estimated": self.destination_estimated}


def checkout_options(country: str, postal_code: str, items: Iterable[tuple[str, int]], sites: Iterable[SiteInfo],
                     available: Mapping, sku_weights_g: Mapping[str, int], network: Network, now: dt.datetime, *,
                     merchant_id: str = "", strategy: str = "one_package",
                     sku_volumes_cm3: Mapping[str, float] | None = None) -> CheckoutAnswer:
    """Service options (earliest first) for a basket; raises InvalidRequest/UnknownSku/UnknownDestination."""
    lines = tuple(RouteLine(str(i + 1), sku, qty) for i, (sku, qty) in enumerate(items))
    dest = network.locate(country, postal_code)
    scope = network.scope_of(dest.country)
    sites = list(sites.values() if isinstance(sites, Mapping) else sites)
    options, unavailable = [], []
    distances = {s.site_id: haversine_km(s.lat, s.lon, dest.lat, dest.lon) for s in sites}
    levels = [lv for lv in network.rates.levels.values() if lv.scope == scope]
    if not levels:
        raise InvalidRequest(f"no service level serves {dest.country}", {"country": "not served"})
    for lv in levels:
        req = RouteRequest(merchant_id=merchant_id, lines=lines, country=dest.country, postal_code=dest.postal_code,
                           service=lv.name, strategy=strategy)
        d = route(req, sites, available, sku_weights_g, network, now, sku_volumes_cm3=sku_volumes_cm3,
                  distances=distances)
        if d.backordered or not d.shipments:
            unreachable = [r for _, r in d.rejected if "carrier service reaches" in r]
            if not d.shipments and unreachable:
                why = unreachable[0]
            else:
                why = "not enough stock within reach of this service for " + ", ".join(
                    dict.fromkeys(b.sku for b in d.backordered))
            unavailable.append((lv.name, why))
            continue
        options.append(CheckoutOption(
            service=lv.name, label=lv.label, promised_date=d.promised_date,
            price=round(sum(s.cost for s in d.shipments), 2), shipments=len(d.shipments),
            carriers=tuple(dict.fromkeys(s.carrier_service for s in d.shipments))))
    # A level that arrives no sooner and costs no less than a level listed before it adds nothing
    # for the shopper (e.g. "overnight" served by 1-day ground next to a site): fold it away.
    kept: list[CheckoutOption] = []
    for o in options:
        better = next((k for k in kept if k.promised_date <= o.promised_date and k.price <= o.price), None)
        if better is not None:
            unavailable.append((o.service, f"no faster than {better.service} ({better.promised_date.isoformat()}, "
                                           f"{better.price:.2f})"))
            continue
        kept.append(o)
    kept.sort(key=lambda o: (o.promised_date, o.price))
    return CheckoutAnswer(tuple(kept), tuple(unavailable), dest.estimated)


@dataclass(frozen=True)
class Coverage:
    areas: int
    reached: int
    share: float                 # reached / areas (every ZIP3 counts once)
    weighted_share: float        # weighted by the area's weight (number of ZIP codes; no population data)
    per_site: Mapping[str, int]  # ZIP3 areas for which the site is the nearest reaching site

    def to_dict(self) -> dict:
        return {"areas": self.areas, "reached": self.reached, "share": self.share,
                "weighted_share": self.weighted_share, "per_site": dict(self.per_site)}


def coverage(sites: Iterable[SiteInfo], areas: Mapping[str, tuple[float, float, int]], network: Network, *,
             service_class: str = "ground", max_days: int = 2) -> Coverage:
    """Share of ``areas`` (ZIP3 -> (lat, lon, weight)) some site reaches within ``max_days`` transit days.

    Uses the carrier services of ``service_class`` (domestic); inactive sites do not count.
    """
    svcs = [s for s in network.rates.services if s.service_class == service_class and s.scope == "domestic"]
    if not svcs:
        raise InvalidRequest(f"no domestic carrier service of class {service_class!r}")

    def reaches(km: float) -> bool:
        for svc in svcs:
            z = svc.zone_for(km)
            if z is not None and svc.transit_days[z] <= max_days:
                return True
        return False

    live = [s for s in sites if s.active]
    reached = 0
    w_total = w_reached = 0.0
    per_site: dict[str, int] = {s.site_id: 0 for s in live}
    for lat, lon, weight in areas.values():
        w_total += weight
        best = None
        for s in live:
            km = haversine_km(s.lat, s.lon, lat, lon)
            if (best is None or km < best[0]) and reaches(km):
                best = (km, s.site_id)
        if best:
            reached += 1
            w_reached += weight
            per_site[best[1]] += 1
    n = len(areas)
    return Coverage(n, reached, round(reached / n, 4) if n else 0.0,
                    round(w_reached / w_total, 4) if w_total else 0.0, per_site)
