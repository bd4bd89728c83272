"""`floorsync edge ...`: run and set up one site's edge node."""
from __future__ import annotations

import json

import click


@click.group("edge")
def edge() -> None:
    """The edge node of one site (edge.site_id): floor workflows, console and handheld API."""


@edge.command("serve")
@click.option("--host", default=None, help="Bind address (default edge.host).")
@click.option("--port", type=int, default=None, help="Port (default edge.port).")
@click.option("--no-sync", is_flag=True, help="Do not start the MQTT sync runtime (floor-only, offline).")
@click.pass_obj
def serve(cfg, host, port, no_sync) -> None:
    """Serve the site console (/console), handheld page (/handheld) and JSON API until SIGTERM/SIGINT."""
    from edge.errors import EdgeError
    from edge.runtime import open_store, serve as run_server

    try:
        open_store(cfg).close()   # fail fast (bad path, wrong site) before the server starts
    except EdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    run_server(cfg, host, port, with_sync=not no_sync)


@edge.command("init-db")
@click.pass_obj
def init_db(cfg) -> None:
    """Create or migrate the edge database (idempotent)."""
    from edge.runtime import database_path, open_store

    store = open_store(cfg)
    try:
        click.echo(f"edge database {database_path(cfg)} at schema version {store.schema_version} (site {cfg.edge.site_id})")
    finally:
        store.close()


@edge.command("seed")
@click.option("--catalog", "catalog_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Demo catalog JSON (merchant, SKUs, sites, stock per site).")
@click.option("--no-users", is_flag=True, help="Do not create the demo users.")
@click.pass_obj
def seed_cmd(cfg, catalog_path, no_users) -> None:
    """Load SKUs, a bin layout with walk sequence, cartons, demo users and this site's stock."""
    from edge.errors import EdgeError
    from edge.runtime import open_store
    from edge.seed import DEMO_USERS, load_catalog, seed
    from edge.services import Floor

    store = open_store(cfg)
    try:
        result = seed(Floor(cfg, store), load_catalog(catalog_path), users=not no_users)
    except EdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(json.dumps(result))
    if not no_users:
        click.echo("demo users (user / PIN / role): " + ", ".join(f"{u} / {p} / {r}" for u, _n, r, p in DEMO_USERS))


@edge.group("user")
def user() -> None:
    """Manage the site's users (pickers, packers, receivers, counters, managers, admins)."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["picker", "packer", "receiver", "counter", "manager", "admin"]))
@click.option("--name", default="", help="Display name.")
@click.option("--zone", default=None, help="Home zone for zone picking (e.g. A).")
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True, envvar="FLOORSYNC_EDGE_NEW_PIN",
              help="PIN (4-12 digits) or password (8+ chars); prompted when omitted.")
@click.pass_obj
def user_add(cfg, username, role, name, zone, pin) -> None:
    """Add (or update) a user with a hashed PIN."""
    from edge.errors import EdgeError
    from edge.runtime import open_store
    from edge.services import Floor

    store = open_store(cfg)
    try:
        Floor(cfg, store).auth.add_user(username, name, role, pin, zone=zone)
    except EdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"user {username} ({role}) saved")
