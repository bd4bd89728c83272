"""An ESC/POS printer on TCP: captures each job (one connection = one job), answers the
``DLE EOT n`` real-time status queries, keeps a text (and PNG) preview, and loses jobs on power cycle.

Faults: ``paper_out``, ``head_open`` (cover open) via status; ``power_cycle_next(n)`` — the next
``n`` jobs are lost: the printer reboots after receiving the bytes (TCP RST, nothing printed);
``power_cycle()`` — reboot now, dropping whatever is in flight.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from devices.core.escpos_text import EscposPreview, escpos_preview
from devices.core.printer_status import PrinterStatus, format_escpos_status
from devices.sim.base import TcpSim
from floorsync.log import log_event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CapturedJob:
    index: int
    data: bytes
    preview: EscposPreview
    received_at: float


class EscposPrinterSim(TcpSim):
    service_type = "_printer._tcp.local."

    def __init__(self, host: str = "127.0.0.1", port: int = 0, advertise: bool = False,
                 instance: str | None = None, zeroconf_interface: str = "127.0.0.1") -> None:
        super().__init__(host, port, advertise, instance or "floorsync ESC-POS simulator", zeroconf_interface)
        self.paper_out = False
        self.head_open = False
        self.lose_next = 0
        self.jobs: list[CapturedJob] = []
        self.lost: list[bytes] = []
        self.power_cycles = 0

    def set_fault(self, name: str, value: bool = True) -> None:
        if name not in ("paper_out", "head_open"):
            raise ValueError(f"unknown fault {name!r}; one of paper_out, head_open")
        with self._lock:
            setattr(self, name, bool(value))

    def power_cycle_next(self, n: int = 1) -> None:
        with self._lock:
            self.lose_next = int(n)

    def power_cycle(self) -> None:
        with self._lock:
            self.power_cycles += 1
        self.drop_connections()

    def status(self) -> PrinterStatus:
        with self._lock:
            return PrinterStatus(paper_out=self.paper_out, head_open=self.head_open)

    def wait_for_jobs(self, n: int, timeout_s: float = 5.0) -> bool:
        return self.wait_until(lambda: len(self.jobs) >= n, timeout_s)

    def png(self, index: int) -> bytes:
        """PNG of job ``index`` as an 80 mm receipt (text preview, one line per row)."""
        import io

        from PIL import Image, ImageDraw, ImageFont

        lines = self.jobs[index].preview.text.split("\n")
        font = ImageFont.load_default(size=20)
        img = Image.new("L", (576, 24 * len(lines) + 32), 255)
        draw = ImageDraw.Draw(img)
        for row, text in enumerate(lines):
            draw.text((16, 16 + row * 24), text, fill=0, font=font)
        out = io.BytesIO()
        img.save(out, format="PNG")
        return out.getvalue()

    def handle(self, conn) -> None:
        job = bytearray()
        pending = b""
        while not self.stopping.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = None
            if not data:
                break
            data = pending + data
            pending = b""
            i = 0
            while i < len(data):
                if data[i] == 0x10 and i + 1 < len(data) and data[i + 1] == 0x04:
                    if i + 2 >= len(data):
                        pending = data[i:]
                        break
                    n = data[i + 2]
                    with self._lock:
                        lose = self.lose_next > 0 and len(job) > 0
                        if lose:
                            self.lose_next -= 1
                            self.power_cycles += 1
                            self.lost.append(bytes(job))
                    if lose:
                        log_event(logger, "escpos_sim_power_cycle", lost_bytes=len(job))
                        self.reset(conn)
                        return
                    conn.sendall(format_escpos_status(n, self.status()))
                    i += 3
                    continue
                job.append(data[i])
                i += 1
        if job:
            with self._lock:
                rec = CapturedJob(len(self.jobs), bytes(job), escpos_preview(bytes(job)), time.time())
                self.jobs.append(rec)
                self._changed.notify_all()
            log_event(logger, "escpos_sim_printed", index=rec.index, size=len(job))
