"""Network simulation: replay an order history against a network configuration. Pure.

Each order is routed with ``route`` at its own timestamp; chosen units are taken from the
simulated stock (reset to the starting levels at the start of each UTC day when
``replenish_daily``), and each site's orders per day count against its capacity.

Reported: share of orders promised within 2 business days of placement (every shipment's
promised date no more than 2 business days after the order's local date at its shipping site,
skipping weekends and holidays; a backordered order does not count as within), average shipping
cost per shipped order, split rate (orders with more than one shipment), orders per site,
backorder count, and orders refused as bad input (e.g. unknown ZIP) with the reason.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from central.routing.core.errors import RoutingError
from central.routing.core.geo import Network
from central.routing.core.model import RouteRequest, SiteInfo
from central.routing.core.promise import business_days_between, is_business_day
from central.routing.core.router import route


@dataclass(frozen=True)
class SimOrder:
    order_id: str
    placed_at: dt.datetime
    request: RouteRequest


@dataclass
class SimReport:
    name: str = "baseline"
    orders: int = 0
    shipped: int = 0                 # orders with at least one shipment
    within_2bd: int = 0
    split: int = 0
    backordered: int = 0             # orders with any backordered line
    total_cost: float = 0.0
    per_site: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)   # (order_id, message)

    @property
    def share_within_2bd(self) -> float:
        ok = self.orders - len(self.errors)
        return round(self.within_2bd / ok, 4) if ok else 0.0

    @property
    def avg_cost(self) -> float:
        return round(self.total_cost / self.shipped, 2) if self.shipped else 0.0

    @property
    def split_rate(self) -> float:
        return round(self.split / self.shipped, 4) if self.shipped else 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "orders": self.orders, "shipped": self.shipped,
                "share_within_2bd": self.share_within_2bd, "avg_cost": self.avg_cost,
                "split_rate": self.split_rate, "backordered": self.backordered,
                "orders_per_site": dict(sorted(self.per_site.items())), "errors": len(self.errors),
                "total_cost": round(self.total_cost, 2)}


def replay(orders: Iterable[SimOrder], sites: Iterable[SiteInfo], stock: Mapping[tuple[str, str], int],
           sku_weights_g: Mapping[str, int], network: Network, *, name: str = "baseline",
           replenish_daily: bool = True) -> SimReport:
    sites = list(sites)
    by_id = {s.site_id: s for s in sites}
    rep = SimReport(name=name, per_site={s.site_id: 0 for s in sites})
    current: dict = dict(stock)
    day = None
    load: dict[str, int] = {}
    for o in sorted(orders, key=lambda o: (o.placed_at, o.order_id)):
        rep.orders += 1
        today = o.placed_at.astimezone(dt.timezone.utc).date()
        if today != day:
            day, load = today, {}
            if replenish_daily:
                current = dict(stock)
        try:
            d = route(o.request, sites, current, sku_weights_g, network, o.placed_at, load=load)
        except RoutingError as exc:
            rep.errors.append((o.order_id, exc.message))
            continue
        if d.backordered:
            rep.backordered += 1
        if not d.shipments:
            continue
        rep.shipped += 1
        rep.split += len(d.shipments) > 1
        within = not d.backordered
        for s in d.shipments:
            rep.total_cost += s.cost
            rep.per_site[s.site_id] = rep.per_site.get(s.site_id, 0) + 1
            load[s.site_id] = load.get(s.site_id, 0) + 1
            for ln in s.lines:
                current[(ln.sku, s.site_id)] = current.get((ln.sku, s.site_id), 0) - ln.qty
            site = by_id[s.site_id]
            placed_local = o.placed_at.astimezone(site.tz).date()
            if business_days_between(placed_local, s.promised_date, lambda x: is_business_day(x, site)) > 2:
                within = False
        rep.within_2bd += within
    return rep
