"""Build and run an edge node process: store, devices, floor services, HTTP server; clean stop.

`floorsync edge serve` runs gunicorn with ONE worker process (so the database keeps exactly one
writer thread) using the threaded worker (``gthread``: a fixed pool of request threads and
HTTP keep-alive for handhelds). Everything stateful (store, print spoolers, device health,
station scanner, zeroconf advertisement, sync runtime) is built inside that worker after the fork
and stopped in its ``worker_exit`` hook, which joins every thread; SIGTERM/SIGINT to the gunicorn
master ends the worker gracefully, then the master.

Why one process (``edge.server_threads`` request threads, default 8): a pick scan costs ~0.75 ms
of server CPU (gunicorn's HTTP handling ~0.3 ms, the scan fast path ``edge.web.HandheldScans`` and
the service ~0.45 ms of which the writer thread's SQL ~0.2 ms) plus its share of a group-committed
fsync. All of it but the fsync runs under the GIL, so throughput is CPU-bound near 1/0.75 ms and
does not grow with threads; every thread beyond a few only stretches the in-app time of the others
(and the writer's, whose every sqlite call re-takes the GIL). 8 threads keep commit groups of 3-5
and the server time of a scan well under 25 ms at 20 handhelds; the rest of the wait is visible as
queueing in the client round trip, which bench/bench_edge_scan.py prints beside it. A second worker process
would add a core but also a second print spooler, device monitor, station scanner, zeroconf
record and MQTT session per site, and the sync dashboard's in-memory state would differ per
process; that needs a leader-elected services process first (not built).
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from edge.store import EdgeStore
from floorsync.log import log_event

logger = logging.getLogger("edge.runtime")

# Request threads share the GIL with the store's writer thread, whose every sqlite call releases
# and re-takes it; a short switch interval keeps the writer from waiting 5 ms each time.
SWITCH_INTERVAL_S = 0.0005


def database_path(cfg) -> str:
    if cfg.edge.database_path:
        return cfg.edge.database_path
    return str(Path(cfg.general.data_dir) / f"edge-{cfg.edge.site_id}.db")


def open_store(cfg) -> EdgeStore:
    path = database_path(cfg)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return EdgeStore(path, cfg.edge.site_id, checkpoint_interval_s=cfg.edge.checkpoint_interval_s)


class EdgeNode:
    """Everything one edge process runs besides the HTTP server: ``start()`` / ``stop()`` (joins threads)."""

    def __init__(self, cfg, *, weight_source=None, print_queue=None, extra_blueprints=()):
        from devices.health import DeviceHealth
        from edge.services import Floor

        self.cfg = cfg
        self.store = open_store(cfg)
        self.device_health = DeviceHealth()
        self.print_queue = print_queue
        if self.print_queue is None:
            from edge.printing import open_print_queue
            self.print_queue = open_print_queue(cfg, self.store, health=self.device_health)
        if weight_source is None:
            from edge.weighing import open_weight_source
            weight_source = open_weight_source(cfg.devices)
        self.weight_source = weight_source
        self.floor = Floor(cfg, self.store, weight_source=weight_source, print_queue=self.print_queue)
        self.floor.device_health = self.device_snapshot
        self.monitor = self._health_monitor()
        self.station = None
        self.advertiser = None
        self.sync = None
        self.extra_blueprints = list(extra_blueprints)
        self._stopped = False
        self._tick_stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _health_monitor(self):
        """Probes the label printer (``~HS`` / status query) and the scale every
        ``devices.health_poll_s``; the label spooler reports job outcomes into the same entry."""
        from devices.health import monitor_for
        from edge.weighing import ScaleWeightSource

        label = self.print_queue.spoolers.get("label") if self.print_queue is not None else None
        if label is not None and label.health is None:   # a print queue built by the caller
            label.health = self.device_health
        scale = self.weight_source if isinstance(self.weight_source, ScaleWeightSource) else None
        return monitor_for(self.cfg.devices, label.printer if label is not None else None, scale, health=self.device_health)

    def device_snapshot(self) -> dict:
        """``devices.health.DeviceHealth.snapshot()`` plus the station scanner's state (console)."""
        snap = self.device_health.snapshot()
        if self.station is not None:
            snap["station"] = self.station.station.status()
        return snap

    def attach_sync(self):
        """Start the sync runtime when the sync package provides it (``sync.edge_node.EdgeSync``)."""
        try:
            from sync.edge_node import EdgeSync
        except ModuleNotFoundError:
            return None
        self.sync = EdgeSync(self.cfg, self.store, self.health)
        self.floor.sync_gate = self.sync.floor_gate
        self.sync.start()
        bp = getattr(self.sync, "blueprint", None)
        if callable(bp):
            self.extra_blueprints.append(bp())
        return self.sync

    def health(self) -> dict:
        """Device health for the sync heartbeat (``EdgeSync(cfg, store, health_fn)``): central reads
        ``printers_ok`` (at least one label printer online per its last probe or job) and stops
        routing to the site when it is false. A site configured without a label printer
        (``devices.printer_kind = none``) reports ``printers_ok`` true with ``label_printer: none``."""
        from edge import store as db
        snap = self.device_health.snapshot()
        printers_ok = snap["printers_ok"] if self.print_queue is not None else True
        devices = {name: {k: d.get(k) for k in ("kind", "state", "since", "last_error", "last_error_at")}
                   for name, d in snap["devices"].items()}
        out = self.store.read(lambda c: {"print_states": db.print_state_counts(c), "outbox_depth": db.outbox_depth(c)})
        out.update(printers_ok=printers_ok, devices=devices,
                   label_printer=self.cfg.devices.printer_kind if self.print_queue is not None else "none")
        return out

    def start(self, with_sync: bool = True, http_port: int | None = None, http_host: str | None = None):
        """Start the background parts (print spoolers, device health, station scanner, sync,
        zeroconf advertisement when ``http_port`` is given) and return the WSGI app."""
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        if self.print_queue is not None:
            self.print_queue.start()
        self.monitor.start()
        self._start_station()
        self._start_ticker()
        if http_port:
            self.advertise(http_port, http_host or self.cfg.edge.host)
        if with_sync:
            self.attach_sync()
        from edge.web import create_app
        health_fn = self.sync.status if self.sync is not None else None
        return create_app(self.cfg, self.store, floor=self.floor, extra_blueprints=self.extra_blueprints, health_fn=health_fn)

    def _start_ticker(self) -> None:
        """The periodic tick (every ``edge.count_tick_s``): the cycle-count scheduler creates the
        count tasks that fell due. Its own thread; joined on stop."""
        if self.cfg.edge.count_tick_s <= 0 or self._ticker is not None:
            return
        self._ticker = threading.Thread(target=self._tick_loop, name=f"edge-tick-{self.cfg.edge.site_id}", daemon=True)
        self._ticker.start()

    def tick(self) -> dict:
        """One periodic tick (also callable directly)."""
        return {"counts": self.floor.counting.schedule_due()}

    def _tick_loop(self) -> None:
        interval = self.cfg.edge.count_tick_s
        while not self._tick_stop.is_set():
            try:
                out = self.tick()
                if out["counts"]["created"]:
                    log_event(logger, "edge_counts_scheduled", created=out["counts"]["created"])
            except Exception as exc:  # noqa: BLE001 - the tick must survive a bad schedule or a busy store
                log_event(logger, "edge_tick_failed", level=logging.WARNING, error=str(exc))
            self._tick_stop.wait(interval)

    def _start_station(self) -> None:
        from devices.errors import DevicesError
        from edge.errors import EdgeError
        from edge.stations import open_station
        try:
            self.station = open_station(self.cfg, self.floor, health=self.device_health)
        except (EdgeError, DevicesError) as exc:   # a misconfigured station must not keep the console down
            log_event(logger, "edge_station_not_started", level=logging.WARNING, error=str(exc))
            self.station = None
        if self.station is not None:
            self.station.start()

    def advertise(self, port: int, host: str) -> None:
        """Advertise the console as ``_floorsync._tcp`` (site id in TXT) on the interface it serves:
        ``devices.discovery_interface`` when set, else the bind address (127.0.0.1 by default);
        a wildcard bind advertises on every interface. Failure is logged, never fatal."""
        if not self.cfg.devices.discovery_advertise:
            return
        from devices.discovery import advertise_console
        from devices.errors import DevicesError

        interface = self.cfg.devices.discovery_interface or (None if host in ("0.0.0.0", "") else host)
        address = interface or _primary_address()
        try:
            self.advertiser = advertise_console(self.cfg.edge.site_id, port, interface=interface, path="/console",
                                                address=address)
        except DevicesError as exc:
            log_event(logger, "edge_advertise_failed", level=logging.WARNING, error=str(exc))

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._tick_stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.advertiser is not None:
            self.advertiser.stop()
        if self.sync is not None:
            self.sync.stop()
        if self.station is not None:
            self.station.stop()
        self.monitor.stop()
        if self.print_queue is not None:
            self.print_queue.stop()
        close = getattr(self.weight_source, "close", None)
        if close:
            close()
        self.store.close()
        log_event(logger, "edge_stopped", site_id=self.cfg.edge.site_id)


