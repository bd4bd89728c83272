"""Pure routing and promise rules (no I/O). The contract central uses:

    from central.routing.core import route, RouteRequest, RouteLine, SiteInfo
    decision = route(request, sites, available, sku_weights_g, network, now)

``available`` maps ``(sku, site_id) -> int`` allocatable units; ``network`` is a
``central.routing.core.geo.Network`` (load one with ``central.routing.network.load_network``);
``now`` is an aware datetime. See ``central.routing.core.router`` for the rules.
"""
from central.routing.core.errors import (InvalidRequest, NetworkDataError, RoutingError, UnknownDestination,
                                         UnknownSku)
from central.routing.core.geo import Destination, Network
from central.routing.core.model import Decision, RouteLine, RouteRequest, Shipment, SiteInfo, Term
from central.routing.core.router import reroute, route

__all__ = ["Decision", "Destination", "InvalidRequest", "Network", "NetworkDataError", "RouteLine", "RouteRequest",
           "RoutingError", "Shipment", "SiteInfo", "Term", "UnknownDestination", "UnknownSku", "reroute", "route"]
