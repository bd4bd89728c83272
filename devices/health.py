"""Device health: each configured device is ``online``, ``offline`` or ``error`` with its last
error and when. Drivers and the spooler report into it; :class:`HealthMonitor` probes devices
on a background thread; ``snapshot()`` feeds the edge console and the sync heartbeat
(``printers_ok`` = at least one label printer online — central stops routing work to a site
without one).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from devices.worker import Worker
from floorsync.log import log_event

logger = logging.getLogger(__name__)

KINDS = ("printer", "scale", "scanner")


@dataclass
class _Device:
    name: str
    kind: str
    state: str = "unknown"
    since: float = 0.0
    last_error: str = ""
    last_error_at: float | None = None
    checked_at: float | None = None
    detail: dict = field(default_factory=dict)


def _guess_kind(name: str) -> str:
    low = name.lower()
    if "scan" in low:
        return "scanner"
    if "scale" in low:
        return "scale"
    return "printer"


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


class DeviceHealth:
    """Thread-safe registry. States: ``unknown`` (never checked), ``online``, ``offline``, ``error``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._devices: dict[str, _Device] = {}

    def register(self, name: str, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"device kind must be one of {KINDS}")
        with self._lock:
            self._devices.setdefault(name, _Device(name, kind, since=self._clock()))

    def _set(self, name: str, state: str, error: str = "", detail: dict | None = None) -> None:
        now = self._clock()
        with self._lock:
            dev = self._devices.get(name)
            if dev is None:
                dev = self._devices[name] = _Device(name, _guess_kind(name), since=now)
            changed = dev.state != state
            if changed:
                dev.state, dev.since = state, now
            if error:
                dev.last_error, dev.last_error_at = error, now
            dev.checked_at = now
            if detail is not None:
                dev.detail = dict(detail)
        if changed:
            log_event(logger, "device_health_changed", device=name, state=state, error=error)

    def mark_online(self, name: str, detail: dict | None = None) -> None:
        self._set(name, "online", detail=detail)

    def mark_offline(self, name: str, error: str) -> None:
        self._set(name, "offline", error or "offline")

    def mark_error(self, name: str, error: str) -> None:
        self._set(name, "error", error or "error")

    def state(self, name: str) -> str:
        with self._lock:
            dev = self._devices.get(name)
            return dev.state if dev else "unknown"

    def printers_ok(self) -> bool:
        with self._lock:
            return any(d.kind == "printer" and d.state == "online" for d in self._devices.values())

    def snapshot(self) -> dict:
        with self._lock:
            devices = {
                d.name: {"kind": d.kind, "state": d.state, "since": _iso(d.since), "last_error": d.last_error or None,
                         "last_error_at": _iso(d.last_error_at), "checked_at": _iso(d.checked_at), **d.detail}
                for d in sorted(self._devices.values(), key=lambda d: (d.kind, d.name))
            }
        return {"devices": devices, "printers_ok": self.printers_ok(),
                "ok": all(d["state"] == "online" for d in devices.values()) and bool(devices)}


def report(health: "DeviceHealth | None", name: str, state: str, error: str = "") -> None:
    """Report ``state`` (online/offline/error) for ``name`` when a health registry is attached."""
    if health is None:
        return
    if state == "online":
        health.mark_online(name)
    elif state == "offline":
        health.mark_offline(name, error)
    else:
        health.mark_error(name, error)


def printer_probe(printer) -> Callable[[DeviceHealth, str], None]:
    """A probe asking ``printer.status()``: online when ready, error with the problems, offline
    when unreachable."""
    from devices.errors import PrinterError, PrinterOffline

    def probe(health: DeviceHealth, name: str) -> None:
        try:
            status = printer.status()
        except PrinterOffline as exc:
            health.mark_offline(name, str(exc))
            return
        except PrinterError as exc:
            health.mark_error(name, str(exc))
            return
        if status.ok:
            health.mark_online(name)
        elif not status.online:
            health.mark_offline(name, status.describe())
        else:
            health.mark_error(name, status.describe())

    return probe


def scale_probe(scale) -> Callable[[DeviceHealth, str], None]:
    """A probe taking one immediate reading (any state counts as online)."""
    from devices.errors import ScaleDisconnected, ScaleError

    def probe(health: DeviceHealth, name: str) -> None:
        try:
            scale.read(timeout_s=1.0)
        except ScaleDisconnected as exc:
            health.mark_offline(name, str(exc))
        except ScaleError as exc:
            health.mark_error(name, str(exc))
        else:
            health.mark_online(name)

    return probe


class HealthMonitor(Worker):
    """Runs each registered probe every ``interval_s`` on one background thread (joined on stop).
    A probe that raises marks its device ``error``; a slow probe delays only this thread."""

    def __init__(self, health: DeviceHealth, interval_s: float = 10.0) -> None:
        super().__init__()
        self.thread_name = "device-health"
        self.health = health
        self.interval_s = interval_s
        self._probes: dict[str, Callable[[DeviceHealth, str], None]] = {}
        self._wake_event = threading.Event()

    def add(self, name: str, kind: str, probe: Callable[[DeviceHealth, str], None]) -> None:
        self.health.register(name, kind)
        self._probes[name] = probe

    def check_now(self) -> None:
        """Probe every device once on the caller's thread."""
        for name, probe in list(self._probes.items()):
            try:
                probe(self.health, name)
            except Exception as exc:  # a broken probe is a device error, not a crash
                self.health.mark_error(name, f"{type(exc).__name__}: {exc}")

    def poke(self) -> None:
        """Ask the monitor thread to probe now (non-blocking)."""
        self._wake_event.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check_now()
            self._wake_event.wait(self.interval_s)
            self._wake_event.clear()

    def _wake(self) -> None:
        self._wake_event.set()


def monitor_for(devices_cfg, printer=None, scale=None, health: DeviceHealth | None = None) -> HealthMonitor:
    """A (not yet started) monitor probing the configured label printer (``label-printer``) and
    scale (``scale``) every ``devices_cfg.health_poll_s`` seconds. Give the spooler the same
    ``health`` and ``device_name="label-printer"`` so job outcomes update the same entry."""
    monitor = HealthMonitor(health or DeviceHealth(), interval_s=float(devices_cfg.health_poll_s))
    if printer is not None and getattr(printer, "kind", "") != "none":
        monitor.add("label-printer", "printer", printer_probe(printer))
    if scale is not None:
        monitor.add("scale", "scale", scale_probe(scale))
    return monitor
