"""Allocation arithmetic and ledger folds. Pure.

``available = on_hand - reserved - safety_stock`` floored at 0; a reservation of ``q`` is only
legal when ``available >= q`` (the store enforces it with one conditional UPDATE per row).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Mapping

LEDGER_CAUSES = ("order", "release", "pick", "short_pick", "shipment", "adjustment", "cycle_count", "receipt",
                 "transfer_out", "transfer_in", "return", "grading", "seed", "cancel")


def available(on_hand: int, reserved: int, safety_stock: int) -> int:
    return max(0, on_hand - reserved - safety_stock)


def crossed_below(before_available: int, after_available: int, threshold: int) -> bool:
    """True exactly when a change takes availability from >= threshold to below it."""
    return threshold > 0 and before_available >= threshold > after_available


@dataclass(frozen=True)
class Balance:
    on_hand: int = 0
    reserved: int = 0
    in_transit: int = 0
    quarantine: int = 0


def rebuild_balances(rows: Iterable[Mapping]) -> dict[tuple[str, str, str], Balance]:
    """Fold ledger rows (merchant_id, sku, site_id, d_on_hand, d_reserved, d_in_transit, d_quarantine)."""
    acc: dict[tuple[str, str, str], list[int]] = {}
    for r in rows:
        key = (r["merchant_id"], r["sku"], r["site_id"])
        cur = acc.setdefault(key, [0, 0, 0, 0])
        cur[0] += r["d_on_hand"]
        cur[1] += r["d_reserved"]
        cur[2] += r["d_in_transit"]
        cur[3] += r["d_quarantine"]
    return {k: Balance(*v) for k, v in acc.items()}


def oversold_units(on_hand: int, reserved: int, safety_stock: int) -> int:
    """Units reserved beyond what was allocatable (must always be 0)."""
    return max(0, reserved - max(0, on_hand - safety_stock)) if reserved > 0 else 0


def backorder_fill_plan(backorders: Iterable[Mapping], allocatable: int) -> list[tuple[int, int]]:
    """Oldest first: [(backorder_id, qty_to_fill)] using at most ``allocatable`` units (partial fills allowed)."""
    plan = []
    left = allocatable
    for b in sorted(backorders, key=lambda b: (b["created_at"], b["id"])):
        if left <= 0:
            break
        take = min(left, b["qty"])
        if take > 0:
            plan.append((b["id"], take))
            left -= take
    return plan


def tracking_number(carrier: str, fo_id: str) -> str:
    """A deterministic carrier-style tracking number for a fulfillment order (printed offline by the edge)."""
    digest = hashlib.sha256(f"{carrier}:{fo_id}".encode()).hexdigest()
    digits = str(int(digest[:24], 16)).zfill(20)[:18]
    prefix = {"ups": "1Z", "fedex": "FX", "usps": "94"}.get(carrier.lower(), carrier[:2].upper() or "FS")
    return f"{prefix}{digits}"


def merge_requested(lines: Iterable[Mapping]) -> dict[str, int]:
    out: dict[str, int] = {}
    for ln in lines:
        out[ln["sku"]] = out.get(ln["sku"], 0) + ln["qty"]
    return out
