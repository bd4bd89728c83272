"""Build and run an edge node process: store, devices, floor services, HTTP server; clean stop.

`floorsync edge serve` runs gunicorn with ONE worker process (so the database keeps exactly one
writer thread) using the threaded worker (``gthread``: a fixed pool of request threads and
HTTP keep-alive for handhelds). Everything stateful (store, print spoolers, scale, sync runtime)
is built inside that worker after the fork and stopped in its ``worker_exit`` hook, which joins
every thread; SIGTERM/SIGINT to the gunicorn master ends the worker gracefully, then the master.
"""
from __future__ import annotations

import logging
import os
import sys
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
        from edge.services import Floor

        self.cfg = cfg
        self.store = open_store(cfg)
        self.print_queue = print_queue
        if self.print_queue is None:
            from edge.printing import open_print_queue
            self.print_queue = open_print_queue(cfg, self.store)
        if weight_source is None:
            from edge.weighing import open_weight_source
            weight_source = open_weight_source(cfg.devices)
        self.weight_source = weight_source
        self.floor = Floor(cfg, self.store, weight_source=weight_source, print_queue=self.print_queue)
        self.sync = None
        self.extra_blueprints = list(extra_blueprints)
        self._stopped = False

    def attach_sync(self):
        """Start the sync runtime when the sync package provides it (``sync.edge_node.EdgeSync``)."""
        try:
            from sync.edge_node import EdgeSync
        except ModuleNotFoundError:
            return None
        self.sync = EdgeSync(self.cfg, self.store, self.health)
        self.sync.start()
        bp = getattr(self.sync, "blueprint", None)
        if callable(bp):
            self.extra_blueprints.append(bp())
        return self.sync

    def health(self) -> dict:
        from edge import store as db
        return self.store.read(lambda c: {"print_states": db.print_state_counts(c), "outbox_depth": db.outbox_depth(c),
                                          "printers_ok": self.print_queue is None or self.print_queue.ok()})

    def start(self, with_sync: bool = True):
        """Start the background parts (print spoolers, sync) and return the WSGI app."""
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        if self.print_queue is not None:
            self.print_queue.start()
        if with_sync:
            self.attach_sync()
        from edge.web import create_app
        health_fn = self.sync.status if self.sync is not None else None
        return create_app(self.cfg, self.store, floor=self.floor, extra_blueprints=self.extra_blueprints, health_fn=health_fn)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.sync is not None:
            self.sync.stop()
        if self.print_queue is not None:
            self.print_queue.stop()
        close = getattr(self.weight_source, "close", None)
        if close:
            close()
        self.store.close()
        log_event(logger, "edge_stopped", site_id=self.cfg.edge.site_id)


def serve(cfg, host: str | None = None, port: int | None = None, with_sync: bool = True) -> None:
    """Run the edge under gunicorn (one gthread worker) until SIGTERM/SIGINT."""
    from gunicorn.app.base import BaseApplication

    bind = f"{host or cfg.edge.host}:{cfg.edge.port if port is None else port}"
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

    class EdgeApplication(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            # runs in the worker process, after the fork: the store and its threads live here
            node = EdgeNode(cfg)
            state["node"] = node
            return node.start(with_sync=with_sync)

    EdgeApplication().run()
