"""Zeroconf (mDNS/DNS-SD): browse for printers, advertise the edge console and simulators.

Static configuration stays the primary path; discovery only *lists* what answers so a manager
can adopt it. Browser callbacks run on zeroconf's thread and only put names on a queue; the
caller's thread resolves them. Pass ``interface="127.0.0.1"`` to keep everything on loopback
(tests always do).
"""
from __future__ import annotations

import logging
import queue
import socket
import time
from dataclasses import dataclass, field

from devices.errors import DiscoveryError
from floorsync.log import log_event

logger = logging.getLogger(__name__)

PRINTER_TYPES = ("_pdl-datastream._tcp.local.", "_printer._tcp.local.", "_ipp._tcp.local.")
CONSOLE_TYPE = "_floorsync._tcp.local."
SCALE_TYPE = "_fs-scale._tcp.local."
SCANNER_TYPE = "_fs-scanner._tcp.local."


@dataclass(frozen=True)
class DiscoveredService:
    service_type: str
    name: str
    host: str
    addresses: tuple[str, ...]
    port: int
    properties: dict = field(default_factory=dict, hash=False)

    @property
    def instance(self) -> str:
        """The human-readable instance name (without the service type)."""
        suffix = "." + self.service_type
        return self.name[: -len(suffix)] if self.name.endswith(suffix) else self.name

    def to_dict(self) -> dict:
        return {"type": self.service_type, "name": self.instance, "host": self.host,
                "addresses": list(self.addresses), "port": self.port, "properties": dict(self.properties)}


def _zeroconf(interface: str | None):
    from zeroconf import IPVersion, Zeroconf

    try:
        if interface:
            return Zeroconf(interfaces=[interface], ip_version=IPVersion.V4Only)
        return Zeroconf(ip_version=IPVersion.V4Only)
    except OSError as exc:
        raise DiscoveryError(f"cannot start zeroconf on {interface or 'all interfaces'}: {exc}") from exc


def _fq(service_type: str) -> str:
    return service_type if service_type.endswith(".local.") else service_type.rstrip(".") + ".local."


def browse(service_types=PRINTER_TYPES, timeout_s: float = 3.0, interface: str | None = None) -> list[DiscoveredService]:
    """Everything answering for ``service_types`` within ``timeout_s`` seconds, resolved."""
    from zeroconf import ServiceBrowser, ServiceStateChange

    types = [_fq(t) for t in service_types]
    found: queue.Queue[tuple[str, str]] = queue.Queue()

    def on_change(zeroconf, service_type, name, state_change):  # zeroconf thread: hand off only
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            found.put((service_type, name))

    zc = _zeroconf(interface)
    browser = None
    results: dict[tuple[str, str], DiscoveredService] = {}
    try:
        browser = ServiceBrowser(zc, types, handlers=[on_change])
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                service_type, name = found.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if (service_type, name) in results:
                continue
            info = zc.get_service_info(service_type, name, timeout=int(max(200, min(left, 2.0) * 1000)))
            if info is None:
                continue
            props = {}
            for k, v in (info.properties or {}).items():
                key = k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)
                props[key] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
            results[(service_type, name)] = DiscoveredService(
                service_type=service_type, name=name, host=(info.server or "").rstrip("."),
                addresses=tuple(info.parsed_addresses()), port=int(info.port or 0), properties=props)
    finally:
        if browser is not None:
            browser.cancel()
        zc.close()
    return sorted(results.values(), key=lambda s: (s.service_type, s.name))


class Advertiser:
    """Registers one service while open (context manager). ``address`` defaults to
    ``interface`` (or 127.0.0.1)."""

    def __init__(self, service_type: str, instance: str, port: int, properties: dict | None = None,
                 interface: str | None = "127.0.0.1", address: str | None = None) -> None:
        self.service_type = _fq(service_type)
        self.instance = instance
        self.port = int(port)
        self.properties = {str(k): str(v) for k, v in (properties or {}).items()}
        self.interface = interface
        self.address = address or interface or "127.0.0.1"
        self._zc = None
        self._info = None

    def start(self) -> "Advertiser":
        from zeroconf import ServiceInfo

        safe = "".join(c if c.isalnum() or c in "-" else "-" for c in self.instance).strip("-") or "floorsync"
        self._zc = _zeroconf(self.interface)
        self._info = ServiceInfo(
            self.service_type, f"{self.instance}.{self.service_type}",
            addresses=[socket.inet_aton(self.address)], port=self.port, properties=self.properties,
            server=f"{safe.lower()}.local.")
        from zeroconf import EventLoopBlocked

        # Probing + announcing takes ~1.7 s; on a busy host zeroconf's loop can miss its own
        # deadline (EventLoopBlocked) although nothing is wrong: try again a few times.
        for attempt in range(1, 4):
            try:
                self._zc.register_service(self._info, allow_name_change=True)
                break
            except EventLoopBlocked as exc:
                if attempt < 3:
                    log_event(logger, "zeroconf_register_retry", instance=self.instance, attempt=attempt)
                    continue
                self._fail(exc)
            except Exception as exc:
                self._fail(exc)
        log_event(logger, "zeroconf_advertised", service_type=self.service_type, instance=self.instance, port=self.port)
        return self

    def _fail(self, exc: Exception) -> None:
        self._zc.close()
        self._zc = None
        raise DiscoveryError(f"cannot advertise {self.instance}: {exc}") from exc

    def stop(self) -> None:
        if self._zc is not None:
            try:
                self._zc.unregister_service(self._info)
            finally:
                self._zc.close()
                self._zc = None

    def __enter__(self) -> "Advertiser":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def advertise_console(site_id: str, port: int, interface: str | None = "127.0.0.1",
                      path: str = "/", address: str | None = None) -> Advertiser:
    """Advertise the edge console as ``_floorsync._tcp`` with ``site_id`` in TXT (started)."""
    return Advertiser(CONSOLE_TYPE, f"floorsync edge {site_id}", port,
                      {"site_id": site_id, "path": path, "role": "edge"}, interface=interface,
                      address=address).start()
