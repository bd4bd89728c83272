"""Errors of routing and promise. Pure.

``RoutingError`` is the one base of this package. It carries the same ``code`` / ``status`` /
``message`` / ``fields`` attributes as ``central.errors.CentralError`` so the central web layer can
map it the same way (422 for bad input, 400 for bad network data).
"""
from __future__ import annotations


class RoutingError(ValueError):
    """Base of every routing error. ``code`` is the stable machine-readable name."""

    code = "routing_error"
    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidRequest(RoutingError):
    """The order/checkout request breaks a rule (empty order, bad quantity, unknown service...)."""

    code = "validation_failed"
    status = 422


class UnknownSku(InvalidRequest):
    """A line names a SKU the merchant's catalog does not have."""


class UnknownDestination(InvalidRequest):
    """Unknown country or postal code."""


class NetworkDataError(RoutingError):
    """Network data (site, carrier services, zones, rates) is invalid; it is refused, nothing changes."""

    code = "invalid_network_data"
    status = 400
