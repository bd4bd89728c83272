"""Build and run an edge node process: store, devices, floor services, web server; clean stop."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from edge.store import EdgeStore
from floorsync.log import log_event

logger = logging.getLogger("edge.runtime")

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
    """Everything one `floorsync edge serve` process runs. ``start()`` / ``stop()`` (joins threads)."""

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
        self._server = None
        self._thread = None

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

    def make_app(self):
        from edge.web import create_app
        health_fn = self.sync.status if self.sync is not None else None
        return create_app(self.cfg, self.store, floor=self.floor, extra_blueprints=self.extra_blueprints, health_fn=health_fn)

    def start(self, host: str | None = None, port: int | None = None, with_sync: bool = True):
        import sys

        from werkzeug.serving import WSGIRequestHandler, make_server

        # Many request threads share the GIL with the store's writer thread, whose every sqlite call
        # releases and re-takes it; a short switch interval keeps the writer from waiting 5 ms each time.
        sys.setswitchinterval(SWITCH_INTERVAL_S)

        if self.print_queue is not None:
            self.print_queue.start()
        if with_sync:
            self.attach_sync()
        app = self.make_app()

        class Handler(WSGIRequestHandler):
            timeout = 5  # idle keep-alive connections end so stop() can join their threads

            def log_request(self, *args, **kwargs):  # structured logs come from the app; no access log spam
                pass

        self._server = make_server(host or self.cfg.edge.host, self.cfg.edge.port if port is None else port, app,
                                   threaded=True, request_handler=Handler)
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="edge-http", daemon=True)
        self._thread.start()
        log_event(logger, "edge_serving", site_id=self.cfg.edge.site_id, host=self._server.host, port=self._server.port)
        return self._server.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # joins request threads
            self._thread.join()
            self._server = None
        if self.sync is not None:
            self.sync.stop()
        if self.print_queue is not None:
            self.print_queue.stop()
        close = getattr(self.weight_source, "close", None)
        if close:
            close()
        self.store.close()
        log_event(logger, "edge_stopped", site_id=self.cfg.edge.site_id)
