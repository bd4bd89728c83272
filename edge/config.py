"""Config section for an edge node (see floorsync.config)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EdgeConfig:
    site_id: str = field(default="EWR1", metadata={"doc": "this edge's site (FC) id; also its MQTT identity"})
    host: str = field(default="127.0.0.1", metadata={"doc": "address the edge console and handheld API bind"})
    port: int = field(default=8100, metadata={"doc": "port of the edge console and handheld API"})
    database_path: str = field(default="", metadata={"doc": "edge SQLite file; empty = `edge-<site_id>.db` in data_dir"})
    server_threads: int = field(default=8, metadata={"doc": "request threads of `floorsync edge serve` (one process; writes still go through one writer thread; more threads only fight for the GIL, see bench/bench_edge_scan.py)"})
    checkpoint_interval_s: float = field(default=1.0, metadata={"doc": "seconds between background WAL checkpoints (auto-checkpoint is off)"})
    session_hours: float = field(default=12.0, metadata={"doc": "handheld/console login lifetime in hours"})
    capabilities: tuple[str, ...] = field(default=("discrete", "batch", "cluster", "zone", "wave"), metadata={"doc": "picking methods this site runs until central sends `site.config`"})
    wave_min_lines: int = field(default=51, metadata={"doc": "pick method rule: orders with at least this many lines are wave-picked"})
    zone_min_skus: int = field(default=21, metadata={"doc": "pick method rule: orders with at least this many distinct SKUs are zone-picked"})
    batch_min_units: int = field(default=101, metadata={"doc": "pick method rule: orders with at least this many units are batch-picked"})
    cluster_min_lines: int = field(default=11, metadata={"doc": "pick method rule: orders with this many lines or more (up to cluster_max_lines) are cluster-picked"})
    cluster_max_lines: int = field(default=50, metadata={"doc": "pick method rule: upper bound of the cluster band"})
    cluster_totes: int = field(default=6, metadata={"doc": "totes on one cluster-picking cart (orders per cluster run)"})
    batch_orders: int = field(default=8, metadata={"doc": "orders per batch/wave pick run"})
    weight_tolerance_pct: float = field(default=3.0, metadata={"doc": "weight gate: allowed deviation in percent of the expected weight ..."})
    weight_tolerance_min_g: int = field(default=50, metadata={"doc": "... but never less than this many grams (tolerance = max of both)"})
    scale_timeout_s: float = field(default=3.0, metadata={"doc": "seconds to wait for a stable scale reading"})
    manual_weight: bool = field(default=True, metadata={"doc": "allow a typed weight when no scale is configured (audited as manual)"})
    count_variance_units: int = field(default=2, metadata={"doc": "cycle count: a variance of more than this many units ..."})
    count_variance_pct: float = field(default=5.0, metadata={"doc": "... and more than this percent of expected needs a recount by another user"})
    station_user: str = field(default="", metadata={"doc": "user (packer) the pack-station serial scanner (devices.scanner_port) scans as; empty = the station scanner is not used"})
    max_scan_qty: int = field(default=999, metadata={"doc": "largest quantity accepted in one scan/entry (more is refused as absurd)"})
    carrier_cutoffs: tuple[str, ...] = field(default=(), metadata={"doc": "carrier pickup cut-offs in site local time for wave release, as `carrier=HH:MM` or `carrier:service=HH:MM` (e.g. `ups=17:00,fedex:overnight=15:30`); the `cutoffs` of central's `site.config` win per key"})
    timezone: str = field(default="UTC", metadata={"doc": "site time zone for cut-offs until central sends `site.config` (IANA name, e.g. America/New_York)"})
    count_tick_s: float = field(default=300.0, metadata={"doc": "seconds between runs of the cycle-count scheduler inside `floorsync edge serve` (0 = off)"})
    count_overdue_days: int = field(default=2, metadata={"doc": "a scheduled count task not done this many days after it fell due is overdue"})
    count_abc_days: int = field(default=30, metadata={"doc": "ABC count classes: pick velocity is measured over this many days"})
    count_abc_a_pct: float = field(default=20.0, metadata={"doc": "ABC count classes: the fastest-picked SKUs making up this percent of the stocked SKUs are class A ..."})
    count_abc_b_pct: float = field(default=30.0, metadata={"doc": "... the next this percent are class B; the rest (and never-picked SKUs) class C"})

    def validate(self) -> None:
        if not re.fullmatch(r"[A-Z0-9]{2,12}", self.site_id):
            raise ValueError(f"site_id: must be 2-12 upper-case letters/digits, got {self.site_id!r}")
        if not 0 <= self.port < 65536:
            raise ValueError(f"port: must be 0-65535, got {self.port}")
        if self.weight_tolerance_pct < 0 or self.weight_tolerance_min_g < 0:
            raise ValueError("weight_tolerance_pct/weight_tolerance_min_g: must be >= 0")
        if self.server_threads < 1:
            raise ValueError(f"server_threads: must be >= 1, got {self.server_threads}")
        if self.max_scan_qty < 1:
            raise ValueError(f"max_scan_qty: must be >= 1, got {self.max_scan_qty}")
        from edge.core.waves import parse_cutoffs, site_zone
        try:
            parse_cutoffs(self.carrier_cutoffs)
            site_zone(self.timezone)
        except ValueError as exc:
            raise ValueError(f"carrier_cutoffs/timezone: {exc}") from None
        if self.count_tick_s < 0 or self.count_overdue_days < 0 or self.count_abc_days < 1:
            raise ValueError("count_tick_s/count_overdue_days must be >= 0, count_abc_days >= 1")
        if not (0 <= self.count_abc_a_pct <= 100 and 0 <= self.count_abc_b_pct <= 100
                and self.count_abc_a_pct + self.count_abc_b_pct <= 100):
            raise ValueError("count_abc_a_pct/count_abc_b_pct: percentages 0-100 that add up to at most 100")
