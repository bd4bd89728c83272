"""A serial barcode scanner on a pty: ``scan(code)`` types a code followed by the suffix.

Faults: ``scan(code, doubled=True)`` (the same read sent twice back to back),
``scan_truncated(code)`` (cut in half), ``scan_with_control(code)`` (a BEL in the middle),
``scan_long(10_240)`` (a 10 kB line), ``unplug()`` / ``plug()`` (same path, new pty).
Use ``GS = "\\x1d"`` between GS1 element strings, e.g. ``"]C1" + "0109506000134352" + "10LOT" + GS + "21S1"``.
"""
from __future__ import annotations

import os
import tempfile

from devices.sim.base import PtyDevice

GS = "\x1d"
SUFFIXES = {"cr": "\r", "lf": "\n", "crlf": "\r\n"}


class ScannerSim:
    def __init__(self, path: str | None = None, suffix: str = "cr") -> None:
        self._tmp = None
        if path is None:
            self._tmp = tempfile.mkdtemp(prefix="floorsync-scanner-")
            path = os.path.join(self._tmp, "scanner")
        self.device = PtyDevice(path)
        self.suffix = SUFFIXES[suffix]
        self.sent: list[str] = []

    @property
    def path(self) -> str:
        return self.device.path

    def start(self) -> "ScannerSim":
        self.device.plug()
        return self

    def stop(self) -> None:
        self.device.unplug()
        if self._tmp:
            try:
                os.rmdir(self._tmp)
            except OSError:
                pass

    def __enter__(self) -> "ScannerSim":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def unplug(self) -> None:
        self.device.unplug()

    def plug(self) -> None:
        self.device.plug()

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
