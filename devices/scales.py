"""Scales over serial (pyserial): MT-SICS, NCI (Avery Weigh-Tronix) and CAS.

``open_scale(protocol, port).read_stable(timeout_s) -> int`` returns grams from a *stable*
reading only. Motion until the deadline raises :class:`ScaleUnstable`; overload / under zero
raise :class:`ScaleOverload` / :class:`ScaleUnderZero`; an unplugged or silent device raises
:class:`ScaleDisconnected` (the port is reopened on the next call); garbage frames are skipped
and, if nothing else came, :class:`ScaleProtocolError`. These calls block up to ``timeout_s``:
run them on a worker thread, not a web request.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from devices.core.scale_frames import Reading, parse_cas, parse_nci, parse_nci_status, parse_sics
from devices.errors import (
    DeviceConfigError,
    ScaleDisconnected,
    ScaleError,
    ScaleOverload,
    ScaleProtocolError,
    ScaleUnderZero,
    ScaleUnstable,
)
from devices.health import report
from devices.serialio import open_serial, transport_errors
from floorsync.log import log_event

logger = logging.getLogger(__name__)

PROTOCOLS = ("mt-sics", "nci", "cas")


class Scale(Protocol):
    name: str

    def read(self, timeout_s: float = 1.0) -> Reading: ...

    def read_stable(self, timeout_s: float = 3.0) -> int: ...

    def zero(self, timeout_s: float = 3.0) -> None: ...

    def tare(self, timeout_s: float = 3.0) -> int: ...

    def close(self) -> None: ...


class SerialScale:
    protocol = ""
    poll_s = 0.02  # pause between polls while the load is moving

    def __init__(self, port: str, baudrate: int = 9600, health=None, name: str | None = None) -> None:
        self.port, self.baudrate = port, int(baudrate)
        self.health = health
        self.name = name or f"scale:{port}"
        self._serial = None
        self._lock = threading.Lock()  # one command/response exchange at a time
        self.garbage_frames = 0

    # --- transport ------------------------------------------------------------------------
    def _open(self):
        if self._serial is not None:
            return self._serial
        try:
            self._serial = open_serial(self.port, self.baudrate)
        except transport_errors() as exc:
            self._mark("offline", str(exc))
            raise ScaleDisconnected(f"{self.name}: cannot open {self.port}: {exc}") from exc
        return self._serial

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # closing a vanished device must not raise
                pass

    def _io_failed(self, exc: Exception) -> ScaleDisconnected:
        self.close()
        self._mark("offline", str(exc))
        return ScaleDisconnected(f"{self.name}: device gone: {exc}")

    def _write(self, data: bytes) -> None:
        ser = self._open()
        try:
            ser.reset_input_buffer()
            ser.write(data)
            ser.flush()
        except transport_errors() as exc:
            raise self._io_failed(exc) from exc

    def _read_until(self, terminator: bytes, deadline: float, limit: int = 512) -> bytes | None:
        """One frame ending in ``terminator``; None on timeout; garbage over ``limit`` is cut."""
        ser = self._open()
        buf = bytearray()
        try:
            while time.monotonic() < deadline:
                chunk = ser.read_until(terminator, size=limit - len(buf))
                if chunk:
                    buf += chunk
                    if buf.endswith(terminator) or len(buf) >= limit:
                        return bytes(buf)
        except transport_errors() as exc:
            raise self._io_failed(exc) from exc
        return None

    def _mark(self, state: str, error: str = "") -> None:
        report(self.health, self.name, state, error)

    # --- protocol hooks -----------------------------------------------------------------------
    def _exchange(self, deadline: float, immediate: bool) -> Reading | None:
        raise NotImplementedError

    # --- public API ---------------------------------------------------------------------------
    def read(self, timeout_s: float = 1.0) -> Reading:
        """One reading (any state) — for a live display; raises on silence/garbage."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while time.monotonic() < deadline:
                try:
                    reading = self._exchange(deadline, immediate=True)
                except ScaleProtocolError:
                    self.garbage_frames += 1
                    continue
                if reading is not None:
                    self._mark("online")
                    return reading
        raise ScaleDisconnected(f"{self.name}: no answer within {timeout_s:g}s")

    def read_stable(self, timeout_s: float = 3.0) -> int:
        deadline = time.monotonic() + timeout_s
        last: Reading | None = None
        garbage = None
        with self._lock:
            while time.monotonic() < deadline:
                try:
                    reading = self._exchange(deadline, immediate=False)
                except ScaleProtocolError as exc:
                    self.garbage_frames += 1
                    garbage = exc
                    log_event(logger, "scale_garbage_frame", scale=self.name, error=str(exc))
                    continue
                if reading is None:
                    continue
                last = reading
                self._mark("online")
                if reading.state == "stable":
                    return int(reading.grams)
                if reading.state == "overload":
                    raise ScaleOverload(f"{self.name}: overload")
                if reading.state == "underzero":
                    raise ScaleUnderZero(f"{self.name}: below zero")
                if self.poll_s:  # motion: ask again shortly
                    time.sleep(min(self.poll_s, max(0.0, deadline - time.monotonic())))
        if last is not None:
            raise ScaleUnstable(f"{self.name}: no stable weight within {timeout_s:g}s (last: {last.state}"
                                f"{'' if last.grams is None else f' {last.grams} g'})")
        if garbage is not None:
            self._mark("error", str(garbage))
            raise ScaleProtocolError(f"{self.name}: only unreadable frames within {timeout_s:g}s: {garbage}")
        self._mark("offline", "no answer")
        raise ScaleDisconnected(f"{self.name}: no answer within {timeout_s:g}s")

    def zero(self, timeout_s: float = 3.0) -> None:
        raise ScaleError(f"{self.name}: the {self.protocol} protocol has no zero command")

    def tare(self, timeout_s: float = 3.0) -> int:
        raise ScaleError(f"{self.name}: the {self.protocol} protocol has no tare command")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class MtSicsScale(SerialScale):
    """Mettler Toledo MT-SICS level 0/1: ``S``, ``SI``, ``T``, ``Z``."""

    protocol = "mt-sics"

    def _exchange(self, deadline: float, immediate: bool) -> Reading | None:
        # SI (immediate) polled, never the blocking S: the scale's own wait-for-stable timeout
        # would otherwise outlast ours and leave a stale reply on the line. Only "S S" counts.
        self._write(b"SI\r\n")
        line = self._read_until(b"\r\n", deadline)
        if line is None:
            return None
        return parse_sics(line.decode("ascii", errors="replace").strip())

    def _command(self, cmd: str, timeout_s: float) -> list[str]:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._write(cmd.encode("ascii") + b"\r\n")
            line = self._read_until(b"\r\n", deadline)
        if line is None:
            self._mark("offline", "no answer")
            raise ScaleDisconnected(f"{self.name}: no answer to {cmd}")
        parts = line.decode("ascii", errors="replace").split()
        if not parts or parts[0] != cmd:
            raise ScaleProtocolError(f"{self.name}: unexpected reply to {cmd}: {line!r}")
        return parts

    def _check(self, cmd: str, parts: list[str]) -> None:
        code = parts[1] if len(parts) > 1 else ""
        if code == "I":
            raise ScaleUnstable(f"{self.name}: {cmd} not executed (load moving)")
        if code == "+":
            raise ScaleOverload(f"{self.name}: {cmd} refused: overload")
        if code == "-":
            raise ScaleUnderZero(f"{self.name}: {cmd} refused: under zero")

    def zero(self, timeout_s: float = 3.0) -> None:
        parts = self._command("Z", timeout_s)
        self._check("Z", parts)
        if parts[1:2] != ["A"]:
            raise ScaleProtocolError(f"{self.name}: unexpected zero reply {' '.join(parts)!r}")

    def tare(self, timeout_s: float = 3.0) -> int:
        """Tare the current load; returns the tare weight in grams."""
        from devices.core.scale_frames import to_grams

        parts = self._command("T", timeout_s)
        self._check("T", parts)
        if len(parts) < 4 or parts[1] != "S":
            raise ScaleProtocolError(f"{self.name}: unexpected tare reply {' '.join(parts)!r}")
        return to_grams(parts[2], parts[3])


