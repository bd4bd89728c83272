"""Order routing: which site(s) ship an order, by which carrier service, promised when. Pure.

Contract (used by central intake)::

    route(request, sites, available, sku_weights_g, network, now, *,
          load=None, exclude=None, sku_volumes_cm3=None) -> Decision

- ``request``: ``RouteRequest`` (lines, destination country/postal code, service level, strategy).
- ``sites``: iterable of ``SiteInfo`` (the merchant's network; health already folded in).
- ``available``: mapping ``(sku, site_id) -> int`` allocatable units (after reservations and
  safety stock). Missing keys mean 0.
- ``sku_weights_g``: mapping ``sku -> grams`` per unit; a SKU missing here is an unknown SKU.
- ``network``: ``central.routing.core.geo.Network`` (levels, carrier services, ZIP/centroid tables).
- ``now``: aware datetime of the order.
- ``load``: optional ``site_id -> orders already assigned today`` (capacity check).
- ``exclude``: optional ``site_id -> reason`` to keep sites out (re-routing after a short pick...).
- ``sku_volumes_cm3``: optional ``sku -> cm^3`` per unit for dimensional weight.

Rules:
1. Candidates are sites that are active, healthy, serve the destination country, are under their
   daily capacity, are not excluded, can reach the destination with a carrier service meeting the
   requested service level, and hold at least one unit of the order. Every other site is listed in
   ``Decision.rejected`` with its reason ("EWR1: out of stock for SKU-12", "LAX1: stale 6 min").
2. Per site the cheapest carrier service whose transit days meet the level is chosen; its
   promise counts cut-offs, weekends and holidays (see ``promise``).
3. Sites rank by (promised date, cost, distance, site id).
4. ``one_package`` (default): fewest shipments first - a site holding every line wins even if a
   split would arrive earlier; otherwise greedily add the site covering the most remaining lines.
   ``speed``: the earliest promised date the network can make for the whole order first (a split
   beats a slower single package), then the fewest shipments among sites making that date.
5. Units no candidate holds are backordered (``Decision.backordered``), never dropped.
Raises ``InvalidRequest`` / ``UnknownSku`` / ``UnknownDestination`` for bad input.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping

from central.routing.core.carriers import CarrierService
from central.routing.core.errors import InvalidRequest, UnknownSku
from central.routing.core.geo import Destination, Network, haversine_km
from central.routing.core.model import Decision, RouteLine, RouteRequest, Shipment, SiteInfo, Term
from central.routing.core.promise import Promise, promise


class Option:
    """The best way one site can ship (part of) an order. Compared by identity."""

    __slots__ = ("site", "service", "zone", "transit", "promise", "cost", "km", "key", "stock")

    def __init__(self, site: SiteInfo, service: CarrierService, zone: str, transit: int, promise: Promise,
                 cost: float, km: float):
        self.site, self.service, self.zone, self.transit = site, service, zone, transit
        self.promise, self.cost, self.km = promise, cost, km
        self.key = (promise.promised_date, cost, round(km, 3), site.site_id)
        self.stock: dict[str, int] = {}   # sku -> units this site holds of the order's SKUs


def site_option(site: SiteInfo, dest: Destination, level, weight_g: int, volume_cm3: float,
                network: Network, now: dt.datetime, km: float | None = None) -> Option | None:
    """Cheapest carrier service from ``site`` meeting ``level`` (earliest promise on a price tie)."""
    if km is None:
        km = haversine_km(site.lat, site.lon, dest.lat, dest.lon)
    best: list[tuple[float, CarrierService, str, int]] = []
    rates = network.rates
    for svc in rates.by_scope[level.scope]:
        z = svc.zone_for(km)
        if z is None:
            continue
        days = svc.transit_days[z]
        if days > level.max_transit_days:
            continue
        price = svc.price(z, svc.billable_g(weight_g, volume_cm3))
        if price is None:
            continue
        best.append((price, svc, z, days))
    if not best:
        return None
    low = min(b[0] for b in best)
    chosen = None
    for price, svc, z, days in best:
        if price != low:
            continue
        p = promise(site, svc.service_class, days, now, rates.calendar(svc.carrier), network.urgent_window_min)
        opt = Option(site, svc, z, days, p, price, km)
        if chosen is None or (p.promised_date, svc.id) < (chosen.promise.promised_date, chosen.service.id):
            chosen = opt
    return chosen


def _demand(request: RouteRequest, sku_weights_g: Mapping[str, int]) -> dict[str, int]:
    demand: dict[str, int] = {}
    unknown = []
    for ln in request.lines:
        if ln.sku not in sku_weights_g:
            unknown.append(ln.sku)
        demand[ln.sku] = demand.get(ln.sku, 0) + ln.qty
    if unknown:
        raise UnknownSku(f"unknown SKU {', '.join(dict.fromkeys(unknown))}", {"sku": "unknown"})
    return demand


def stock_reason(demand: Mapping[str, int], stock: Mapping) -> str:
    """'' when the site holds every line, else e.g. 'out of stock for SKU-12; only 1 of 3 SKU-9'.

    ``stock`` maps sku -> units at this site."""
    out, short = [], []
    for sku, q in demand.items():
        a = stock.get(sku, 0)
        if a <= 0:
            out.append(sku)
        elif a < q:
            short.append(f"only {a} of {q} {sku}")
    parts = ([f"out of stock for {', '.join(out)}"] if out else []) + short
    return "; ".join(parts)


def _ineligible(site: SiteInfo, dest: Destination, load, exclude) -> str:
    if exclude and site.site_id in exclude:
        return exclude[site.site_id] or "excluded"
    if not site.active:
        return "inactive"
    if not site.healthy:
        return site.health_reason or "unhealthy"
    if not site.serves(dest.country):
        return f"does not serve {dest.country}"
    if site.capacity_per_day and load:
        n = load.get(site.site_id, 0)
        if n >= site.capacity_per_day:
            return f"at capacity ({n}/{site.capacity_per_day} orders today)"
    return ""


def _greedy(demand: Mapping[str, int], pool: list[Option]) -> tuple[list, dict]:
    """Fewest shipments greedily: repeatedly take the site covering the most remaining lines fully."""
    remaining = dict(demand)
    pool = list(pool)
    plan = []
    while remaining and pool:
        best = None
        for opt in pool:
            stock = opt.stock
            full = units = 0
            take = {}
            for sku, q in remaining.items():
                a = stock.get(sku, 0)
                if a > 0:
                    t = q if a >= q else a
                    take[sku] = t
                    units += t
                    full += t == q
            if not units:
                continue
            score = (-full, -units, opt.key)
            if best is None or score < best[0]:
                best = (score, opt, take)
        if best is None:
            break
        _, opt, take = best
        plan.append((opt, take))
        pool.remove(opt)
        for sku, t in take.items():
            left = remaining[sku] - t
            if left:
                remaining[sku] = left
            else:
                del remaining[sku]
    return _tidy(demand, plan), remaining


def _tidy(demand: Mapping[str, int], plan: list) -> list:
    """Re-spread quantities over the chosen sites so a line is only split when no chosen site holds it
    whole (the greedy pass may have taken part of a line from an early site). Sites left empty drop."""
    if len(plan) < 2:
        return plan
    takes: list[dict[str, int]] = [{} for _ in plan]
    for sku, q in demand.items():
        whole = next((i for i, (o, _) in enumerate(plan) if o.stock.get(sku, 0) >= q), None)
        if whole is not None:
            takes[whole][sku] = q
            continue
        for i, (o, _) in enumerate(plan):
            if q <= 0:
                break
            a = min(q, o.stock.get(sku, 0))
            if a > 0:
                takes[i][sku] = a
                q -= a
    return [(o, t) for (o, _), t in zip(plan, takes) if t]


def _covers(demand: Mapping[str, int], pool: list[Option]) -> bool:
    for sku, q in demand.items():
        if sum(o.stock.get(sku, 0) for o in pool) < q:
            return False
    return True


def _assign_lines(request: RouteRequest, takes: list[dict[str, int]]) -> tuple[list[tuple[RouteLine, ...]], tuple]:
    """Spread per-SKU quantities over the request's lines in order; leftovers are backordered lines."""
    left = {ln.line_id: ln.qty for ln in request.lines}
    out = []
    for take in takes:
        lines = []
        for sku, t in take.items():
            for ln in request.lines:
                if t <= 0:
                    break
                if ln.sku != sku or left[ln.line_id] <= 0:
                    continue
                q = min(t, left[ln.line_id])
                left[ln.line_id] -= q
                t -= q
                lines.append(RouteLine(ln.line_id, sku, q))
        out.append(tuple(lines))
    back = tuple(RouteLine(ln.line_id, ln.sku, left[ln.line_id]) for ln in request.lines if left[ln.line_id] > 0)
    return out, back


