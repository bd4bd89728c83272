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

    def validate(self) -> None:
        if not re.fullmatch(r"[A-Z0-9]{2,12}", self.site_id):
            raise ValueError(f"site_id: must be 2-12 upper-case letters/digits, got {self.site_id!r}")
        if not 0 <= self.port < 65536:
            raise ValueError(f"port: must be 0-65535, got {self.port}")
