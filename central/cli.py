"""`floorsync central ...`: run the central service and administer its database."""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading

import click

from floorsync.log import log_event

logger = logging.getLogger("central.cli")


def open_store(cfg, *, create: bool = True):
    from central.store import CentralStore

    os.makedirs(cfg.general.data_dir, exist_ok=True)
    store = CentralStore(cfg.central.url(cfg.general.data_dir))
    if create:
        store.create_all()
    return store


def _service(cfg, store):
    from central.services import CentralService

    return CentralService(store, max_sync_lag_s=cfg.central.max_sync_lag_s)


def _fail(exc) -> None:
    from central.errors import CentralError

    if isinstance(exc, CentralError):
        detail = "".join(f"\n  {k}: {v}" for k, v in exc.fields.items())
        raise click.ClickException(f"{exc.message}{detail}") from exc
    raise exc


@click.group("central")
def central() -> None:
    """Central order service: orders, network inventory, REST API, webhooks, ops dashboard."""


@central.command("serve")
@click.option("--host", default=None, help="Bind address (default central.host).")
@click.option("--port", type=int, default=None, help="Port (default central.port).")
@click.pass_obj
def serve(cfg, host: str | None, port: int | None) -> None:
    """Run the API (/api/v1), the order dashboard (/ops/orders) and the webhook dispatcher.

    Stops cleanly on SIGTERM/SIGINT (the server, then the dispatcher thread)."""
    from werkzeug.serving import make_server

    from central import sync_handlers
    from central.web import create_app
    from central.webhooks import WebhookDispatcher

    store = open_store(cfg)
    svc = _service(cfg, store)
    sync_handlers.configure(svc.ops)
    app = create_app(cfg, store, service=svc)
    from sync.central_node import CentralSync  # the sync runtime: inbox, down pump, presence, /sync dashboard

    central_sync = CentralSync(cfg, store, set_health=svc.set_site_health)
    app.register_blueprint(central_sync.blueprint())
    dispatcher = WebhookDispatcher(store, base_delay_s=cfg.central.webhook_retry_base_s,
                                   max_attempts=cfg.central.webhook_max_attempts)
    server = make_server(host or cfg.central.host, port if port is not None else cfg.central.port, app, threaded=True)
    stopping = threading.Event()

    def on_signal(signum, _frame):
        if not stopping.is_set():
            stopping.set()
            log_event(logger, "central_stopping", signal=signum)
            threading.Thread(target=server.shutdown, name="shutdown").start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    dispatcher.start()
    central_sync.start()
    log_event(logger, "central_listening", host=server.host, port=server.port, database=store.dialect)
    try:
        server.serve_forever()
    finally:
        central_sync.stop()
        dispatcher.stop()
        server.server_close()
        store.close()
        log_event(logger, "central_stopped")


@central.command("init-db")
@click.pass_obj
def init_db(cfg) -> None:
    """Create or upgrade central's schema (idempotent)."""
    store = open_store(cfg)
    click.echo(f"schema version {store.schema_version()} on {store.dialect}")
    store.close()


@central.group("apikey")
def apikey() -> None:
    """Create, list and revoke API keys (stored hashed; a key is shown once)."""


@apikey.command("create")
@click.option("--merchant", required=True, help="Merchant id the key belongs to.")
@click.option("--scope", type=click.Choice(["read", "write", "admin"]), default="read", show_default=True)
@click.option("--label", default="", help="Free text to recognise the key later.")
@click.pass_obj
def apikey_create(cfg, merchant: str, scope: str, label: str) -> None:
    """Create a key and print it once (only its SHA-256 is stored)."""
    store = open_store(cfg)
    with store.transaction() as conn:
        if store.get_merchant(conn, merchant) is None:
            raise click.ClickException(f"unknown merchant {merchant!r} (seed it first: floorsync central seed)")
        key_id, key = store.create_api_key(conn, merchant, scope, label)
    click.echo(key)
    click.echo(f"key id {key_id}, merchant {merchant}, scope {scope}", err=True)


@apikey.command("revoke")
@click.argument("key_id")
@click.pass_obj
def apikey_revoke(cfg, key_id: str) -> None:
    """Revoke a key by its id (the part after `fsk_`, or the whole key)."""
    store = open_store(cfg)
    if key_id.startswith("fsk_"):
        key_id = key_id.split("_")[1]
    with store.transaction() as conn:
        ok = store.revoke_api_key(conn, key_id)
    if not ok:
        raise click.ClickException(f"no active key {key_id}")
    click.echo(f"revoked {key_id}")


@apikey.command("list")
@click.option("--merchant", default=None)
@click.pass_obj
def apikey_list(cfg, merchant: str | None) -> None:
    """List keys (ids, scopes, revocation) — never the keys themselves."""
    store = open_store(cfg)
    with store.read() as conn:
        for k in store.list_api_keys(conn, merchant):
            state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
            click.echo(f"{k['key_id']}  {k['merchant_id']:<16} {k['scope']:<6} {state}  {k['label']}")


