"""Fallback placement used until/unless ``central.routing.core.route`` is importable. Pure.

Prefers one site holding every line, else places each line at the site with most available.
Promise dates here are simple (business days per service); the routing package owns the real ones.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

TRANSIT_DAYS = {"overnight": 1, "two_day": 2, "ground": 5}
CARRIER = {"overnight": ("ups", "UPS Next Day Air"), "two_day": ("ups", "UPS 2nd Day Air"),
           "ground": ("ups", "UPS Ground")}


@dataclass(frozen=True)
class PlannedShipment:
    site_id: str
    service: str
    carrier: str
    carrier_service: str
    promised_date: str
    ship_by: str
    lines: tuple[tuple[str, str, int], ...]  # (line_id, sku, qty)


@dataclass(frozen=True)
class Plan:
    shipments: tuple[PlannedShipment, ...]
    unplaced: tuple[tuple[str, str, int], ...]
    log: dict = field(default_factory=dict)


def add_business_days(day: _dt.date, n: int) -> _dt.date:
    while n > 0:
        day += _dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def simple_plan(lines: list[tuple[str, str, int]], site_ids: list[str], available: dict[tuple[str, str], int],
                service: str, now: _dt.datetime) -> Plan:
    rejected = {}
    full = [s for s in site_ids if all(available.get((sku, s), 0) >= q for _, sku, q in lines)]
    assignment: dict[str, list[tuple[str, str, int]]] = {}
    unplaced = []
    if full:
        best = max(full, key=lambda s: (sum(available.get((sku, s), 0) for _, sku, _q in lines), s))
        assignment[best] = list(lines)
        reason = f"{best} holds every line"
    else:
        reason = "no single site holds every line; split by availability"
        for line in lines:
            _, sku, q = line
            cands = [s for s in site_ids if available.get((sku, s), 0) >= q]
            if cands:
                site = max(cands, key=lambda s: (available.get((sku, s), 0), s))
                assignment.setdefault(site, []).append(line)
            else:
                unplaced.append(line)
    for s in site_ids:
        if s not in assignment:
            rejected[s] = "not chosen"
    ship_day = now.date() if now.weekday() < 5 else add_business_days(now.date(), 1)
    promised = add_business_days(ship_day, TRANSIT_DAYS.get(service, 5))
    carrier, carrier_service = CARRIER.get(service, CARRIER["ground"])
    ship_by = _dt.datetime.combine(ship_day, _dt.time(17, 0), tzinfo=_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    shipments = tuple(PlannedShipment(site, service, carrier, carrier_service, promised.isoformat(), ship_by, tuple(ls))
                      for site, ls in sorted(assignment.items()))
    return Plan(shipments, tuple(unplaced), {"router": "fallback", "reason": reason, "rejected": rejected})
