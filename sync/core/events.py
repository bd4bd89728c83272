"""The event contract between edge and central: every `type` that flows, and its body.

This module is the one place both sides agree on. A body is validated against its schema on
the way in (`validate_body`) and refused with a typed error naming the field, so a tampered or
malformed message changes nothing.

Quantity semantics on central (quantities always merge as deltas, never overwrite):

- ``shipment.shipped``: for each line, on_hand -= qty and reserved -= qty at the site
  (stock leaves the building); order -> shipped / partially_shipped. If central had cancelled
  the order meanwhile, the shipment is still applied and the order becomes ``exception``.
- ``pick.confirmed``: no stock change (the unit is still in the building); order -> picking.
- ``pick.short``: on_hand -= qty_short, reserved -= qty_short; central re-routes or backorders
  the missing quantity.
- ``inventory.received`` (not quarantined): on_hand += qty; new stock allocates backorders first.
  Quarantined receipts add to ``quarantine`` instead.
- ``inventory.adjusted``: on_hand += delta (delta may be negative; cause = adjustment).
- ``cycle_count.recorded``: on_hand += (counted - expected) — the delta, so concurrent activity
  at the site between count and sync is not lost.
- ``transfer.shipped`` / ``transfer.received``: source on_hand -= qty, in_transit += qty /
  in_transit -= qty, destination on_hand += qty.
- ``return.received``: quarantine += qty; ``return.graded``: quarantine -= qty and, when
  ``restocked``, on_hand += qty — except grade ``C``: no change, the units stay in quarantine until
  the site's QC releases them (``stock.qc_released``) or rejects them (``stock.qc_rejected``).
- ``inventory.digest``: no change; compared with central's expectation -> drift alert.
- ``stock.qc_released``: quarantine -= qty, on_hand += qty (QC passed received stock into a bin;
  ledger cause ``grading``). ``stock.qc_rejected``: quarantine -= qty (scrapped or returned to the
  vendor: the units leave the building; cause ``grading``).
- ``shipment.shipped`` with ``cartons`` (multi-carton shipment): the stock semantics use ``lines``
  (the sum over the cartons) exactly as above; ``tracking_number`` is the master (carton 1) and
  each carton carries its own package tracking number, weight and lines.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Mapping

UP = "up"
DOWN = "down"

# --- field specs: a spec is a python type, a tuple of allowed types, or one of the helpers below.


class Optional_:
    def __init__(self, spec: Any):
        self.spec = spec


class ListOf:
    def __init__(self, spec: Any, max_len: int = 10_000):
        self.spec = spec
        self.max_len = max_len


class Str:
    def __init__(self, max_len: int = 200, pattern: str | None = None, choices: tuple[str, ...] | None = None):
        self.max_len = max_len
        self.pattern = re.compile(pattern) if pattern else None
        self.choices = choices


class Int:
    def __init__(self, min: int | None = None, max: int | None = 10_000_000):
        self.min = min
        self.max = max


DATE = Str(10, r"\d{4}-\d{2}-\d{2}")
DATETIME = Str(40, r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")
SKU = Str(64, r"[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}")
ID = Str(80, r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,79}")
QTY = Int(min=1, max=1_000_000)
DELTA = Int(min=-1_000_000, max=1_000_000)
SERVICE = Str(40, r"[a-z0-9_]+")
ADDRESS = {
    "name": Str(200), "company": Optional_(Str(200)), "line1": Str(200), "line2": Optional_(Str(200)),
    "city": Str(100), "region": Optional_(Str(100)), "postal_code": Optional_(Str(20)),
    "country": Str(2, r"[A-Z]{2}"), "phone": Optional_(Str(40)),
}
LINE = {"line_id": ID, "sku": SKU, "qty": QTY}
CARTON = {"seq": Int(min=1, max=999), "tracking_number": Str(60), "carton": Str(40), "weight_g": Int(min=0),
          "lines": ListOf(LINE, 1000)}
SKU_QTY = {"sku": SKU, "qty": QTY}

SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    # ---- down: central -> edge
    "fulfillment_order.released": (DOWN, {
        "fo_id": ID, "order_id": ID, "channel_order_id": Str(120), "service": SERVICE, "carrier": Str(40),
        "tracking_number": Str(60), "promised_date": DATE, "ship_by": DATETIME, "urgent": bool,
        "ship_to": ADDRESS, "lines": ListOf(LINE, 1000), "gift_message": Optional_(Str(500)),
    }),
    "order.hold": (DOWN, {"order_id": ID, "fo_id": ID, "reason": Str(500)}),
    "order.hold_released": (DOWN, {"order_id": ID, "fo_id": ID}),
    "order.cancelled": (DOWN, {"order_id": ID, "fo_id": ID, "reason": Str(500)}),
    "order.address_changed": (DOWN, {"order_id": ID, "fo_id": ID, "ship_to": ADDRESS}),
    "order.service_changed": (DOWN, {"order_id": ID, "fo_id": ID, "service": SERVICE, "carrier": Str(40),
                                     "tracking_number": Str(60), "promised_date": DATE}),
    "sku.upsert": (DOWN, {
        "sku": SKU, "description": Str(300), "gtins": ListOf(Str(14, r"\d{8,14}"), 20), "weight_g": Int(min=0),
        "length_mm": Int(min=0), "width_mm": Int(min=0), "height_mm": Int(min=0),
        "lot_tracked": bool, "expiry_tracked": bool, "hazmat": bool, "requires_qc": bool,
    }),
    "site.config": (DOWN, {"timezone": Str(64), "cutoffs": dict, "holidays": ListOf(DATE, 400),
                           "capabilities": ListOf(Str(40), 20)}),
    "transfer.created": (DOWN, {"transfer_id": ID, "from_site": ID, "to_site": ID, "lines": ListOf(SKU_QTY, 1000)}),
    "receipt.expected": (DOWN, {"asn_id": ID, "supplier": Str(200), "lines": ListOf(SKU_QTY, 1000)}),
    "rma.created": (DOWN, {"rma_id": ID, "order_id": Optional_(ID), "lines": ListOf(SKU_QTY, 1000)}),
    # ---- up: edge -> central
    "inventory.received": (UP, {"sku": SKU, "qty": QTY, "location": Str(40), "quarantine": bool,
                                "lot": Optional_(Str(40)), "expiry": Optional_(DATE), "asn_id": Optional_(ID)}),
    "inventory.adjusted": (UP, {"sku": SKU, "delta": DELTA, "reason": Str(200), "location": Str(40)}),
    "pick.confirmed": (UP, {"fo_id": ID, "line_id": ID, "sku": SKU, "qty": QTY, "location": Str(40),
                            "lot": Optional_(Str(40))}),
    "pick.short": (UP, {"fo_id": ID, "line_id": ID, "sku": SKU, "qty_short": QTY, "location": Str(40)}),
    "pack.confirmed": (UP, {"fo_id": ID, "carton": Str(40), "weight_g": Int(min=0), "expected_weight_g": Int(min=0),
                            "cartons": Optional_(Int(min=1, max=999))}),
    "shipment.shipped": (UP, {"fo_id": ID, "order_id": ID, "tracking_number": Str(60), "carrier": Str(40),
                              "service": SERVICE, "weight_g": Int(min=0), "lines": ListOf(LINE, 1000),
                              "shipped_at": DATETIME, "cartons": Optional_(ListOf(CARTON, 200))}),
    "cycle_count.recorded": (UP, {"sku": SKU, "location": Str(40), "counted": Int(min=0), "expected": Int(min=0)}),
    "transfer.shipped": (UP, {"transfer_id": ID, "lines": ListOf(SKU_QTY, 1000)}),
    "transfer.received": (UP, {"transfer_id": ID, "lines": ListOf(SKU_QTY, 1000)}),
    "return.received": (UP, {"rma_id": Optional_(ID), "order_id": Optional_(ID), "sku": SKU, "qty": QTY}),
    "return.graded": (UP, {"rma_id": Optional_(ID), "sku": SKU, "qty": QTY,
                           "grade": Str(5, choices=("A", "B", "C", "scrap")), "restocked": bool}),
    "inventory.digest": (UP, {"as_of_seq": Int(min=0, max=None), "balances": dict}),
    "stock.qc_released": (UP, {"receipt_id": Int(min=1, max=None), "sku": SKU, "qty": QTY, "location": Str(40),
                               "lot": Optional_(Str(40))}),
    "stock.qc_rejected": (UP, {"receipt_id": Int(min=1, max=None), "sku": SKU, "qty": QTY,
                               "disposition": Str(20, choices=("scrap", "return_to_vendor")),
                               "reason": Str(40, r"[a-z_]+"), "asn_id": Optional_(ID)}),
}


class BodyError(ValueError):
    """An event body does not match its contract; ``field`` names the offending path."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def stream_of(event_type: str) -> str:
    try:
        return SCHEMAS[event_type][0]
    except KeyError:
        raise BodyError("type", f"unknown event type {event_type!r}") from None


