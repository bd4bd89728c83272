"""HTTP shell for routing: checkout delivery options and network coverage (a Flask blueprint).

Register it in central's app factory::

    from central.routing.web import routing_blueprint
    app.register_blueprint(routing_blueprint(network_provider, snapshot_provider, authenticate=auth))

- ``network_provider()`` -> ``Network`` in force (``central.routing.network.NetworkProvider``).
- ``snapshot_provider(merchant_id, skus)`` -> ``RoutingSnapshot`` (sites with health folded in,
  allocatable stock for those SKUs, weights), from central's memory-resident data.
- ``authenticate()`` -> merchant_id of the caller, raising the caller's own 401/403 error otherwise.

Endpoints: ``POST /api/v1/checkout/options`` and ``GET /api/v1/routing/coverage``. Errors use
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
        t0 = time.perf_counter()
        body = request.get_json(silent=True)
        if body is None:
            raise InvalidRequest("request body must be JSON", {"body": "a JSON object is required"})
        q = parse_checkout_body(body)
        snap = snapshot_provider(g.routing_merchant, [sku for sku, _ in q.items])
        ans = checkout_options(q.country, q.postal_code, q.items, snap.sites, snap.available, snap.sku_weights_g,
                               network_provider(), clock(), merchant_id=g.routing_merchant, strategy=q.strategy,
                               sku_volumes_cm3=snap.sku_volumes_cm3)
        out = ans.to_dict()
        out["server_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        return jsonify(out)

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