def _primary_address() -> str:
    """This host's outward IPv4 address (no packet is sent), or 127.0.0.1."""
    import socket
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def serve(cfg, host: str | None = None, port: int | None = None, with_sync: bool = True) -> None:
    """Run the edge under gunicorn (one gthread worker) until SIGTERM/SIGINT."""
    from gunicorn.app.base import BaseApplication

    bind_host, bind_port = host or cfg.edge.host, cfg.edge.port if port is None else port
    bind = f"{bind_host}:{bind_port}"
    state: dict = {}

    def worker_exit(server, worker):
        node = state.get("node")
        if node is not None:
            node.stop()

    def when_ready(server):
        log_event(logger, "edge_serving", site_id=cfg.edge.site_id, bind=bind)

    options = {
        "bind": bind, "workers": 1, "worker_class": "gthread", "threads": cfg.edge.server_threads,
        "keepalive": 30, "timeout": 60, "graceful_timeout": 15, "accesslog": None, "errorlog": "-",
        "loglevel": "warning", "worker_exit": worker_exit, "when_ready": when_ready, "preload_app": False,
        "proc_name": f"floorsync-edge-{cfg.edge.site_id}",
    }
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        # gunicorn's worker heartbeat touches its temp file on every event-loop pass (twice per
        # request): keep that off the disk the database fsyncs to
        options["worker_tmp_dir"] = "/dev/shm"

    class EdgeApplication(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            # runs in the worker process, after the fork: the store and its threads live here
            node = EdgeNode(cfg)
            state["node"] = node
            return node.start(with_sync=with_sync, http_port=bind_port, http_host=bind_host)

    EdgeApplication().run()
