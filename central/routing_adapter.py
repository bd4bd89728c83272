"""Bridge from central's rows to ``central.routing.core.route`` (the routing package's contract).

Central builds ``SiteInfo`` snapshots from its site rows (health folded into ``healthy`` /
``health_reason`` by ``central.routing.core.health.site_health``: "stale 6 min", "no working label
printer", "sync lag 1200 s over 900 s"; capacity and closures from the row), calls ``route`` and turns the ``Decision`` into the ``Plan`` the allocator
reserves against. Routing input errors (unknown ZIP, unknown country, service not offered) become
``ValidationFailed`` naming the ``ship_to`` field.
"""
from __future__ import annotations

import datetime as _dt
import json
import threading
import time
from typing import Any, Callable

from central.core.plan import Plan, PlannedShipment
from central.errors import ValidationFailed

VOLUME_CACHE_S = 60.0   # SKU dimensions are re-read at most this long after a change
LOAD_CACHE_S = 5.0      # a capacity-limited site's orders today are re-counted from the store this often

_FIELD_MAP = {"postal_code": "ship_to.postal_code", "country": "ship_to.country", "service": "service"}


def _iso_z(value: _dt.datetime | None, fallback_day: _dt.date) -> str:
    if value is None:
        value = _dt.datetime.combine(fallback_day, _dt.time(17, 0), tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _local_midnight_utc(site, now: _dt.datetime) -> str:
    """Start of the site's local day as central's created_at text (ISO UTC, microseconds, Z)."""
    local = now.astimezone(site.tz)
    start = _dt.datetime.combine(local.date(), _dt.time(0, 0), tzinfo=site.tz).astimezone(_dt.timezone.utc)
    return start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_router(network: Any = None, store: Any = None) -> Callable[..., Plan]:
    """A router callable over the routing package (``central.routing.core.route``).

    ``network``: a ``Network``, a provider callable (``central.routing.network.NetworkProvider``) or
    None for the process-wide ``default_provider()`` the checkout API also uses, so a rate reload
    reaches both. ``store`` (a ``CentralStore``): when given, each route also reads today's
    fulfillment orders per capacity-limited site (``load``) and the SKUs' dimensions
    (``sku_volumes_cm3``, cached ``VOLUME_CACHE_S``) on a read connection. The count is re-read at
    most every ``LOAD_CACHE_S`` per site; in between, this process adds the shipments it planned (so a
    plan whose transaction later rolls back counts until the next re-read). Site closures come from
    the site rows.
    """
    from central.routing.core import Network, RouteLine, RouteRequest, RoutingError, route
    from central.routing.network import NetworkProvider, default_provider, site_info_builder

    if network is None:
        provider = default_provider()
    elif isinstance(network, Network):
        provider = NetworkProvider(network)
    else:
        provider = network
    site_info = site_info_builder()
    volume_cache: dict[tuple[str, str], tuple[float, float | None]] = {}   # (merchant, sku) -> (read at, cm^3)
    load_cache: dict[str, list] = {}   # site_id -> [read at (monotonic), since (ISO), orders today]
    lock = threading.Lock()
    last_infos: list = [None]   # (sites list, max lag, now, SiteInfo list) of the last route

    def store_facts(merchant_id: str, infos, skus: set[str], now: _dt.datetime):
        """(load, volumes) from central's store; ({}, {}) without a store."""
        if store is None:
            return None, None
        since = {i.site_id: _local_midnight_utc(i, now) for i in infos if i.capacity_per_day}
        mono = time.monotonic()
        with lock:
            missing = {sku for sku in skus
                       if volume_cache.get((merchant_id, sku), (-1e18, None))[0] < mono - VOLUME_CACHE_S}
            recount = {sid: t for sid, t in since.items()
                       if sid not in load_cache or load_cache[sid][0] < mono - LOAD_CACHE_S or load_cache[sid][1] != t}
        if recount or missing:
            with store.read() as conn:
                counted = store.fo_counts_since(conn, recount) if recount else {}
                found = store.sku_volumes_cm3(conn, merchant_id, missing) if missing else {}
            with lock:
                if len(volume_cache) > 200_000:
                    volume_cache.clear()
                volume_cache.update({(merchant_id, sku): (mono, found.get(sku)) for sku in missing})
                load_cache.update({sid: [mono, t, counted.get(sid, 0)] for sid, t in recount.items()})
        with lock:
            volumes = {sku: volume_cache.get((merchant_id, sku), (0, None))[1] for sku in skus}
            load = {sid: load_cache[sid][2] for sid in since if sid in load_cache}
        return load, {k: v for k, v in volumes.items() if v}

    def count_planned(decision) -> None:
        with lock:
            for shipment in decision.shipments:
                hit = load_cache.get(shipment.site_id)
                if hit is not None:
                    hit[2] += 1

    def router(*, order: dict, lines, sites, available, weights, now, max_sync_lag_s) -> Plan:
        ship_to = order.get("_ship_to") or (json.loads(order["ship_to"]) if isinstance(order["ship_to"], str)
                                            else order["ship_to"])
        try:
            req = RouteRequest(merchant_id=order["merchant_id"],
                               lines=tuple(RouteLine(line_id, sku, qty) for line_id, sku, qty in lines),
                               country=ship_to["country"], postal_code=ship_to.get("postal_code") or "",
                               service=order["service"], strategy=order.get("strategy") or "one_package")
            memo = last_infos[0]   # the orders of one intake batch share the site list and the clock
            if memo is not None and memo[0] is sites and memo[1] == max_sync_lag_s and memo[2] == now:
                infos = memo[3]
            else:
                infos = [site_info(s, max_sync_lag_s, now) for s in sites]
                last_infos[0] = (sites, max_sync_lag_s, now, infos)
            load, volumes = store_facts(order["merchant_id"], infos, {ln.sku for ln in req.lines}, now)
            decision = route(req, infos, available, weights, provider(), now, load=load, sku_volumes_cm3=volumes)
            count_planned(decision)
        except RoutingError as exc:
            fields = {_FIELD_MAP.get(k, k): v for k, v in (exc.fields or {}).items()} or {"ship_to": exc.message}
            raise ValidationFailed(exc.message, {k: exc.message for k in fields}) from exc
        shipments = tuple(
            PlannedShipment(site_id=s.site_id, service=order["service"], carrier=s.carrier,
                            carrier_service=s.carrier_service, promised_date=s.promised_date.isoformat(),
                            ship_by=_iso_z(s.ship_by, s.ship_date),
                            lines=tuple((ln.line_id, ln.sku, ln.qty) for ln in s.lines))
            for s in decision.shipments)
        log = decision.to_dict()
        log["router"] = "central.routing"
        return Plan(shipments, tuple((b.line_id, b.sku, b.qty) for b in decision.backordered), log)

    router.network_provider = provider
    router.store = store
    return router


def attach_store(svc) -> None:
    """Give the service's routing-package router central's store (capacity load, SKU dimensions)."""
    current = getattr(svc.ops, "router", None)
    provider = getattr(current, "network_provider", None)
    if provider is not None and getattr(current, "store", None) is None:
        svc.ops.router = make_router(provider, store=svc.store)
