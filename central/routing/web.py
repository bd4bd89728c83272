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
``app`` and ``cpu`` milliseconds spent answering), ``GET /api/v1/routing/coverage`` and, admin scope,
``POST /api/v1/routing/rates/reload`` (re-read the rate file in force; 422 keeps the previous one). Errors use
central's body shape ``{"error": {"code", "message", "fields"}}``.
"""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Callable

from flask import Blueprint, g, jsonify, request

from central.routing.core.checkout import RoutingSnapshot, checkout_options, coverage, parse_checkout_body
from central.routing.core.errors import InvalidRequest, NetworkDataError, RoutingError
from central.routing.core.geo import Network


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def routing_blueprint(network_provider: Callable[[], Network],
                      snapshot_provider: Callable[[str, list[str]], RoutingSnapshot], *,
                      authenticate: Callable[[], str], clock: Callable[[], dt.datetime] = _utcnow,
                      zip3_provider: Callable[[], dict] | None = None,
                      rates_reloader: Callable[[], dict] | None = None,
                      authorize_admin: Callable[[], None] | None = None) -> Blueprint:
    """``rates_reloader()`` (optional) re-reads the rate file in force and returns a summary, raising
    ``NetworkDataError`` (answered 422, previous rates kept) for a bad file; ``authorize_admin()``
    raises the caller's 403 unless the API key has admin scope."""
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

    if rates_reloader is not None:
        @bp.post("/routing/rates/reload")
        def rates_reload():
            if authorize_admin is not None:
                authorize_admin()
            try:
                summary = rates_reloader()
            except NetworkDataError as exc:
                body = {"code": "invalid_rate_file", "message": exc.message,
                        "fields": {"rates": exc.message}}
                return jsonify({"error": body}), 422
            return jsonify(summary)

    return bp


def rates_summary(provider) -> dict:
    """What a rate reload answers: the file in force, its service levels and carrier services."""
    card = provider().rates
    return {"source": Path(card.source).name if card.source else "", "loaded_at": provider.loaded_at,
            "levels": sorted(card.levels), "services": [s.id for s in card.services]}


# ------------------------------------------------------------------ wiring into central's app
def central_snapshot_provider(svc, *, clock: Callable[[], dt.datetime] = _utcnow):
    """``snapshot_provider`` over ``central.services.CentralService``: sites (health folded in) and
    weights come from central's in-process caches; allocatable stock is one indexed read."""
    from central.routing.network import site_info_builder

    build = site_info_builder()

    def site_info(row: dict, now: dt.datetime):
        return build(row, float(getattr(svc.ops, "max_sync_lag_s", 900.0)), now)

    def provider(merchant_id: str, skus: list[str]) -> RoutingSnapshot:
        now = clock()
        wanted = set(skus)
        with svc.store.read() as conn:
            rows = svc.ops.merchant_sites(conn, merchant_id)
            available = svc.ops.available_map(conn, merchant_id, wanted) if wanted else {}
            weights = svc.ops.sku_weights(conn, merchant_id, wanted) if wanted else {}
            volumes = svc.store.sku_volumes_cm3(conn, merchant_id, wanted) if wanted else {}
        return RoutingSnapshot(tuple(site_info(r, now) for r in rows), available, weights, volumes)

    return provider


def register_routing(app, svc, *, network_provider: Callable[[], Network] | None = None,
                     clock: Callable[[], dt.datetime] = _utcnow) -> None:
    """Mount the routing endpoints on central's app (one call from ``central.web.create_app``).

    Callers authenticate with the same ``Authorization: Bearer <api key>`` as the rest of /api/v1
    (any scope); errors are central's ``CentralError`` / ``RoutingError`` bodies.
    ``app.extensions["routing"]`` holds ``network`` (a ``NetworkProvider``) and ``clock``. By default
    the provider is the one central's router uses (``svc.ops.router.network_provider``, else the
    process-wide ``default_provider()``), so ``POST /api/v1/routing/rates/reload`` (admin scope)
    changes the rates for checkout and order routing together.
    """
    from central.errors import Forbidden
    from central.routing.network import default_provider
    from central.routing_adapter import attach_store

    def authenticate() -> str:
        key = svc.api_key_for(request.headers.get("Authorization", ""))
        g.routing_scope = key["scope"]
        return key["merchant_id"]

    def authorize_admin() -> None:
        if g.get("routing_scope") != "admin":
            raise Forbidden(f"this API key has scope {g.get('routing_scope')!r}; 'admin' is required")

    # looked up per request, so tests and operators can swap the network in force or the clock
    settings = app.extensions.setdefault("routing", {})
    attach_store(svc)   # central's router reads capacity load and SKU dimensions from the store
    settings.update(network=network_provider or getattr(svc.ops.router, "network_provider", None)
                    or default_provider(), clock=clock)

    def reload_rates() -> dict:
        provider = settings["network"]
        provider.reload_rates()
        return rates_summary(provider)

    def now() -> dt.datetime:
        return settings["clock"]()

    app.register_blueprint(routing_blueprint(lambda: settings["network"](), central_snapshot_provider(svc, clock=now),
                                             authenticate=authenticate, clock=now, rates_reloader=reload_rates,
                                             authorize_admin=authorize_admin))
