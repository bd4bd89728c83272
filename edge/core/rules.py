"""Count variance, return grading, put-away suggestion and the state machines of the floor."""
from __future__ import annotations

from dataclasses import dataclass

# ---- state machines: allowed transitions; anything else is refused by the services.

FO_TRANSITIONS: dict[str, frozenset[str]] = {
    "released": frozenset({"picking", "on_hold", "cancelled"}),
    "picking": frozenset({"picked", "unfulfillable", "on_hold", "cancelled"}),
    "picked": frozenset({"packed", "weight_hold", "on_hold", "cancelled"}),
    "weight_hold": frozenset({"packed", "picked", "on_hold", "cancelled"}),
    "packed": frozenset({"shipped", "on_hold", "cancelled"}),
    "on_hold": frozenset({"released", "picking", "picked", "weight_hold", "packed", "cancelled"}),
    "shipped": frozenset(),
    "cancelled": frozenset(),
    "unfulfillable": frozenset({"cancelled"}),
}
FO_ACTIVE = ("released", "picking", "picked", "weight_hold", "packed")

TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"done", "short", "cancelled"}),
    "done": frozenset(),
    "short": frozenset(),
    "cancelled": frozenset(),
}

PRINT_TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"sent", "failed", "unknown"}),
    "sent": frozenset({"done", "failed", "unknown"}),
    "unknown": frozenset({"queued", "done", "failed"}),   # re-queued only by an operator
    "failed": frozenset({"queued"}),
    "done": frozenset(),
}


def can_transition(table: dict[str, frozenset[str]], current: str, new: str) -> bool:
    return new in table.get(current, frozenset())


# ---- cycle counts

@dataclass(frozen=True)
class CountRule:
    max_units: int = 2       # variance above this many units ...
    max_pct: float = 5.0     # ... AND above this percentage of expected needs a recount


def needs_recount(expected: int, counted: int, rule: CountRule) -> bool:
    variance = abs(counted - expected)
    if variance <= rule.max_units:
        return False
    if expected == 0:
        return True
    return variance * 100.0 / expected > rule.max_pct


# ---- returns

GRADES = {
    # grade: (disposition, restocked, quarantine location kind or None)
    "A": ("restock", True, None),
    "B": ("refurbish", False, "refurb"),
    "C": ("quarantine", False, "quarantine"),
    "scrap": ("scrap", False, None),
}


def grade_disposition(grade: str) -> tuple[str, bool, str | None]:
    g = grade.strip()
    g = g.upper() if g.upper() in ("A", "B", "C") else g.lower()
    if g not in GRADES:
        raise ValueError(f"grade must be one of A, B, C, scrap (got {grade!r})")
    return GRADES[g]


# ---- put-away

@dataclass(frozen=True)
class BinState:
    code: str
    zone: str
    walk_seq: int
    skus: frozenset[str]  # SKUs with stock in the bin


def suggest_putaway(sku: str, sku_zone: str | None, bins: list[BinState]) -> BinState | None:
    """Same SKU first (consolidate, lowest walk seq), then an empty bin in the SKU's zone, then any
    empty bin; never a bin holding another SKU."""
    same = sorted((b for b in bins if sku in b.skus), key=lambda b: b.walk_seq)
    if same:
        return same[0]
    empty = [b for b in bins if not b.skus]
    in_zone = sorted((b for b in empty if sku_zone and b.zone == sku_zone), key=lambda b: b.walk_seq)
    if in_zone:
        return in_zone[0]
    return min(empty, key=lambda b: b.walk_seq) if empty else None


def valid_qty(qty, max_qty: int) -> int:
    """Quantities are whole units in 1..max_qty; raises ValueError with the reason otherwise."""
    if isinstance(qty, bool):
        raise ValueError("quantity must be a whole number")
    if isinstance(qty, str):
        if not qty.strip().isdigit():
            raise ValueError(f"quantity must be a whole number, got {qty[:20]!r}")
        qty = int(qty.strip())
    if not isinstance(qty, int):
        raise ValueError("quantity must be a whole number")
    if qty <= 0:
        raise ValueError(f"quantity must be at least 1, got {qty}")
    if qty > max_qty:
        raise ValueError(f"quantity {qty} is more than the limit of {max_qty} per scan")
    return qty
