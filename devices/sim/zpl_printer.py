"""A Zebra-style ZPL printer on raw TCP (port 9100 by default; 0 = a free port).

It stores every label format it prints, renders a PNG preview, answers ``~HS`` truthfully
(``~JA`` cancels the buffer, ``~PS``/``~PP`` resume/pause), and misbehaves on command or on a
schedule:

* ``paper_out``, ``head_open``, ``ribbon_out``, ``paused``: reported by ``~HS``; formats that
  arrive meanwhile wait in the buffer and print once the fault clears (like the real thing);
* ``slow``: seconds spent printing each format (replies queue behind it);
* ``stall``: accept-then-stall — it reads the job, then never prints or answers again on that
  connection;
* ``reset``: reset mid-job — the next job's connection is cut with a TCP RST and the format is lost.

``schedule("paper_out", after=3)`` switches a fault on once 3 labels have printed.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from devices.core.printer_status import PrinterStatus, format_hs
from devices.core.zpl import Label, ZplStream, parse_label
from devices.sim.base import TcpSim
from floorsync.log import log_event

logger = logging.getLogger(__name__)

FLAGS = ("paper_out", "head_open", "ribbon_out", "paused", "buffer_full")
FAULTS = FLAGS + ("slow", "stall", "reset")


@dataclass(frozen=True)
class ReceivedLabel:
    index: int
    zpl: bytes
    label: Label
    received_at: float


class ZplPrinterSim(TcpSim):
    service_type = "_pdl-datastream._tcp.local."

    def __init__(self, host: str = "127.0.0.1", port: int = 0, store_dir: str | None = None,
                 advertise: bool = False, instance: str | None = None, zeroconf_interface: str = "127.0.0.1") -> None:
        super().__init__(host, port, advertise, instance or "floorsync ZPL simulator", zeroconf_interface)
        self.store_dir = Path(store_dir) if store_dir else None
        self.flags = {f: False for f in FLAGS}
        self.slow_s = 0.0
        self.stall = False
        self.reset_next = 0
        self.labels: list[ReceivedLabel] = []
        self.buffered: list[bytes] = []
        self.lost: list[bytes] = []
        self.status_queries = 0
        self._schedule: list[tuple[int, str, object]] = []

    def txt_properties(self) -> dict:
        return {"product": "(floorsync ZPL simulator)", "pdl": "application/vnd.zebra-zpl", "ty": "floorsync ZPL sim"}

    # --- control ----------------------------------------------------------------------------
    def set_fault(self, name: str, value: object = True) -> None:
        """Switch a fault on (``True`` / seconds for ``slow`` / count for ``reset``) or off."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; one of {', '.join(FAULTS)}")
        with self._lock:
            if name in FLAGS:
                self.flags[name] = bool(value)
            elif name == "slow":
                self.slow_s = float(value) if value not in (True, False) else (1.0 if value else 0.0)
            elif name == "stall":
                self.stall = bool(value)
            elif name == "reset":
                self.reset_next = int(value) if value not in (True, False) else (1 if value else 0)
            log_event(logger, "zpl_sim_fault", fault=name, value=value)
            self._release_buffer()
            self._changed.notify_all()

    def clear_faults(self) -> None:
        for f in FLAGS:
            self.set_fault(f, False)
        self.set_fault("slow", 0)
        self.set_fault("stall", False)
        self.set_fault("reset", 0)

    def schedule(self, fault: str, after: int, value: object = True) -> None:
        """Switch ``fault`` to ``value`` once ``after`` labels have printed in total."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._schedule.append((int(after), fault, value))
            self._apply_schedule()

    def status(self) -> PrinterStatus:
        with self._lock:
            return PrinterStatus(buffer_full=self.flags["buffer_full"], paper_out=self.flags["paper_out"],
                                 head_open=self.flags["head_open"], ribbon_out=self.flags["ribbon_out"],
                                 paused=self.flags["paused"], formats_in_buffer=len(self.buffered))

    def wait_for_labels(self, n: int, timeout_s: float = 5.0) -> bool:
        return self.wait_until(lambda: len(self.labels) >= n, timeout_s)

    def png(self, index: int) -> bytes:
        """PNG preview of printed label ``index`` (0-based)."""
        from devices.sim.render import render_png

        return render_png(self.labels[index].label)

    def texts(self) -> list[list[str]]:
        return [r.label.texts() for r in self.labels]

    # --- printer behaviour --------------------------------------------------------------------
    def _ready(self) -> bool:
        return not any(self.flags[f] for f in ("paper_out", "head_open", "ribbon_out", "paused"))

    def _print(self, zpl: bytes) -> None:
        label = parse_label(zpl)
        rec = ReceivedLabel(len(self.labels), zpl, label, time.time())
        self.labels.append(rec)
        if self.store_dir is not None:
            from devices.sim.render import render_png

            self.store_dir.mkdir(parents=True, exist_ok=True)
            stem = self.store_dir / f"label-{rec.index + 1:04d}"
            stem.with_suffix(".zpl").write_bytes(zpl)
            stem.with_suffix(".png").write_bytes(render_png(label))
        log_event(logger, "zpl_sim_printed", index=rec.index, texts=len(label.texts()))
        self._apply_schedule()
        self._changed.notify_all()

    def _release_buffer(self) -> None:
        while self.buffered and self._ready():
            self._print(self.buffered.pop(0))

    def _apply_schedule(self) -> None:
        due = [s for s in self._schedule if len(self.labels) >= s[0]]
        if not due:
            return
        self._schedule = [s for s in self._schedule if len(self.labels) < s[0]]
        for _, fault, value in due:
            if fault in FLAGS:
                self.flags[fault] = bool(value)
            elif fault == "slow":
                self.slow_s = float(value) if value is not True else 1.0
            elif fault == "stall":
                self.stall = bool(value)
            elif fault == "reset":
                self.reset_next = 1 if value is True else int(value)

    def _accept_format(self, zpl: bytes) -> None:
        with self._lock:
            slow = self.slow_s
        if slow and self.stopping.wait(slow):
            return
        with self._lock:
            if self._ready():
                self._print(zpl)
            else:
                self.buffered.append(zpl)
                self._changed.notify_all()

    def handle(self, conn) -> None:
        stream = ZplStream()
        while not self.stopping.is_set():
            try:
                data = conn.recv(65536)
            except (TimeoutError, OSError) as exc:
                if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                    continue
                return
            if not data:
                return
            items = stream.feed(data)
            with self._lock:
                reset = self.reset_next > 0 and (stream.pending or any(k == "format" for k, _ in items))
                if reset:
                    self.reset_next -= 1
                    self.lost += [v for k, v in items if k == "format"]
            if reset:
                log_event(logger, "zpl_sim_reset_mid_job")
                self.reset(conn)
                return
            for kind, value in items:
                if kind == "tilde":
                    if value == "HS":
                        with self._lock:
                            self.status_queries += 1
                        conn.sendall(format_hs(self.status()))
                    elif value == "JA":
                        with self._lock:
                            self.lost += self.buffered
                            self.buffered.clear()
                    elif value == "PS":
                        self.set_fault("paused", False)
                    elif value == "PP":
                        self.set_fault("paused", True)
                    continue
                with self._lock:
                    stall = self.stall
                if stall:
                    with self._lock:
                        self.lost.append(value)
                    log_event(logger, "zpl_sim_stalled")
                    with self._changed:
                        while self.stall and not self.stopping.is_set():
                            self._changed.wait(0.2)
                    return
                self._accept_format(value)