def validate_body(event_type: str, body: Any) -> None:
    """Raise BodyError unless ``body`` matches the schema of ``event_type`` exactly (no unknown keys)."""
    if event_type not in SCHEMAS:
        raise BodyError("type", f"unknown event type {event_type!r}")
    _check("body", SCHEMAS[event_type][1], body)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # JSON objects are dicts: skip the ABC check


def _check(path: str, spec: Any, value: Any) -> None:
    if isinstance(spec, Optional_):
        if value is None:
            return
        return _check(path, spec.spec, value)
    if isinstance(spec, dict):
        if not _is_mapping(value):
            raise BodyError(path, "expected an object")
        unknown = sorted(set(value) - set(spec))
        if unknown:
            raise BodyError(f"{path}.{unknown[0]}", "unknown field")
        for key, sub in spec.items():
            if key not in value:
                if isinstance(sub, Optional_):
                    continue
                raise BodyError(f"{path}.{key}", "missing")
            _check(f"{path}.{key}", sub, value[key])
        return
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            raise BodyError(path, "expected a list")
        if len(value) > spec.max_len:
            raise BodyError(path, f"more than {spec.max_len} items")
        for i, item in enumerate(value):
            _check(f"{path}[{i}]", spec.spec, item)
        return
    if isinstance(spec, Str):
        if not isinstance(value, str):
            raise BodyError(path, "expected a string")
        if len(value) > spec.max_len:
            raise BodyError(path, f"longer than {spec.max_len} characters")
        if _CONTROL.search(value):
            raise BodyError(path, "control characters are not allowed")
        if spec.pattern and not spec.pattern.fullmatch(value):
            raise BodyError(path, f"invalid format {value[:40]!r}")
        if spec.choices and value not in spec.choices:
            raise BodyError(path, f"must be one of {', '.join(spec.choices)}")
        if spec is DATE:
            try:
                _dt.date.fromisoformat(value)
            except ValueError:
                raise BodyError(path, f"invalid date {value!r}") from None
        return
    if isinstance(spec, Int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise BodyError(path, "expected an integer")
        if spec.min is not None and value < spec.min:
            raise BodyError(path, f"must be >= {spec.min}")
        if spec.max is not None and value > spec.max:
            raise BodyError(path, f"must be <= {spec.max}")
        return
    if spec is bool:
        if not isinstance(value, bool):
            raise BodyError(path, "expected true/false")
        return
    if spec is dict:
        if not _is_mapping(value):
            raise BodyError(path, "expected an object")
        return
    raise AssertionError(f"bad schema spec at {path}: {spec!r}")
