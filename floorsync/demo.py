"""`floorsync demo`: the whole network on one machine.

Starts a real Mosquitto (generated config, per-site users and ACL), central, and one edge per
site with simulated devices (ZPL printer on TCP, scale on a pty), seeds a merchant, catalog,
bins and stock, then feeds a stream of orders through central's REST API. Every process is a
child we started; Ctrl-C (or --run-for) stops them in reverse order, by PID, and waits for each.
State lives in --data-dir, so a restart resumes where it stopped.
"""
from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import click

from floorsync.catalog import random_order, write_catalog
from floorsync.log import log_event

logger = logging.getLogger("floorsync.demo")


class DemoError(click.ClickException):
    """The demo could not start; the message says what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DemoError(f"process for {url} exited with code {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise DemoError(f"{url} did not answer within {timeout:.0f}s")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path


@dataclass
class Supervisor:
    """Owns every process the demo starts; stops them in reverse order, by PID."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log_file = open(log_path, "ab")
        # A new session: the terminal's Ctrl-C reaches only us, and we stop children in order.
        proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True)
        log_file.close()
        self.children.append(Child(name, proc, log_path))
        log_event(logger, "demo_process_started", name=name, pid=proc.pid, log=str(log_path))
        return proc

    def run(self, name: str, argv: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> str:
        """Run a one-shot setup command to completion; its stdout is returned."""
        res = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise DemoError(f"{name} failed (exit {res.returncode}):\n{res.stderr.strip()[-2000:]}")
        return res.stdout

    def dead(self) -> list[Child]:
        return [c for c in self.children if c.proc.poll() is not None]

    def stop_all(self, timeout: float = 15.0) -> None:
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait(timeout=timeout)
            log_event(logger, "demo_process_stopped", name=child.name, pid=child.proc.pid, code=child.proc.returncode)


def floorsync_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "floorsync.cli", *args]


