"""`floorsync broker ...`: run, configure and provision the Mosquitto broker the sync protocol uses."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import click

from sync.errors import BrokerError


def _broker_dir(cfg) -> Path:
    return Path(cfg.general.data_dir).resolve() / "broker"


def _tls(cfg):
    from sync.broker import TlsFiles

    b = cfg.broker
    if not b.tls:
        return None
    if not (b.ca_file and b.cert_file and b.key_file):
        raise click.ClickException("broker.tls needs broker.ca_file, broker.cert_file and broker.key_file "
                                   "(the broker's own certificate and key, and the CA that signs client certificates)")
    return TlsFiles(b.ca_file, b.cert_file, b.key_file)


@click.group("broker")
def broker() -> None:
    """Run and configure the Mosquitto broker (per-site users, ACL on %u, persistence)."""


@broker.command("serve")
@click.option("--site", "sites", multiple=True, help="Site to create credentials for (repeatable); existing ones are kept.")
@click.pass_obj
def serve(cfg, sites: tuple[str, ...]) -> None:
    """Run a real Mosquitto in the foreground on broker.port with the generated configuration."""
    from sync import broker as broker_mod

    stop_requested: list[int] = []
    child: list[subprocess.Popen] = []

    def forward(signum, _frame):
        stop_requested.append(signum)
        if child and child[0].poll() is None:
            child[0].send_signal(signal.SIGTERM)

    # handlers first: a SIGTERM that arrives while the broker starts still stops it cleanly
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        setup = broker_mod.prepare(_broker_dir(cfg), cfg.broker.port, [s.upper() for s in sites], tls=_tls(cfg),
                                   mosquitto_bin=cfg.broker.mosquitto_bin)
        proc = broker_mod.start(setup, stdout=None, stderr=None)
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    child.append(proc)
    if stop_requested:
        proc.terminate()
    click.echo(f"mosquitto listening on 127.0.0.1:{cfg.broker.port} (config {setup.conf_path}, pid {proc.pid})", err=True)
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # pragma: no cover
        proc.terminate()
        code = proc.wait()
    sys.exit(0 if code in (0, -signal.SIGTERM) else code)


@broker.command("config")
@click.option("--port", type=int, default=None, help="Listener port (default broker.port).")
@click.option("--bind", default="0.0.0.0", show_default=True, help="Listener address for production.")
@click.option("--dir", "conf_dir", default="/etc/mosquitto/floorsync", show_default=True,
              help="Directory the password file, ACL and persistence live in on the broker host.")
@click.pass_obj
def config(cfg, port: int | None, bind: str, conf_dir: str) -> None:
    """Print the production mosquitto.conf and ACL (TLS options when broker.tls is on)."""
    from sync.broker import TlsFiles, acl_text, config_text

    tls = None
    if cfg.broker.tls:
        tls = TlsFiles(cfg.broker.ca_file or f"{conf_dir}/ca.crt", cfg.broker.cert_file or f"{conf_dir}/server.crt",
                       cfg.broker.key_file or f"{conf_dir}/server.key")
    click.echo(f"# ---- {conf_dir}/mosquitto.conf")
    click.echo(config_text(port=port or cfg.broker.port, data_dir=f"{conf_dir}/persistence",
                           password_file=None if tls else f"{conf_dir}/passwd", acl_file=f"{conf_dir}/acl", tls=tls,
                           bind=bind, log_dest="syslog"))
    click.echo(f"# ---- {conf_dir}/acl")
    click.echo(acl_text())
    if not tls:
        click.echo("# passwords: `floorsync broker add-site SITE` per site (and once for `central`); "
                   "for TLS client certificates set broker.tls and issue one certificate per site with CN=<site>.")


@broker.command("add-site")
@click.argument("site")
@click.pass_obj
def add_site(cfg, site: str) -> None:
    """Create MQTT credentials for SITE (or `central`) and print its password (kept if it exists)."""
    from sync import broker as broker_mod

    name = site if site == broker_mod.CENTRAL_USER else site.upper()
    try:
        creds = broker_mod.add_users(_broker_dir(cfg), [name])
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {name}")
    click.echo(f"password {creds[name]}")
    click.echo(f"password file {_broker_dir(cfg) / 'passwd'} (restart or SIGHUP mosquitto to reload)", err=True)
