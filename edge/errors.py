"""Typed errors of the edge node. Every refusal a handheld sees is one of these.

Each error carries a stable ``code`` (for the JSON API and the audit log), a human message and,
where it helps, ``next``: what the operator should do now.
"""
from __future__ import annotations


class EdgeError(Exception):
    code = "edge_error"
    http_status = 400

    def __init__(self, message: str, *, next: str | None = None, user: str | None = None, **details):
        super().__init__(message)
        self.message = message
        self.next = next
        self.user = user          # who was refused, when known (the audit row's user)
        self.audited = False      # set once the refusal has its audit row
        self.details = details


class NotFound(EdgeError):
    code = "not_found"
    http_status = 404


class UnknownBarcode(NotFound):
    code = "unknown_barcode"


class InvalidScan(EdgeError):
    code = "invalid_scan"


class DuplicateScan(EdgeError):
    code = "duplicate_scan"
    http_status = 409


class InvalidQuantity(EdgeError):
    code = "invalid_quantity"


class WrongLocation(EdgeError):
    code = "wrong_location"
    http_status = 409


class WrongItem(EdgeError):
    code = "wrong_item"
    http_status = 409


class OverPick(EdgeError):
    code = "over_pick"
    http_status = 409


class CatchingUp(EdgeError):
    """Just reconnected: central's queued holds and cancels apply before new picks and labels."""
    code = "catching_up"
    http_status = 409


class OrderBlocked(EdgeError):
    """The order is held or cancelled by central: no new pick, pack or label."""
    code = "order_blocked"
    http_status = 409


class StaleTask(EdgeError):
    code = "stale_task"
    http_status = 409


class InvalidState(EdgeError):
    """The step does not fit the current state of the order, task, count, ..."""
    code = "invalid_state"
    http_status = 409


class WeightOutOfTolerance(EdgeError):
    code = "weight_out_of_tolerance"
    http_status = 409


class ScaleFailure(EdgeError):
    code = "scale_failure"
    http_status = 503


class WrongSite(EdgeError):
    code = "wrong_site"
    http_status = 403


class InvalidEvent(EdgeError):
    code = "invalid_event"


class AuthError(EdgeError):
    code = "unauthorized"
    http_status = 401


class Forbidden(EdgeError):
    code = "forbidden"
    http_status = 403


class StoreError(EdgeError):
    code = "store_error"
    http_status = 500


class SeedError(EdgeError):
    code = "seed_error"


class BadRequest(EdgeError):
    """The request itself is malformed (not JSON, wrong types, too long)."""
    code = "bad_request"
