"""A serial barcode scanner on a pty: ``scan(code)`` types a code followed by the suffix.

Faults: ``scan(code, doubled=True)`` (the same read sent twice back to back),
``scan_truncated(code)`` (cut in half), ``scan_with_control(code)`` (a BEL in the middle),
``scan_long(10_240)`` (a 10 kB line), ``unplug()`` / ``plug()`` (same path, new pty).
Use ``GS = "\\x1d"`` between GS1 element strings, e.g. ``"]C1" + "0109506000134352" + "10LOT" + GS + "21S1"``.
"""
from __future__ import annotations

from devices.discovery import SCANNER_TYPE
from devices.sim.base import PtySim

GS = "\x1d"
SUFFIXES = {"cr": "\r", "lf": "\n", "crlf": "\r\n"}


class ScannerSim(PtySim):
    service_type = SCANNER_TYPE

    def __init__(self, path: str | None = None, suffix: str = "cr", advertise: bool = False,
                 instance: str | None = None) -> None:
        super().__init__(path, "scanner", advertise, instance)
        self.suffix = SUFFIXES[suffix]
        self.sent: list[str] = []

    def _type(self, text: str) -> None:
        self.sent.append(text)
        self.device.write((text + self.suffix).encode("latin-1"))

    def scan(self, code: str, doubled: bool = False) -> None:
        self._type(code)
        if doubled:
            self._type(code)

    def scan_truncated(self, code: str) -> None:
        self._type(code[: max(1, len(code) // 2)])

    def scan_with_control(self, code: str, char: str = "\x07") -> None:
        half = len(code) // 2
        self._type(code[:half] + char + code[half:])

    def scan_long(self, n: int = 10_240) -> None:
        self._type("9" * n)