@central.command("seed")
@click.option("--catalog", "catalog", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Catalog JSON: merchant, skus, sites, stock.")
@click.pass_obj
def seed(cfg, catalog: str) -> None:
    """Load a demo catalog (idempotent: running it twice changes nothing)."""
    store = open_store(cfg)
    try:
        with open(catalog, encoding="utf-8") as fh:
            data = json.load(fh)
    except ValueError as exc:
        raise click.ClickException(f"{catalog}: not valid JSON: {exc}") from exc
    try:
        out = _service(cfg, store).seed_catalog(data)
    except Exception as exc:  # noqa: BLE001 - typed errors become a clean message
        _fail(exc)
    click.echo(f"seeded merchant {out['merchant_id']}: {out['skus']} SKUs, {out['sites']} sites, "
               f"{out['stock']} stock rows")


@central.command("import-orders")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--merchant", required=True, help="Merchant the orders belong to.")
@click.pass_obj
def import_orders(cfg, csv_path: str, merchant: str) -> None:
    """Import orders from CSV (one row per line). Good orders are imported; bad rows are listed."""
    store = open_store(cfg)
    with open(csv_path, encoding="utf-8-sig") as fh:
        text = fh.read()
    try:
        out = _service(cfg, store).import_orders_csv(merchant, text, actor="cli-import")
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    click.echo(f"imported {out['imported']}, already present {out['replayed']}, failed {out['failed']}")
    for err in out["errors"]:
        for row, fields in err["fields"].items():
            for field, msg in fields.items():
                click.echo(f"  row {row} ({err['channel_order_id']}): {field}: {msg}", err=True)
    if out["failed"]:
        sys.exit(1)


@central.command("verify-ledger")
@click.pass_obj
def verify_ledger(cfg) -> None:
    """Rebuild every balance from the ledger, compare with current balances, count oversold units."""
    store = open_store(cfg)
    out = _service(cfg, store).verify_ledger()
    click.echo(f"{out['rows']} balances, {len(out['mismatches'])} mismatches, {out['oversold_units']} oversold units")
    for m in out["mismatches"][:20]:
        click.echo(f"  {m['key']}: ledger {m['ledger']} table {m['table']}")
    if out["mismatches"] or out["oversold_units"]:
        sys.exit(1)


@central.group("user")
def user() -> None:
    """Ops users who log in to the central dashboards (/ops/orders, /ops/sites, /sync).

    Passwords are stored as scrypt hashes; a disabled user's open sessions end at their next request."""


def _call(cfg, fn):
    """``fn(service)`` on a freshly opened store (closed afterwards); typed errors become a clean message."""
    store = open_store(cfg)
    try:
        return fn(_service(cfg, store))
    except Exception as exc:  # noqa: BLE001 - typed errors become a clean message
        _fail(exc)
    finally:
        store.close()


def _read_password(password_stdin: bool, generate: bool, username: str) -> tuple[str, bool]:
    from central.core import accounts

    if password_stdin and generate:
        raise click.UsageError("use --password-stdin or --generate-password, not both")
    if generate:
        return accounts.generate_password(), True
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return click.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True), False


@user.command("add")
@click.argument("username")
@click.option("--name", default="", help="Display name shown on the dashboard (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (scripts).")
@click.option("--generate-password", "generate", is_flag=True,
              help="Generate a random password and print it once on stdout.")
@click.pass_obj
def user_add(cfg, username: str, name: str, password_stdin: bool, generate: bool) -> None:
    """Create an ops user. Without options the password is prompted for (twice, hidden).

    Usernames: 2-64 characters of a-z, 0-9, '.', '_', '-'. Passwords: at least 10 characters."""
    password, generated = _read_password(password_stdin, generate, username)
    out = _call(cfg, lambda svc: svc.add_ops_user(username, password, name))
    if generated:
        click.echo(password)
    click.echo(f"ops user {out['username']} ({out['name']}) created", err=True)


@user.command("list")
@click.pass_obj
def user_list(cfg) -> None:
    """List ops users: username, state, last login, failed logins since the last success, name."""
    users = _call(cfg, lambda svc: svc.list_ops_users())
    if not users:
        click.echo("no ops users (create one: floorsync central user add USERNAME)")
    for u in users:
        state = "active" if u["active"] else f"disabled {u['disabled_at']}"
        click.echo(f"{u['username']:<20} {state:<10} last login {u['last_login_at'] or 'never'}  "
                   f"failed {u['failed_logins']}  {u['name']}")


def _set_active(cfg, username: str, active: bool) -> None:
    _call(cfg, lambda svc: svc.set_ops_user_active(username, active))
    click.echo(f"{'enabled' if active else 'disabled'} {username}")


@user.command("disable")
@click.argument("username")
@click.pass_obj
def user_disable(cfg, username: str) -> None:
    """Disable an ops user: no new logins, and open sessions end at their next request."""
    _set_active(cfg, username, False)


@user.command("enable")
@click.argument("username")
@click.pass_obj
def user_enable(cfg, username: str) -> None:
    """Re-enable a disabled ops user."""
    _set_active(cfg, username, True)


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@click.option("--generate-password", "generate", is_flag=True, help="Generate one and print it once on stdout.")
@click.pass_obj
def user_passwd(cfg, username: str, password_stdin: bool, generate: bool) -> None:
    """Set a new password (prompted for unless an option says otherwise); ends the user's open sessions."""
    password, generated = _read_password(password_stdin, generate, username)
    _call(cfg, lambda svc: svc.set_ops_user_password(username, password))
    if generated:
        click.echo(password)
    click.echo(f"password of {username} changed", err=True)
