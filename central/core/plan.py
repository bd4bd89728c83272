"""What routing decided for one order, in the shape central's intake stores. Pure.

``central.routing_adapter`` turns a ``central.routing.core.Decision`` into a ``Plan``.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PlannedShipment:
    site_id: str
    service: str
    carrier: str
    carrier_service: str
    promised_date: str
    ship_by: str
    lines: tuple[tuple[str, str, int], ...]  # (line_id, sku, qty)


@dataclass(frozen=True)
class Plan:
    shipments: tuple[PlannedShipment, ...]
    unplaced: tuple[tuple[str, str, int], ...]
    log: dict = field(default_factory=dict)
