"""Config section for an edge's devices (see floorsync.config)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DevicesConfig:
    printer_kind: str = field(default="zpl", metadata={"doc": "label printer: `zpl` (raw TCP 9100), `escpos`, `pdf` (files only) or `none`", "choices": ("zpl", "escpos", "pdf", "none")})
    printer_host: str = field(default="127.0.0.1", metadata={"doc": "label printer host"})
    printer_port: int = field(default=9100, metadata={"doc": "label printer TCP port"})
    scale_protocol: str = field(default="none", metadata={"doc": "scale protocol: `mt-sics`, `nci`, `cas` or `none`", "choices": ("mt-sics", "nci", "cas", "none")})
    scale_port: str = field(default="", metadata={"doc": "scale serial device (e.g. /dev/ttyUSB0)"})
    scanner_port: str = field(default="", metadata={"doc": "station scanner serial device; empty = keyboard wedge only"})
    scan_debounce_ms: int = field(default=400, metadata={"doc": "the same code scanned again within this window is ignored"})
