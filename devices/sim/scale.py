"""A scale on a pty speaking MT-SICS, NCI or CAS (the driver opens ``sim.path``).

Control: ``set_weight(grams, settle_s=0)`` (in motion until settled), ``set_motion(bool)``,
``set_overload(bool)``, negative grams = under zero, ``garbage(n)`` (the next n replies are
line noise), ``unplug()`` / ``plug()`` (the path disappears / comes back with a new pty).
MT-SICS ``S`` waits up to ``sics_stable_wait_s`` for stability, then answers ``S I``.
CAS streams a frame every ``cas_interval_s``.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from devices.core.scale_frames import format_cas, format_nci, format_sics, grams_to_unit, nci_status_bytes
from devices.discovery import SCALE_TYPE
from devices.sim.base import PtySim

logger = logging.getLogger(__name__)

DEFAULT_UNITS = {"mt-sics": "g", "nci": "lb", "cas": "kg"}
GARBAGE = b"\xfe\x00#@!~noise\xff\r\n\x03"


class ScaleSim(PtySim):
    service_type = SCALE_TYPE

    def __init__(self, protocol: str = "mt-sics", path: str | None = None, unit: str | None = None,
                 sics_stable_wait_s: float = 1.0, cas_interval_s: float = 0.05, advertise: bool = False,
                 instance: str | None = None) -> None:
        if protocol not in DEFAULT_UNITS:
            raise ValueError(f"unknown scale protocol {protocol!r}")
        super().__init__(path, f"scale-{protocol}", advertise, instance)
        self.protocol = protocol
        self.unit = unit or DEFAULT_UNITS[protocol]
        self.sics_stable_wait_s = sics_stable_wait_s
        self.cas_interval_s = cas_interval_s
        self._lock = threading.Lock()
        self.grams = 0
        self.tare_g = 0
        self._settle_at = 0.0
        self.motion = False
        self.overload = False
        self._garbage = 0
        self.commands: list[str] = []

    # --- control ------------------------------------------------------------------------------
    def txt_properties(self) -> dict:
        return {"path": self.path, "protocol": self.protocol, "unit": self.unit}

    def set_weight(self, grams: int, settle_s: float = 0.0) -> None:
        with self._lock:
            self.grams = int(grams)
            self._settle_at = time.monotonic() + settle_s if settle_s > 0 else 0.0

    def set_motion(self, on: bool = True) -> None:
        with self._lock:
            self.motion = bool(on)

    def set_overload(self, on: bool = True) -> None:
        with self._lock:
            self.overload = bool(on)

    def garbage(self, n: int = 1) -> None:
        with self._lock:
            self._garbage = int(n)

    def _state(self) -> tuple[str, int]:
        with self._lock:
            net = self.grams - self.tare_g
            moving = self.motion or (self._settle_at and time.monotonic() < self._settle_at)
            if self.overload:
                return "overload", net
            if net < 0 and not moving:
                return "underzero", net
            return ("motion" if moving else "stable"), net

    def _take_garbage(self) -> bool:
        with self._lock:
            if self._garbage > 0:
                self._garbage -= 1
                return True
            return False

    # --- protocol -----------------------------------------------------------------------------
    def _send(self, text: str | bytes) -> None:
        if self._take_garbage():
            self.device.write(GARBAGE)
            return
        self.device.write(text if isinstance(text, bytes) else text.encode("latin-1"))

    def _run(self) -> None:
        buf = b""
        next_frame = 0.0
        while not self._stop.is_set():
            if not self.device.plugged:
                buf = b""
                self._stop.wait(0.05)
                continue
            if self.protocol == "cas":
                now = time.monotonic()
                if now >= next_frame:
                    state, net = self._state()
                    frame = format_cas(state, net, self.unit) + "\r\n"
                    self._send_nowait(frame.encode("latin-1"))
                    next_frame = now + self.cas_interval_s
                self.device.read(max(0.0, min(0.05, next_frame - time.monotonic())))
                continue
            data = self.device.read(0.05)
            if not data:
                continue
            buf += data
            sep = b"\r\n" if self.protocol == "mt-sics" else b"\r"
            while sep in buf:
                line, buf = buf.split(sep, 1)
                cmd = line.decode("latin-1").strip()
                if cmd:
                    self.commands.append(cmd)
                    self._answer(cmd)
            if len(buf) > 1024:
                buf = b""

    def _send_nowait(self, data: bytes) -> None:
        fd = self.device.master
        if fd is None:
            return
        if self._take_garbage():
            data = GARBAGE
        try:
            os.write(fd, data)
        except (BlockingIOError, OSError):
            pass  # nobody is reading: a streaming scale just drops frames

    def _answer(self, cmd: str) -> None:
        if self.protocol == "mt-sics":
            self._answer_sics(cmd)
        else:
            self._answer_nci(cmd)

    def _answer_sics(self, cmd: str) -> None:
        if cmd == "S":
            deadline = time.monotonic() + self.sics_stable_wait_s
            state, net = self._state()
            while state == "motion" and time.monotonic() < deadline and not self._stop.is_set():
                self._stop.wait(0.02)
                state, net = self._state()
            self._send(format_sics("S", "busy" if state == "motion" else state, net, self.unit) + "\r\n")
        elif cmd == "SI":
            state, net = self._state()
            self._send(format_sics("SI", state, net, self.unit) + "\r\n")
        elif cmd in ("T", "Z"):
            state, net = self._state()
            if state == "motion":
                self._send(f"{cmd} I\r\n")
            elif state == "overload":
                self._send(f"{cmd} +\r\n")
            elif cmd == "T":
                if state == "underzero":
                    self._send("T -\r\n")
                    return
                with self._lock:
                    self.tare_g = self.grams
                    tare = self.tare_g
                self._send(f"T S {grams_to_unit(tare, self.unit):>10} {self.unit}\r\n")
            else:
                with self._lock:
                    self.tare_g = 0
                    self.grams = 0
                self._send("Z A\r\n")
        else:
            self._send("ES\r\n")

    def _answer_nci(self, cmd: str) -> None:
        state, net = self._state()
        if cmd == "W":
            self._send(format_nci(state, net, self.unit))
        elif cmd == "S":
            self._send("\n" + nci_status_bytes(motion=state == "motion", at_zero=net == 0,
                                               over=state == "overload", under=state == "underzero") + "\r\x03")
        elif cmd == "Z":
            if state == "stable" or state == "underzero":
                with self._lock:
                    self.grams = 0
                    self.tare_g = 0
            state, net = self._state()
            self._send("\n" + nci_status_bytes(motion=state == "motion", at_zero=net == 0,
                                               over=state == "overload") + "\r\x03")
        else:
            self._send("\n?\r\x03")
