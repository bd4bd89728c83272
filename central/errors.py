"""Errors of the central service. One base class; the web layer maps each to an HTTP status."""
from __future__ import annotations


class CentralError(Exception):
    """Base of every central error. ``code`` is the stable machine-readable name."""

    code = "central_error"
    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationFailed(CentralError):
    """Input breaks a rule; ``fields`` maps each offending field path to what is wrong."""

    code = "validation_failed"
    status = 422


class NotFound(CentralError):
    code = "not_found"
    status = 404


class Conflict(CentralError):
    """E.g. the same (merchant, channel, channel_order_id) replayed with a different body."""

    code = "conflict"
    status = 409


class InvalidTransition(CentralError):
    """An order or fulfillment order cannot move from its current state to the requested one."""

    code = "invalid_transition"
    status = 409

    def __init__(self, current: str, target: str, what: str = "order"):
        super().__init__(f"{what} cannot go from {current!r} to {target!r}")
        self.current = current
        self.target = target


class Unauthorized(CentralError):
    code = "unauthorized"
    status = 401


class Forbidden(CentralError):
    code = "forbidden"
    status = 403


class StoreError(CentralError):
    """The database refused an operation (chained from the driver error)."""

    code = "store_error"
    status = 503