class NciScale(SerialScale):
    """NCI standard scale protocol (Avery Weigh-Tronix and compatibles): ``W``, ``S``, ``Z``."""

    protocol = "nci"

    def _exchange(self, deadline: float, immediate: bool) -> Reading | None:
        self._write(b"W\r")
        frame = self._read_until(b"\x03", deadline)
        if frame is None:
            return None
        return parse_nci(frame.decode("latin-1"))

    def zero(self, timeout_s: float = 3.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._write(b"Z\r")
            frame = self._read_until(b"\x03", deadline)
        if frame is None:
            raise ScaleDisconnected(f"{self.name}: no answer to Z")
        flags = parse_nci_status(frame.decode("latin-1"))
        if flags["motion"]:
            raise ScaleUnstable(f"{self.name}: zero not executed (load moving)")
        if flags["over"] or flags["under"]:
            raise ScaleError(f"{self.name}: zero refused (outside range)")


class CasScale(SerialScale):
    """CAS stream format (``ST``/``US``/``OL``,``GS``/``NT``,weight unit): the scale sends frames
    continuously; the driver discards what was buffered and reads fresh frames."""

    protocol = "cas"
    poll_s = 0.0  # the scale streams; just read the next frame

    def _exchange(self, deadline: float, immediate: bool) -> Reading | None:
        ser = self._open()
        if not getattr(self, "_flushed", False):
            try:
                ser.reset_input_buffer()
            except transport_errors() as exc:
                raise self._io_failed(exc) from exc
            self._flushed = True
        line = self._read_until(b"\r\n", deadline)
        if line is None:
            return None
        reading = parse_cas(line.decode("latin-1"))
        if immediate or reading.state != "stable":
            self._previous = None
            return reading
        previous, self._previous = getattr(self, "_previous", None), reading
        if previous is None or previous.grams != reading.grams:
            return Reading("motion", reading.grams, reading.unit, reading.raw)
        return reading

    def read_stable(self, timeout_s: float = 3.0) -> int:
        """Two consecutive identical stable frames are required (a streamed frame may be stale)."""
        self._flushed = False
        self._previous = None
        return super().read_stable(timeout_s)

    def read(self, timeout_s: float = 1.0) -> Reading:
        self._flushed = False
        return super().read(timeout_s)


def open_scale(protocol: str, port: str, baudrate: int = 9600, health=None, name: str | None = None) -> SerialScale:
    """A scale driver for ``protocol`` on serial ``port``. Does no I/O until the first read."""
    classes = {"mt-sics": MtSicsScale, "nci": NciScale, "cas": CasScale}
    if protocol not in classes:
        raise DeviceConfigError(f"unknown scale protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
    if not port:
        raise DeviceConfigError("a scale needs a serial port (devices.scale_port)")
    return classes[protocol](port, baudrate, health=health, name=name)