def route(request: RouteRequest, sites: Iterable[SiteInfo], available: Mapping, sku_weights_g: Mapping[str, int],
          network: Network, now: dt.datetime, *, load: Mapping[str, int] | None = None,
          exclude: Mapping[str, str] | None = None, sku_volumes_cm3: Mapping[str, float] | None = None,
          distances: Mapping[str, float] | None = None) -> Decision:
    """Route one order (see the module docstring for the contract and rules).

    ``distances`` (site_id -> km to this destination) lets a caller routing the same destination
    several times (checkout: once per service level) compute distances once.
    """
    if now.tzinfo is None:
        raise InvalidRequest("now must be a timezone-aware datetime")
    level = network.rates.levels.get(request.service)
    if level is None:
        raise InvalidRequest(f"service {request.service!r} unknown; use one of {', '.join(network.rates.levels)}",
                             {"service": "unknown"})
    dest = network.locate(request.country, request.postal_code)
    scope = network.scope_of(dest.country)
    if level.scope != scope and scope == "international" and level.name == "ground":
        # a standard ("ground") order abroad travels as the standard international service
        level = next((lv for lv in network.rates.levels.values() if lv.scope == scope), level)
    if level.scope != scope:
        raise InvalidRequest(f"service {level.name} is {level.scope} only; {dest.country} is an {scope} destination",
                             {"service": f"not available to {dest.country}"})
    demand = _demand(request, sku_weights_g)
    vols = sku_volumes_cm3 or {}
    weight = sum(int(sku_weights_g[s]) * q for s, q in demand.items())
    volume = sum(float(vols.get(s, 0)) * q for s, q in demand.items())
    if isinstance(sites, Mapping):
        sites = sites.values()

    rejected: list[tuple[str, str]] = []
    opts: list[Option] = []
    holds_all: dict[str, bool] = {}
    held: dict[str, int] = {}
    all_out = f"out of stock for {', '.join(demand)}"
    items = list(demand.items())
    holders: list[tuple[SiteInfo, dict[str, int], int]] = []
    for site in sites:
        sid = site.site_id
        why = _ineligible(site, dest, load, exclude)
        if why:
            rejected.append((sid, why))
            continue
        full = 0
        stock = {}
        for sku, q in items:
            a = available.get((sku, sid), 0)
            if a > 0:
                stock[sku] = a
                full += a >= q
        if not stock:
            rejected.append((sid, all_out))
            continue
        holders.append((site, stock, full))

    def evaluate(group) -> None:
        for site, stock, full in group:
            sid = site.site_id
            opt = site_option(site, dest, level, weight, volume, network, now,
                              km=distances.get(sid) if distances is not None else None)
            if opt is None:
                rejected.append((sid, f"no {level.name} carrier service reaches {dest.country} "
                                      f"{dest.postal_code}".rstrip()))
                continue
            opt.stock = stock
            opts.append(opt)
            held[sid] = full
            holds_all[sid] = full == len(items)

    if request.strategy == "one_package":
        # one package first: when some site holds every line, sites holding only part of the
        # order cannot win, so only the whole-order holders are scored
        whole = [h for h in holders if h[2] == len(items)]
        evaluate(whole)
        if opts:
            rejected.extend((site.site_id, stock_reason(demand, stock)) for site, stock, full in holders
                            if full != len(items))
        else:
            evaluate([h for h in holders if h[2] != len(items)])
    else:
        evaluate(holders)

    plan, remaining = _greedy(demand, opts)
    note = ""
    if request.strategy == "speed" and opts:
        for day in sorted({o.promise.promised_date for o in opts}):
            pool = [o for o in opts if o.promise.promised_date <= day]
            if _covers(demand, pool):
                fast, fast_left = _greedy(demand, pool)
                if len(fast) > len(plan):
                    note = f"speed: split into {len(fast)} to arrive by {day.isoformat()}"
                plan, remaining = fast, fast_left
                break

    line_sets, backordered = _assign_lines(request, [take for _, take in plan])
    shipments = []
    for (opt, take), lines in zip(plan, line_sets):
        w = sum(int(sku_weights_g[s]) * q for s, q in take.items())
        v = sum(float(vols.get(s, 0)) * q for s, q in take.items())
        final = site_option(opt.site, dest, level, w, v, network, now, km=opt.km) or opt
        p = final.promise
        shipments.append(Shipment(
            site_id=opt.site.site_id, lines=lines, service=final.service.service_class,
            carrier=final.service.carrier, ship_date=p.ship_date, promised_date=p.promised_date,
            cost=final.cost, urgent=p.urgent, carrier_service=final.service.id, ship_by=p.ship_by,
            distance_km=round(final.km, 1), zone=final.zone, transit_days=final.transit, weight_g=w))

    chosen = {s.site_id for s in shipments}
    lead = plan[0][0] if plan else None
    for opt in opts:
        sid = opt.site.site_id
        if sid in chosen:
            continue
        rejected.append((sid, _not_chosen_reason(opt, lead, holds_all[sid], demand, len(plan))))

    terms = tuple(Term(site_id=o.site.site_id, carrier_service=o.service.id, ship_date=o.promise.ship_date,
                       promised_date=o.promise.promised_date, cost=o.cost, distance_km=round(o.km, 1),
                       lines_held=held[o.site.site_id],
                       lines_total=len(demand), after_cutoff=o.promise.after_cutoff,
                       chosen=o.site.site_id in chosen) for o in sorted(opts, key=lambda o: o.key))
    explanation = _explain(request, shipments, backordered, plan, holds_all, note)
    return Decision(shipments=tuple(shipments), backordered=backordered, rejected=tuple(rejected), terms=terms,
                    explanation=explanation, strategy=request.strategy, service=level.name,
                    destination_estimated=dest.estimated)


