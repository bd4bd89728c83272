"""Station scanners on serial / USB-CDC (pyserial).

The reader thread only reads bytes, splits them at the configured suffix (CR, LF or CRLF) and
puts raw lines on a queue (a configured ``prefix`` the scanner sends first is removed); it
reopens the port after an unplug (``reconnect_s``). The consumer
calls ``get(timeout_s)``, which applies :func:`devices.core.scan.parse_scan` and the debounce
on the consumer's thread and returns a :class:`ScanEvent` (accepted scan or refused input).
A line longer than ``max_line`` bytes is cut off and reported as refused (``ScanTooLong``).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable

from devices.core.scan import Debouncer, Scan, parse_scan
from devices.errors import DeviceConfigError, ScanError
from devices.health import report
from devices.serialio import open_serial, transport_errors
from devices.worker import Worker
from floorsync.log import log_event

logger = logging.getLogger(__name__)

SUFFIXES = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}
_OVERLONG = object()


@dataclass(frozen=True)
class ScanEvent:
    raw: str
    scan: Scan | None = None
    error: str | None = None
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.scan is not None


class SerialScanner(Worker):
    def __init__(self, port: str, baudrate: int = 9600, suffix: str = "cr", debounce_ms: int = 400,
                 health=None, name: str | None = None, max_line: int = 1024, reconnect_s: float = 0.2,
                 clock: Callable[[], float] = time.monotonic, prefix: str = "") -> None:
        super().__init__()
        if suffix not in SUFFIXES:
            raise DeviceConfigError(f"scanner suffix must be one of {', '.join(SUFFIXES)}")
        if not port:
            raise DeviceConfigError("a serial scanner needs a port (devices.scanner_port)")
        self.port, self.baudrate = port, int(baudrate)
        self.suffix = SUFFIXES[suffix]
        self.prefix = prefix
        self.debouncer = Debouncer(debounce_ms)
        self.health = health
        self.name = name or f"scanner:{port}"
        self.max_line = max_line
        self.reconnect_s = reconnect_s
        self._clock = clock
        self._lines: queue.Queue = queue.Queue(maxsize=1000)
        self.thread_name = f"scanner:{port}"
        self.connected = threading.Event()
        self.reconnects = 0
        self.duplicates = 0
        self.rejected = 0
        self.dropped = 0
        if health is not None:
            health.register(self.name, "scanner")
        self.join_timeout_s = 5.0

    # --- reader thread: bytes -> lines -> queue, nothing else ----------------------------------
    def _put(self, item) -> None:
        try:
            self._lines.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def _mark(self, state: str, error: str = "") -> None:
        report(self.health, self.name, state, error)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                ser = open_serial(self.port, self.baudrate)
            except transport_errors() as exc:
                self.connected.clear()
                self._mark("offline", f"cannot open {self.port}: {exc}")
                self._stop.wait(self.reconnect_s)
                continue
            if not first:
                self.reconnects += 1
                log_event(logger, "scanner_reconnected", port=self.port)
            first = False
            self.connected.set()
            self._mark("online")
            try:
                self._read_loop(ser)
            except transport_errors() as exc:
                self.connected.clear()
                self._mark("offline", f"unplugged: {exc}")
                log_event(logger, "scanner_disconnected", port=self.port, error=str(exc))
            finally:
                try:
                    ser.close()
                except Exception:  # vanished device
                    pass
            self._stop.wait(self.reconnect_s)

    def _read_loop(self, ser) -> None:
        buf = bytearray()
        overlong = 0
        while not self._stop.is_set():
            chunk = ser.read(4096)
            if not chunk:
                continue
            buf += chunk
            while True:
                idx = buf.find(self.suffix)
                if idx < 0:
                    break
                line = bytes(buf[:idx])
                del buf[:idx + len(self.suffix)]
                if overlong:
                    self._put((_OVERLONG, overlong + len(line)))
                    overlong = 0
                elif line.strip(b"\r\n"):
                    text = line.strip(b"\r\n").decode("latin-1")
                    if self.prefix and text.startswith(self.prefix):
                        text = text[len(self.prefix):]
                    self._put(text)
            if len(buf) > self.max_line:
                overlong += len(buf)
                buf.clear()

    # --- consumer side --------------------------------------------------------------------------
    def get(self, timeout_s: float = 1.0) -> ScanEvent | None:
        """The next accepted or refused scan; duplicates within the debounce window are skipped.
        None when nothing arrived within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                item = self._lines.get(timeout=left)
            except queue.Empty:
                return None
            if isinstance(item, tuple) and item[0] is _OVERLONG:
                self.rejected += 1
                return ScanEvent(raw="", error=f"line of {item[1]} bytes refused (max {self.max_line})",
                                 error_type="ScanTooLong")
            try:
                scan = parse_scan(item)
            except ScanError as exc:
                self.rejected += 1
                log_event(logger, "scan_rejected", port=self.port, error=str(exc), error_type=type(exc).__name__)
                return ScanEvent(raw=item, error=str(exc), error_type=type(exc).__name__)
            if self.debouncer.seen(scan.key, int(self._clock() * 1000)):
                self.duplicates += 1
                continue
            return ScanEvent(raw=item, scan=scan)


def open_scanner(devices_cfg, health=None) -> SerialScanner | None:
    """The configured serial scanner (not started), or None for keyboard-wedge only."""
    if not devices_cfg.scanner_port:
        return None
    return SerialScanner(devices_cfg.scanner_port, devices_cfg.scanner_baudrate, devices_cfg.scanner_suffix,
                         devices_cfg.scan_debounce_ms, health=health, prefix=devices_cfg.scanner_prefix)
