"""Bridge from central's rows to ``central.routing.core.route`` (the routing package's contract).

Central builds ``SiteInfo`` snapshots from its site rows (health folded into ``healthy`` /
``health_reason``), calls ``route`` and turns the ``Decision`` into the ``Plan`` the allocator
reserves against. Routing input errors (unknown ZIP, unknown country, service not offered) become
``ValidationFailed`` naming the ``ship_to`` field.
"""
from __future__ import annotations

import datetime as _dt
import json
import threading
from typing import Any, Callable

from central.core.plan import Plan, PlannedShipment
from central.errors import ValidationFailed

_FIELD_MAP = {"postal_code": "ship_to.postal_code", "country": "ship_to.country", "service": "service"}


def _iso_z(value: _dt.datetime | None, fallback_day: _dt.date) -> str:
    if value is None:
        value = _dt.datetime.combine(fallback_day, _dt.time(17, 0), tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def site_health(site: dict, max_sync_lag_s: float) -> tuple[bool, str]:
    if site["stale"]:
        return False, f"stale (last heartbeat {site.get('last_heartbeat_at') or 'never'})"
    if not site["printers_ok"]:
        return False, "all printers down"
    if site["sync_lag_s"] > max_sync_lag_s:
        return False, f"sync lag {site['sync_lag_s']:.0f}s over {max_sync_lag_s:.0f}s"
    return True, ""


def make_router(network: Any = None) -> Callable[..., Plan] | None:
    """A router callable over the routing package, or None when routing is not installed yet."""
    try:
        from central.routing.core import RouteLine, RouteRequest, RoutingError, SiteInfo, route
    except ImportError:
        return None
    if network is None:
        try:
            from central.routing.network import load_network
        except ImportError:
            return None
        network = load_network()
    cache: dict[tuple, Any] = {}
    lock = threading.Lock()

    def site_info(s: dict, max_lag: float):
        healthy, why = site_health(s, max_lag)
        key = (s["site_id"], s["updated_at"], healthy, why, bool(s["active"]))
        with lock:
            hit = cache.get(key)
        if hit is not None:
            return hit
        info = SiteInfo(site_id=s["site_id"], lat=s["lat"], lon=s["lon"], timezone=s["timezone"],
                        cutoffs=dict(s["cutoffs"]) or {"ground": "17:00"},
                        holiday_country=s.get("holiday_country") or s.get("country") or "US",
                        holiday_subdivision=s.get("holiday_subdivision"), active=bool(s["active"]),
                        healthy=healthy, health_reason=why, service_regions=frozenset(s.get("service_regions") or ()),
                        capabilities=frozenset(s.get("capabilities") or ()),
                        capacity_per_day=int(s.get("capacity_per_day") or 0))
        with lock:
            cache[key] = info
        return info

    def router(*, order: dict, lines, sites, available, weights, now, max_sync_lag_s) -> Plan:
        ship_to = json.loads(order["ship_to"]) if isinstance(order["ship_to"], str) else order["ship_to"]
        try:
            req = RouteRequest(merchant_id=order["merchant_id"],
                               lines=tuple(RouteLine(line_id, sku, qty) for line_id, sku, qty in lines),
                               country=ship_to["country"], postal_code=ship_to.get("postal_code") or "",
                               service=order["service"], strategy=order.get("strategy") or "one_package")
            decision = route(req, [site_info(s, max_sync_lag_s) for s in sites], available, weights, network, now)
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

    return router
