"""Bin codes and the serpentine walk sequence through a site's aisles."""
from __future__ import annotations

import re
from dataclasses import dataclass

CODE_RE = re.compile(r"^([A-Z])-(\d{2})-(\d{2})-(\d)$")


@dataclass(frozen=True)
class Bin:
    zone: str
    aisle: int
    bay: int
    level: int
    position: int = 1

    @property
    def code(self) -> str:
        # A-03-02-1: zone A, aisle 03, bay 02, level 1
        return f"{self.zone}-{self.aisle:02d}-{self.bay:02d}-{self.level}"


def parse_code(code: str) -> Bin | None:
    m = CODE_RE.match(code.strip().upper())
    if not m:
        return None
    return Bin(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)))


def walk_sequence(bins: list[Bin]) -> list[tuple[Bin, int]]:
    """Serpentine order: zones in order, aisles ascending, bays up the odd-numbered aisle
    and back down the next one, levels bottom to top. Returns (bin, walk_seq) with seq 10, 20, ..."""
    aisles = sorted({(b.zone, b.aisle) for b in bins})
    direction = {za: (i % 2 == 0) for i, za in enumerate(aisles)}

    def key(b: Bin):
        up = direction[(b.zone, b.aisle)]
        return (b.zone, b.aisle, b.bay if up else -b.bay, b.level, b.position)

    return [(b, (i + 1) * 10) for i, b in enumerate(sorted(bins, key=key))]


def build_layout(zones: list[str], aisles_per_zone: int, bays: int, levels: int) -> list[tuple[Bin, int]]:
    bins = [Bin(z, a, b, lv) for z in zones for a in range(1, aisles_per_zone + 1)
            for b in range(1, bays + 1) for lv in range(1, levels + 1)]
    return walk_sequence(bins)