class OrderFeed(threading.Thread):
    """Posts a steady stream of demo orders to central's API (bounded by the stop event)."""

    def __init__(self, api: str, api_key: str, catalog: dict, per_minute: float, stop: threading.Event):
        super().__init__(name="demo-order-feed", daemon=False)
        self.api, self.api_key, self.catalog = api, api_key, catalog
        self.interval = 60.0 / per_minute if per_minute > 0 else None
        self.stop_event = stop
        self.sent = 0
        self.failed = 0
        self.rng = random.Random(int(time.time()))

    def post(self, payload: dict) -> int:
        req = urllib.request.Request(f"{self.api}/api/v1/orders", data=json.dumps(payload).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def run(self) -> None:
        if self.interval is None:
            return
        n = 0
        while not self.stop_event.wait(self.interval):
            n += 1
            try:
                status = self.post(random_order(self.catalog, self.rng, n))
            except OSError as exc:
                status = 0
                log_event(logger, "demo_order_post_failed", level=logging.WARNING, error=str(exc))
            if 200 <= status < 300:
                self.sent += 1
            else:
                self.failed += 1


@click.command("demo")
@click.option("--sites", default="EWR1,LAX1,DFW1", show_default=True,
              help="Comma-separated sites to run an edge for (at least two for a network).")
@click.option("--orders-per-minute", default=20.0, show_default=True, type=float,
              help="Rate of the simulated incoming order stream (0 = none).")
@click.option("--central-port", default=8000, show_default=True, type=int, help="Port of central's web service.")
@click.option("--edge-base-port", default=8101, show_default=True, type=int,
              help="First edge console port; each further site takes the next one.")
@click.option("--run-for", default=0.0, type=float, help="Stop by itself after this many seconds (0 = until Ctrl-C).")
@click.pass_obj
def demo(cfg, sites: str, orders_per_minute: float, central_port: int, edge_base_port: int, run_for: float) -> None:
    """Run the whole system here: broker, central, edges with simulated devices, seeded data, an order stream."""
    from sync import broker as broker_mod

    data_dir = Path(cfg.general.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    site_ids = [s.strip().upper() for s in sites.split(",") if s.strip()]
    catalog = write_catalog(data_dir / "catalog.json")
    known = {s["site_id"] for s in catalog["sites"]}
    unknown = [s for s in site_ids if s not in known]
    if unknown:
        raise DemoError(f"unknown demo site(s) {', '.join(unknown)}; the demo catalog has {', '.join(sorted(known))}")

    sup = Supervisor(data_dir / "logs")
    stop = threading.Event()
    feed: OrderFeed | None = None

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        # --- broker: a real Mosquitto, per-site users, ACL on %u
        broker_port = free_port()
        setup = broker_mod.prepare(data_dir / "broker", broker_port, site_ids)
        broker_proc = broker_mod.start(setup)
        sup.children.append(Child("mosquitto", broker_proc, data_dir / "broker" / "mosquitto.log"))
        base_env = {"FLOORSYNC_GENERAL_DATA_DIR": str(data_dir), "FLOORSYNC_BROKER_HOST": "127.0.0.1",
                    "FLOORSYNC_BROKER_PORT": str(broker_port), "FLOORSYNC_GENERAL_LOG_FORMAT": "json",
                    "FLOORSYNC_SYNC_HEARTBEAT_S": "5"}

        # --- central
        central_env = {**base_env, "FLOORSYNC_CENTRAL_PORT": str(central_port),
                       "FLOORSYNC_BROKER_USERNAME": "central",
                       "FLOORSYNC_BROKER_PASSWORD": setup.credentials["central"]}
        sup.run("central init-db", floorsync_cmd("central", "init-db"), central_env)
        sup.run("central seed", floorsync_cmd("central", "seed", "--catalog", str(data_dir / "catalog.json")), central_env)
        key_file = data_dir / "demo-api-key.txt"
        if not key_file.exists():
            out = sup.run("central apikey", floorsync_cmd("central", "apikey", "create", "--merchant", catalog["merchant_id"],
                                                          "--scope", "admin", "--label", "demo"), central_env)
            key_file.write_text(out.strip().splitlines()[-1].strip())
        api_key = key_file.read_text().strip()
        ops_file = data_dir / "demo-ops-password.txt"   # the dashboard login (ops user "ops")
        if not ops_file.exists():
            out = sup.run("central user", floorsync_cmd("central", "user", "add", "ops", "--name", "Demo ops",
                                                        "--generate-password"), central_env)
            ops_file.write_text(out.strip().splitlines()[-1].strip())
        ops_password = ops_file.read_text().strip()
        central_proc = sup.start("central", floorsync_cmd("central", "serve"), central_env)
        central_url = f"http://127.0.0.1:{central_port}"

        # --- edges, each with a ZPL printer on TCP and a scale on a pty
        edges = []
        for i, site in enumerate(site_ids):
            printer_port = free_port()
            sup.start(f"printer-{site}", floorsync_cmd("sim", "zpl-printer", "--port", str(printer_port),
                                                       "--store", str(data_dir / f"printer-{site}")), base_env)
            scale_link = data_dir / f"scale-{site}.tty"
            sup.start(f"scale-{site}", floorsync_cmd("sim", "scale", "--protocol", "mt-sics", "--link", str(scale_link)),
                      base_env)
            edge_port = edge_base_port + i
            edge_env = {**base_env, "FLOORSYNC_EDGE_SITE_ID": site, "FLOORSYNC_EDGE_PORT": str(edge_port),
                        "FLOORSYNC_BROKER_USERNAME": site, "FLOORSYNC_BROKER_PASSWORD": setup.credentials[site],
                        "FLOORSYNC_DEVICES_PRINTER_KIND": "zpl", "FLOORSYNC_DEVICES_PRINTER_PORT": str(printer_port),
                        "FLOORSYNC_DEVICES_SCALE_PROTOCOL": "mt-sics", "FLOORSYNC_DEVICES_SCALE_PORT": str(scale_link)}
            sup.run(f"edge {site} init-db", floorsync_cmd("edge", "init-db"), edge_env)
            sup.run(f"edge {site} seed", floorsync_cmd("edge", "seed", "--catalog", str(data_dir / "catalog.json")), edge_env)
            proc = sup.start(f"edge-{site}", floorsync_cmd("edge", "serve"), edge_env)
            edges.append((site, f"http://127.0.0.1:{edge_port}", proc))

        wait_http(f"{central_url}/healthz", 60, central_proc)
        for site, url, proc in edges:
            wait_http(f"{url}/healthz", 60, proc)

        feed = OrderFeed(central_url, api_key, catalog, orders_per_minute, stop)
        feed.start()
        click.echo("")
        click.secho("floorsync demo is running", bold=True)
        click.echo(f"  MQTT broker        mqtt://127.0.0.1:{broker_port}  (mosquitto, config {setup.conf_path})")
        click.echo(f"  order dashboard    {central_url}/ops/orders")
        click.echo(f"  central login      ops / {ops_password}  (user / password; dashboards and /sync)")
        click.echo(f"  sync dashboard     {central_url}/sync")
        click.echo(f"  REST API           {central_url}/api/v1  (Authorization: Bearer {api_key})")
        click.echo(f"  OpenAPI            {central_url}/api/v1/openapi.json")
        for site, url, _proc in edges:
            click.echo(f"  edge {site:<5}        console {url}/   handheld {url}/handheld")
        from edge.seed import DEMO_USERS

        logins = ", ".join(f"{user} / {pin}" for user, _name, _role, pin in DEMO_USERS[:6])
        click.echo(f"  edge logins        {logins} (user / PIN; manager1 / 9999)")
        click.echo(f"  logs               {sup.log_dir}")
        click.echo(f"  order stream       {orders_per_minute:g} orders/min")
        click.echo("Press Ctrl-C to stop.")
        started = time.monotonic()
        while not stop.wait(1.0):
            if run_for and time.monotonic() - started >= run_for:
                break
            for child in sup.dead():
                log_event(logger, "demo_process_exited", level=logging.ERROR, name=child.name,
                          code=child.proc.returncode, log=str(child.log_path))
                raise DemoError(f"{child.name} exited with code {child.proc.returncode}; see {child.log_path}")
    finally:
        stop.set()
        if feed is not None:
            feed.join(timeout=15)
        click.echo("stopping floorsync demo ...")
        sup.stop_all()
        if feed is not None:
            click.echo(f"orders posted: {feed.sent} accepted, {feed.failed} refused")