def _not_chosen_reason(opt: Option, lead: Option | None, holds_all: bool, demand, n_ship: int) -> str:
    if not holds_all and n_ship <= 1:
        return stock_reason(demand, opt.stock)
    if lead is None:
        return "not needed"
    p, lp = opt.promise, lead.promise
    if holds_all and n_ship > 1:
        return f"slower single package (promise {p.promised_date.isoformat()} vs {lp.promised_date.isoformat()})"
    if not holds_all:
        return f"not needed for the split; {stock_reason(demand, opt.stock)}"
    if p.after_cutoff and p.promised_date > lp.promised_date:
        return f"after cut-off (ships {p.ship_date.isoformat()}, promise {p.promised_date.isoformat()})"
    if p.promised_date > lp.promised_date:
        return f"later promise {p.promised_date.isoformat()} vs {lp.promised_date.isoformat()}"
    if opt.cost > lead.cost:
        return f"costlier {opt.cost:.2f} vs {lead.cost:.2f}"
    return f"farther {opt.km:.0f} km vs {lead.km:.0f} km"


def _explain(request, shipments, backordered, plan, holds_all, note) -> str:
    parts = []
    if len(shipments) == 1:
        s = shipments[0]
        parts.append(f"{s.site_id} ships all {len(s.lines)} line(s)" if not backordered
                     else f"{s.site_id} ships {len(s.lines)} line(s)")
    elif shipments:
        why = note or "no single site holds every line"
        parts.append(f"split into {len(shipments)} shipments ({why}): " + ", ".join(s.site_id for s in shipments))
    for s in shipments:
        parts.append(f"{s.site_id}: {s.carrier_service} ships {s.ship_date.isoformat()} promise "
                     f"{s.promised_date.isoformat()} cost {s.cost:.2f} {s.distance_km:.0f} km"
                     + (" URGENT" if s.urgent else ""))
    if backordered:
        parts.append("backordered " + ", ".join(f"{b.sku} x{b.qty}" for b in backordered)
                     + ": no eligible site has the stock")
    return f"[{request.strategy}] " + "; ".join(parts)


def reroute(lines: Iterable[RouteLine], original: RouteRequest, sites: Iterable[SiteInfo], available: Mapping,
            sku_weights_g: Mapping[str, int], network: Network, now: dt.datetime, *,
            exclude: Mapping[str, str] | None = None, **kwargs) -> Decision:
    """Route the unpicked ``lines`` of ``original`` again (short pick, site gone stale...).

    ``exclude`` keeps e.g. the shorting or stale site out with its reason ("EWR1: short pick").
    Same destination, service and strategy; the result's rejected list explains every site.
    """
    req = RouteRequest(merchant_id=original.merchant_id, lines=tuple(lines), country=original.country,
                       postal_code=original.postal_code, service=original.service, strategy=original.strategy)
    return route(req, sites, available, sku_weights_g, network, now, exclude=exclude, **kwargs)
