"""HTTP shell for routing: checkout delivery options and network coverage (a Flask blueprint).

Central mounts it with one call in its app factory (API-key auth, snapshot from its service)::

    from central.routing.web import register_routing
    register_routing(app, service)

or, with its own pieces::

    app.register_blueprint(routing_blueprint(network_provider, snapshot_provider, authenticate=auth))

- ``network_provider()`` -> ``Network`` in force (``central.routing.network.NetworkProvider``).
- ``snapshot_provider(merchant_id, skus)`` -> ``RoutingSnapshot`` (sites with health folded in,
  allocatable stock for those SKUs, weights), from central's memory-resident data.
- ``authenticate()`` -> merchant_id of the caller, raising the caller's own 401/403 error otherwise.

Endpoints: ``POST /api/v1/checkout/options`` (its ``Server-Timing`` header carries the wall-clock
``app`` and ``cpu`` milliseconds spent answering) and ``GET /api/v1/routing/coverage``. Errors use
central's body shape ``{"error": {"code", "message", "fields"}}``.
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Callable

from flask import Blueprint, g, jsonify, request

from central.routing.core.checkout import RoutingSnapshot, checkout_options, coverage, parse_checkout_body
from central.routing.core.errors import InvalidRequest, RoutingError
from central.routing.core.geo import Network


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def routing_blueprint(network_provider: Callable[[], Network],
                      snapshot_provider: Callable[[str, list[str]], RoutingSnapshot], *,
                      authenticate: Callable[[], str], clock: Callable[[], dt.datetime] = _utcnow,
                      zip3_provider: Callable[[], dict] | None = None) -> Blueprint:
    bp = Blueprint("routing", __name__, url_prefix="/api/v1")

    @bp.before_request
    def _auth():
        g.routing_merchant = authenticate()

    @bp.errorhandler(RoutingError)
    def _routing_error(exc: RoutingError):
        body = {"code": exc.code, "message": exc.message}
        if exc.fields:
            body["fields"] = exc.fields
        return jsonify({"error": body}), exc.status

    @bp.post("/checkout/options")
    def checkout():
        t0, c0 = time.perf_counter(), time.thread_time()
        body = request.get_json(silent=True)
        if body is None:
            raise InvalidRequest("request body must be JSON", {"body": "a JSON object is required"})
        q = parse_checkout_body(body)
        snap = snapshot_provider(g.routing_merchant, [sku for sku, _ in q.items])
        ans = checkout_options(q.country, q.postal_code, q.items, snap.sites, snap.available, snap.sku_weights_g,
                               network_provider(), clock(), merchant_id=g.routing_merchant, strategy=q.strategy,
                               sku_volumes_cm3=snap.sku_volumes_cm3)
        resp = jsonify(ans.to_dict())
        # standard Server-Timing header: wall-clock and CPU time spent answering (milliseconds)
        resp.headers["Server-Timing"] = (f"app;dur={(time.perf_counter() - t0) * 1000:.3f}, "
                                         f"cpu;dur={(time.thread_time() - c0) * 1000:.3f}")
        return resp

    @bp.get("/routing/coverage")
    def coverage_view():
        if zip3_provider is None:
            from central.routing.network import zip3_points
            areas = zip3_points()
        else:
            areas = zip3_provider()
        try:
            days = int(request.args.get("days", "2"))
        except ValueError:
            raise InvalidRequest("days must be an integer", {"days": "must be an integer"}) from None
        if not 1 <= days <= 10:
            raise InvalidRequest("days must be 1-10", {"days": "must be 1-10"})
        service = request.args.get("service", "ground")
        snap = snapshot_provider(g.routing_merchant, [])
        cov = coverage(snap.sites, areas, network_provider(), service_class=service, max_days=days)
        return jsonify(dict(cov.to_dict(), service=service, days=days,
                            weighting="number of ZIP codes per ZIP3 (the zipcodes data has no population)"))

    return bp


# ------------------------------------------------------------------ wiring into central's app
def central_snapshot_provider(svc, *, clock: Callable[[], dt.datetime] = _utcnow):
    """``snapshot_provider`` over ``central.services.CentralService``: sites (health folded in) and
    weights come from central's in-process caches; allocatable stock is one indexed read."""
    import threading

    from central.routing.core.health import site_health
    from central.routing.network import site_from_dict

    cache: dict[tuple, object] = {}
    lock = threading.Lock()

    def site_info(row: dict, now: dt.datetime):
        healthy, why = site_health(stale=bool(row.get("stale")), printers_ok=bool(row.get("printers_ok", True)),
                                   sync_lag_s=float(row.get("sync_lag_s") or 0.0),
                                   max_sync_lag_s=float(getattr(svc.ops, "max_sync_lag_s", 900.0)),
                                   last_heartbeat_at=row.get("last_heartbeat_at"), now=now)
        key = (row["site_id"], row.get("updated_at"), bool(row.get("active", True)), healthy, why)
        with lock:
            hit = cache.get(key)
        if hit is None:
            hit = site_from_dict(dict(row, healthy=healthy, health_reason=why))
            with lock:
                if len(cache) > 4096:   # "stale N min" changes every minute: keep the cache bounded
                    cache.clear()
                cache[key] = hit
        return hit

    def provider(merchant_id: str, skus: list[str]) -> RoutingSnapshot:
        now = clock()
        wanted = set(skus)
        with svc.store.read() as conn:
            rows = svc.ops.merchant_sites(conn, merchant_id)
            available = svc.ops.available_map(conn, merchant_id, wanted) if wanted else {}
            weights = svc.ops.sku_weights(conn, merchant_id, wanted) if wanted else {}
        return RoutingSnapshot(tuple(site_info(r, now) for r in rows), available, weights)

    return provider


def register_routing(app, svc, *, network_provider: Callable[[], Network] | None = None,
                     clock: Callable[[], dt.datetime] = _utcnow) -> None:
    """Mount the routing endpoints on central's app (one call from ``central.web.create_app``).

    Callers authenticate with the same ``Authorization: Bearer <api key>`` as the rest of /api/v1
    (any scope); errors are central's ``CentralError`` / ``RoutingError`` bodies.
    ``app.extensions["routing"]`` holds ``network`` (a ``NetworkProvider``) and ``clock``.
    """
    from central.errors import Unauthorized
    from central.routing.network import NetworkProvider

    store = svc.store

    def authenticate() -> str:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or len(header) > 300:
            raise Unauthorized("missing or malformed Authorization: Bearer <api key>")
        with store.read() as conn:
            key = store.find_api_key(conn, header[7:].strip())
        if key is None or key["revoked_at"] is not None:
            raise Unauthorized("unknown or revoked API key")
        return key["merchant_id"]

    # looked up per request, so tests and operators can swap the network in force or the clock
    settings = app.extensions.setdefault("routing", {})
    settings.update(network=network_provider or NetworkProvider(), clock=clock)

    def now() -> dt.datetime:
        return settings["clock"]()

    app.register_blueprint(routing_blueprint(lambda: settings["network"](), central_snapshot_provider(svc, clock=now),
                                             authenticate=authenticate, clock=now))
