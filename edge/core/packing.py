"""Carton choice and the weight gate."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Carton:
    code: str
    length_mm: int
    width_mm: int
    height_mm: int
    tare_g: int
    max_weight_g: int = 30000

    @property
    def volume(self) -> int:
        return self.length_mm * self.width_mm * self.height_mm


@dataclass(frozen=True)
class Item:
    sku: str
    qty: int
    length_mm: int
    width_mm: int
    height_mm: int
    weight_g: int


FILL_FACTOR = 0.85  # cartons are never packed to 100% of their volume


def fits(carton: Carton, items: list[Item]) -> bool:
    """Every item fits the carton in some orientation, the total volume fits with air, and the
    weight limit holds."""
    box = sorted((carton.length_mm, carton.width_mm, carton.height_mm))
    volume = 0
    weight = 0
    for it in items:
        dims = sorted((it.length_mm, it.width_mm, it.height_mm))
        if any(d > b for d, b in zip(dims, box)):
            return False
        volume += it.length_mm * it.width_mm * it.height_mm * it.qty
        weight += it.weight_g * it.qty
    return volume <= carton.volume * FILL_FACTOR and weight + carton.tare_g <= carton.max_weight_g


def smallest_carton(cartons: list[Carton], items: list[Item]) -> Carton | None:
    for c in sorted(cartons, key=lambda c: (c.volume, c.tare_g, c.code)):
        if fits(c, items):
            return c
    return None


def expected_weight(items: list[Item], tare_g: int) -> int:
    return sum(i.weight_g * i.qty for i in items) + tare_g


def tolerance_g(expected_g: int, pct: float, min_g: int) -> int:
    """max(pct % of expected, min_g) grams."""
    return max(int(round(expected_g * pct / 100.0)), min_g)


@dataclass(frozen=True)
class GateResult:
    ok: bool
    expected_g: int
    actual_g: int
    tolerance_g: int

    @property
    def difference_g(self) -> int:
        return self.actual_g - self.expected_g


def weight_gate(expected_g: int, actual_g: int, pct: float, min_g: int) -> GateResult:
    tol = tolerance_g(expected_g, pct, min_g)
    return GateResult(abs(actual_g - expected_g) <= tol, expected_g, actual_g, tol)


def station_step(status: str | None, to_verify: int, carton: str | None) -> str:
    """What a scan at a pack station means, given the order in hand (the handheld's pack page and
    a station's serial scanner follow the same rule): no order yet -> ``start`` (tote or order
    barcode); packed -> ``ship`` (the shipping label); every unit verified but no carton ->
    ``carton``; otherwise -> ``verify`` (an item)."""
    if status is None:
        return "start"
    if status == "packed":
        return "ship"
    if to_verify == 0 and not carton:
        return "carton"
    return "verify"


def carton_tracking(master: str, seq: int) -> str:
    """The tracking number of carton ``seq`` of a shipment, derived offline: carton 1 carries the
    master tracking number central pre-assigned to the fulfillment order, carton k >= 2 carries
    ``<master>-<kk>`` (k zero-padded to two digits), like a carrier's multi-piece shipment (one
    master, numbered packages). Deterministic, so a re-packed order gets the same numbers."""
    if seq < 1:
        raise ValueError(f"carton sequence starts at 1, got {seq}")
    return master if seq == 1 else f"{master}-{seq:02d}"


def split_cartons(cartons: list[Carton], items: list[Item]) -> list[tuple[Carton, list[Item]]] | None:
    """A multi-carton plan for items that fit no single carton: units largest first, each into the
    first planned carton (sized as the largest carton) it still fits, else a new one; then every
    planned carton shrinks to the smallest carton that holds its share. None if a unit fits no carton."""
    if not cartons or not items:
        return None
    biggest = max(cartons, key=lambda c: (c.volume, c.max_weight_g))
    units = sorted((Item(i.sku, 1, i.length_mm, i.width_mm, i.height_mm, i.weight_g) for i in items for _ in range(i.qty)),
                   key=lambda u: (-(u.length_mm * u.width_mm * u.height_mm), -u.weight_g, u.sku))
    groups: list[dict[str, Item]] = []
    for u in units:
        for g in groups:
            trial = dict(g)
            have = trial.get(u.sku)
            trial[u.sku] = Item(u.sku, (have.qty if have else 0) + 1, u.length_mm, u.width_mm, u.height_mm, u.weight_g)
            if fits(biggest, list(trial.values())):
                g.clear()
                g.update(trial)
                break
        else:
            if not fits(biggest, [u]):
                return None
            groups.append({u.sku: u})
    plan = []
    for g in groups:
        share = sorted(g.values(), key=lambda i: i.sku)
        plan.append((smallest_carton(cartons, share) or biggest, share))
    return plan
