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
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Request threads of the one server process (default edge.server_threads).")
@click.pass_obj
def serve(cfg, host, port, no_sync, threads) -> None:
    """Serve the site console (/console), handheld page (/handheld) and JSON API until SIGTERM/SIGINT."""
    import dataclasses

    from edge.errors import EdgeError
    from edge.runtime import open_store, serve as run_server

    if threads is not None:
        cfg = dataclasses.replace(cfg, edge=dataclasses.replace(cfg.edge, server_threads=threads))

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


@edge.group("counts")
def counts() -> None:
    """Scheduled cycle counts: schedules per zone or ABC class, the scheduler, the due list."""


def _with_floor(cfg, fn):
    from edge.errors import EdgeError
    from edge.runtime import open_store
    from edge.services import Floor

    store = open_store(cfg)
    try:
        return fn(Floor(cfg, store))
    except EdgeError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        store.close()


@counts.command("add")
@click.argument("schedule_id")
@click.option("--zone", default=None, help="Count the stocked bins of this zone (e.g. A).")
@click.option("--abc", "abc_class", type=click.Choice(["A", "B", "C"]), default=None,
              help="Count the bins of this pick-velocity class (A = fastest movers).")
@click.option("--every", "every_days", type=click.IntRange(1, 365), required=True, help="Count each bin every N days.")
@click.pass_obj
def counts_add(cfg, schedule_id, zone, abc_class, every_days) -> None:
    """Add (or change) a count schedule: one zone or one ABC class, every N days."""
    if bool(zone) == bool(abc_class):
        raise click.UsageError("give exactly one of --zone or --abc")
    from edge.services import SYSTEM
    out = _with_floor(cfg, lambda f: f.counting.add_schedule(SYSTEM, schedule_id, "zone" if zone else "abc",
                                                             zone or abc_class, every_days))
    s = out["schedule"]
    click.echo(f"schedule {s['schedule_id']}: {s['scope']} {s['target']} every {s['every_days']} day(s)")


@counts.command("remove")
@click.argument("schedule_id")
@click.pass_obj
def counts_remove(cfg, schedule_id) -> None:
    """Deactivate a schedule and cancel its open count tasks."""
    from edge.services import SYSTEM
    out = _with_floor(cfg, lambda f: f.counting.remove_schedule(SYSTEM, schedule_id))
    click.echo(f"schedule {schedule_id} removed; {out['cancelled_tasks']} open count task(s) cancelled")


@counts.command("schedules")
@click.pass_obj
def counts_schedules(cfg) -> None:
    """List the count schedules."""
    rows = _with_floor(cfg, lambda f: f.counting.schedules())
    if not rows:
        click.echo("no count schedules")
    for s in rows:
        click.echo(f"{s['schedule_id']}\t{s['scope']} {s['target']}\tevery {s['every_days']} d\t"
                   f"{'active' if s['active'] else 'inactive'}\tlast run {s['last_run_at'] or '-'}")


@counts.command("schedule")
@click.pass_obj
def counts_schedule(cfg) -> None:
    """Run the scheduler now: create a count task for every bin that is due (idempotent)."""
    out = _with_floor(cfg, lambda f: f.counting.schedule_due())
    click.echo(json.dumps({k: out[k] for k in ("created", "by_schedule", "open_tasks")}))


@counts.command("due")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def counts_due(cfg, as_json) -> None:
    """List the open scheduled counts, due or overdue (most overdue first)."""
    out = _with_floor(cfg, lambda f: f.counting.due())
    if as_json:
        click.echo(json.dumps({k: out[k] for k in ("due", "overdue", "tasks")}))
        return
    click.echo(f"{out['due']} due, {out['overdue']} overdue")
    for t in out["tasks"]:
        click.echo(f"{t['location']}\t{t['state']}\tdue {t['due_at'][:16].replace('T', ' ')}\t{t['schedule_id']}"
                   + (f"\tclass {t['abc_class']}" if t["abc_class"] else ""))
