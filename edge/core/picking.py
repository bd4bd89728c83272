"""Pick method choice, FEFO allocation of order lines to bins, and pick paths."""
from __future__ import annotations

from dataclasses import dataclass, field

METHODS = ("discrete", "batch", "cluster", "zone", "wave")


@dataclass(frozen=True)
class MethodRules:
    """Thresholds of the seed rules (configurable per site through edge config)."""
    wave_min_lines: int = 51
    zone_min_skus: int = 21
    batch_min_units: int = 101
    cluster_min_lines: int = 11
    cluster_max_lines: int = 50


@dataclass(frozen=True)
class OrderProfile:
    lines: int
    units: int
    distinct_skus: int


def normalize_capabilities(capabilities) -> frozenset[str]:
    out = {"discrete"}
    for c in capabilities or ():
        c = str(c).lower().replace("_picking", "").replace("discrete_order", "discrete")
        if c in METHODS:
            out.add(c)
    return frozenset(out)


def choose_method(profile: OrderProfile, capabilities, rules: MethodRules = MethodRules()) -> tuple[str, str]:
    """(method, reason): wave for very large orders, zone for many distinct SKUs, batch for high
    unit counts, cluster for mid-size, discrete otherwise; a method the site lacks is skipped."""
    caps = normalize_capabilities(capabilities)
    if "wave" in caps and profile.lines >= rules.wave_min_lines:
        return "wave", f"{profile.lines} lines >= {rules.wave_min_lines}"
    if "zone" in caps and profile.distinct_skus >= rules.zone_min_skus:
        return "zone", f"{profile.distinct_skus} distinct SKUs >= {rules.zone_min_skus}"
    if "batch" in caps and profile.units >= rules.batch_min_units:
        return "batch", f"{profile.units} units >= {rules.batch_min_units}"
    if "cluster" in caps and rules.cluster_min_lines <= profile.lines <= rules.cluster_max_lines:
        return "cluster", f"{profile.lines} lines in {rules.cluster_min_lines}-{rules.cluster_max_lines}"
    return "discrete", "small order"


@dataclass(frozen=True)
class StockSlot:
    location: str
    zone: str
    walk_seq: int
    lot: str
    expiry: str | None  # ISO date or None
    free: int  # on hand minus quantities already promised to open pick tasks


@dataclass(frozen=True)
class Allocation:
    location: str
    lot: str
    qty: int
    walk_seq: int
    zone: str


@dataclass
class LineAllocation:
    allocations: list[Allocation] = field(default_factory=list)
    missing: int = 0


def allocate(qty: int, slots: list[StockSlot], fefo: bool) -> LineAllocation:
    """Take ``qty`` from slots: earliest expiry first when ``fefo`` (FEFO), then walk order, so a
    picker empties the oldest lot before opening a fresher one. Shortfall is reported, not hidden."""
    def key(s: StockSlot):
        if fefo:
            return (s.expiry is None, s.expiry or "", s.walk_seq, s.lot)
        return (s.walk_seq, s.lot)

    out = LineAllocation()
    remaining = qty
    for s in sorted((s for s in slots if s.free > 0), key=key):
        if remaining <= 0:
            break
        take = min(remaining, s.free)
        out.allocations.append(Allocation(s.location, s.lot, take, s.walk_seq, s.zone))
        remaining -= take
    out.missing = remaining
    return out


def pick_path(tasks: list[dict]) -> list[dict]:
    """Tasks in walk order (serpentine walk_seq), then lot/order for a stable sequence."""
    return sorted(tasks, key=lambda t: (t["walk_seq"], t.get("sku", ""), t.get("lot", ""), t.get("fo_id", "")))


def urgency_key(order: dict) -> tuple:
    """Release order for waves: urgent first, then earliest ship-by, then oldest release."""
    return (not order.get("urgent", False), order.get("ship_by") or "9999", order.get("released_at") or "")
