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
    printer_timeout_s: float = field(default=5.0, metadata={"doc": "seconds to wait for the printer to connect / answer a status query before the job is offline (before sending) or unknown (after)"})
    print_retry_attempts: int = field(default=3, metadata={"doc": "attempts for a print job that failed before any byte was sent (printer offline / not ready); then it is `failed`"})
    print_retry_backoff_s: float = field(default=1.0, metadata={"doc": "seconds between print attempts (doubles each retry)"})
    escpos_transport: str = field(default="network", metadata={"doc": "ESC/POS transport when printer_kind = escpos: `network` (printer_host:printer_port), `serial`, `usb` or `dummy`", "choices": ("network", "serial", "usb", "dummy")})
    escpos_serial_port: str = field(default="", metadata={"doc": "ESC/POS serial device (escpos_transport = serial)"})
    escpos_baudrate: int = field(default=9600, metadata={"doc": "ESC/POS serial baud rate"})
    escpos_usb_vendor_id: str = field(default="0x04b8", metadata={"doc": "ESC/POS USB vendor id, hex (escpos_transport = usb)"})
    escpos_usb_product_id: str = field(default="0x0202", metadata={"doc": "ESC/POS USB product id, hex (escpos_transport = usb)"})
    pdf_dir: str = field(default="", metadata={"doc": "directory for printer_kind = pdf; empty = `<data_dir>/labels-pdf`"})
    scale_baudrate: int = field(default=9600, metadata={"doc": "scale serial baud rate"})
    scale_timeout_s: float = field(default=3.0, metadata={"doc": "seconds to wait for a stable weight before reporting the scale unstable"})
    scanner_baudrate: int = field(default=9600, metadata={"doc": "station scanner serial baud rate"})
    scanner_suffix: str = field(default="cr", metadata={"doc": "station scanner line terminator: `cr`, `lf` or `crlf`", "choices": ("cr", "lf", "crlf")})
    scanner_prefix: str = field(default="", metadata={"doc": "characters the station scanner sends before each code (removed before parsing); empty = none"})
    health_poll_s: float = field(default=10.0, metadata={"doc": "seconds between device health probes (printer status query, scale presence)"})
    discovery_advertise: bool = field(default=True, metadata={"doc": "advertise the edge console via zeroconf as `_floorsync._tcp` (site id in TXT)"})
    discovery_interface: str = field(default="", metadata={"doc": "IP address zeroconf binds to; empty = all interfaces (tests use 127.0.0.1)"})
