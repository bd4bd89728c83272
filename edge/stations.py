"""Station serial scanners (``devices.scanners.SerialScanner``) feeding the pack workflow.

A pack station has a fixed serial/USB-CDC scanner instead of a keyboard-wedge handheld. The
scanner's reader thread only queues lines; this station's own thread takes parsed
:class:`devices.scanners.ScanEvent` s off it and runs each through exactly the same service calls
as the handheld's pack page (``Packing.station_scan``: tote/order -> verify items -> carton ->
shipping label), as the station's configured user (``edge.station_user``). Refused input
(control characters, bad check digits, over-long lines) is written to the audit log like a
refused handheld scan. Both threads are joined on ``stop()``.

Command barcodes (``edge.core.commands``, printed on the bench's command sheet) are recognised
before the workflow sees a scan: ``CMD-CLOSE-CARTON`` closes the carton being filled with the
units verified since the last one — weighed on the station's scale through the weight gate, its
own label printed — exactly like the pack page's "Close carton" button (``Packing.close_carton``);
once every unit is verified it closes the last carton and packs the order (as "Weigh").
"""
from __future__ import annotations

import logging
import threading

from edge import store as db
from edge.core.commands import CLOSE_CARTON, LABELS, parse_command
from edge.errors import EdgeError, InvalidScan, InvalidState
from edge.services.base import Actor
from floorsync.log import log_event

logger = logging.getLogger("edge.stations")


class PackStation:
    """Scan-by-scan state of one pack station (the order in hand) on top of ``Floor.packing``."""

    def __init__(self, floor, actor: Actor):
        self.floor = floor
        self.actor = actor
        self.fo_id: str | None = None
        self.last: dict | None = None
        self.scans = 0
        self.refused = 0
        self._lock = threading.Lock()

    def handle_raw(self, raw: str) -> dict:
        """One scanned code: start / verify / carton / ship, whichever the order in hand needs."""
        with self._lock:
            self.scans += 1
            command = parse_command(raw)
            try:
                if command is not None:
                    out = self._command(command, raw)
                else:
                    out = self.floor.packing.station_scan(self.actor, self.fo_id, raw)
            except EdgeError as exc:
                self.refused += 1
                out = {"ok": False, "error": exc.code, "message": exc.message, "next": exc.next or "Scan again"}
            else:
                if out.get("status") == "shipped":
                    self.fo_id = None
                elif out.get("fo_id"):
                    self.fo_id = out["fo_id"]
            self.last = {"code": raw[:80], **{k: out.get(k) for k in ("ok", "error", "message", "next", "fo_id", "status")}}
            if command is not None:
                self.last["command"] = command
            return out

    def _command(self, command: str, raw: str) -> dict:
        """A command barcode for the order in hand (refused and audited when there is none)."""
        if command == CLOSE_CARTON:
            if self.fo_id is None:
                exc = InvalidState(f"{LABELS[command]}: no order at this station", next="Scan a tote or order first")
                self.floor.packing.refused(self.actor, "pack.close_carton", None, exc, {"command": command}, raw)
                raise exc
            out = self.floor.packing.close_carton(self.actor, self.fo_id)
            if out.get("ok", True) and out.get("closed_carton"):
                c = out["closed_carton"]
                out.setdefault("message", f"Carton {c['seq']} closed: {c['tracking_number']}, {c['weight_g']} g")
            return out
        raise InvalidScan(f"unknown station command {command!r}")   # pragma: no cover - COMMANDS and this agree

    def handle_refused(self, raw: str, error_type: str | None, error: str) -> dict:
        """Input the scanner driver already refused (never reaches the workflow): audited."""
        with self._lock:
            self.scans += 1
            self.refused += 1
            exc = InvalidScan(f"unreadable scan: {error}", next="Scan again")
            self.floor.packing.refused(self.actor, "pack.station_scan", f"fo:{self.fo_id}" if self.fo_id else None, exc,
                                       {"error_type": error_type}, raw)
            self.last = {"code": raw[:80], "ok": False, "error": exc.code, "message": exc.message, "next": exc.next}
            return dict(self.last)

    def status(self) -> dict:
        with self._lock:
            return {"user": self.actor.username, "device": self.actor.device, "fo_id": self.fo_id, "scans": self.scans,
                    "refused": self.refused, "last": dict(self.last) if self.last else None}


class StationScanner:
    """Runs a started ``SerialScanner`` into a :class:`PackStation` on one thread."""

    def __init__(self, station: PackStation, scanner, poll_s: float = 0.2):
        self.station = station
        self.scanner = scanner
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.handled = threading.Condition()
        self.events = 0

    def start(self) -> "StationScanner":
        self.scanner.start()
        self._thread = threading.Thread(target=self._run, name=f"station-{self.station.actor.device}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            ev = self.scanner.get(self.poll_s)
            if ev is None:
                continue
            try:
                if ev.ok:
                    self.station.handle_raw(ev.raw)
                else:
                    self.station.handle_refused(ev.raw, ev.error_type, ev.error or "refused")
            except Exception as exc:  # noqa: BLE001 - a bad scan must never kill the station
                log_event(logger, "edge_station_scan_failed", level=logging.ERROR, error=repr(exc)[:300])
            with self.handled:
                self.events += 1
                self.handled.notify_all()

    def wait_events(self, n: int, timeout_s: float) -> bool:
        """Until ``n`` scanner events were handled (tests)."""
        with self.handled:
            return self.handled.wait_for(lambda: self.events >= n, timeout_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self.scanner.stop()


def open_station(cfg, floor, health=None) -> StationScanner | None:
    """The configured pack-station scanner (``devices.scanner_port`` + ``edge.station_user``), not started."""
    if not cfg.devices.scanner_port:
        return None
    if not cfg.edge.station_user:
        log_event(logger, "edge_station_scanner_idle", level=logging.WARNING, port=cfg.devices.scanner_port,
                  reason="edge.station_user is empty")
        return None
    from devices.scanners import open_scanner

    user = floor.store.read(lambda c: db.user_get(c, cfg.edge.station_user))
    if user is None or not user["active"]:
        raise InvalidState(f"edge.station_user {cfg.edge.station_user!r} is not an active user of this site")
    actor = Actor(user["username"], user["role"], user["zone"], f"station:{cfg.devices.scanner_port}"[:40])
    actor.require("packer")
    return StationScanner(PackStation(floor, actor), open_scanner(cfg.devices, health=health))
