"""`floorsync simulate`: replay an order history against a network and ask what-if questions."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import click

from central.routing.core.errors import RoutingError
from central.routing.core.model import SiteInfo
from central.routing.core.simulate import SimReport, replay
from central.routing.network import DEFAULT_RATES, DEFAULT_SITES, SAMPLE_HISTORY, load_network, site_from_dict


def _load_toml_sites(path: Path) -> tuple[list[SiteInfo], dict[str, SiteInfo]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.ClickException(f"cannot read sites file {path}: {exc}") from exc
    sites = [site_from_dict(r) for r in data.get("sites", [])]
    cands = {c.site_id: c for c in (site_from_dict(r) for r in data.get("candidates", []))}
    return sites, cands


def _load_catalog(path: Path | None) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    if path is None:
        from floorsync.catalog import build_catalog
        cat = build_catalog()
    else:
        try:
            cat = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot read catalog {path}: {exc}") from exc
    weights = {s["sku"]: int(s.get("weight_g") or 0) for s in cat.get("skus", [])}
    stock: dict[tuple[str, str], int] = {}
    for row in cat.get("stock", []):
        key = (row["sku"], row["site_id"])
        stock[key] = stock.get(key, 0) + int(row["qty"]) - int(row.get("safety_stock") or 0)
    return weights, stock


def _site_at_zip(spec: str) -> SiteInfo:
    import zipcodes

    sid, _, zip5 = spec.partition("@")
    try:
        found = zipcodes.matching(zip5)
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(f"{spec}: {zip5!r} is not a US ZIP code", param_hint="--add-site") from exc
    if not sid or not found:
        raise click.BadParameter(f"{spec}: use ID@ZIP with a known US ZIP (e.g. ATL2@30303)", param_hint="--add-site")
    z = found[0]
    return site_from_dict({"site_id": sid.upper(), "lat": z["lat"], "lon": z["long"], "timezone": z["timezone"],
                           "cutoffs": {"ground": "17:00", "two_day": "15:00", "overnight": "13:00"},
                           "holiday_country": "US", "holiday_subdivision": z["state"]})


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _table(reports: list[SimReport]) -> str:
    names = [r.name for r in reports]
    w = max(14, *(len(n) for n in names)) + 2
    rows = [("", names)]
    rows.append(("orders replayed", [str(r.orders) for r in reports]))
    rows.append(("within 2 business days", [_pct(r.share_within_2bd) for r in reports]))
    rows.append(("avg cost per order", [f"${r.avg_cost:.2f}" for r in reports]))
    rows.append(("split rate", [_pct(r.split_rate) for r in reports]))
    rows.append(("backordered orders", [str(r.backordered) for r in reports]))
    rows.append(("refused (bad input)", [str(len(r.errors)) for r in reports]))
    rows.append(("orders per site", ["" for _ in reports]))
    site_ids = sorted({s for r in reports for s in r.per_site})
    for sid in site_ids:
        rows.append((f"  {sid}", [str(r.per_site[sid]) if sid in r.per_site else "-" for r in reports]))
    lines = [f"{label:<26}" + "".join(f"{c:>{w}}" for c in cols) for label, cols in rows]
    return "\n".join(lines)


@click.command("simulate")
@click.option("--history", "history_path", type=click.Path(dir_okay=False, path_type=Path), default=SAMPLE_HISTORY,
              show_default="the sample history shipped with floorsync",
              help="Order history CSV: order_id,placed_at,country,postal_code,service,lines(SKU:qty;...)[,strategy].")
@click.option("--sites", "sites_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_SITES,
              show_default="the demo's EWR1/LAX1/DFW1", help="Network TOML: [[sites]] and optional [[candidates]].")
@click.option("--rates", "rates_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_RATES,
              show_default="shipped carriers.toml", help="Carrier services/zones/rates TOML.")
@click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Catalog JSON (skus with weight_g, stock rows site_id/sku/qty); default: the demo catalog.")
@click.option("--add-site", "add_sites", multiple=True, metavar="ID|ID@ZIP",
              help="What-if: open a candidate site from the sites file, or a new one at a US ZIP; it is stocked "
                   "with every SKU (--restock-qty). Repeatable.")
@click.option("--remove-site", "remove_sites", multiple=True, metavar="ID", help="What-if: close a site. Repeatable.")
@click.option("--restock", "restock_sites", multiple=True, metavar="ID", help="What-if: stock every SKU at a site. Repeatable.")
@click.option("--restock-qty", default=1000, show_default=True, type=click.IntRange(1, 10**7),
              help="Units per SKU for --restock and --add-site.")
@click.option("--strategy", type=click.Choice(["one_package", "speed"]), default=None,
              help="Override every order's routing strategy (default: the CSV's, else one_package).")
@click.option("--no-replenish", is_flag=True, help="Do not reset stock to the starting levels each day.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Replay only the first N orders.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per scenario instead of a table.")
def simulate(history_path, sites_path, rates_path, catalog_path, add_sites, remove_sites, restock_sites, restock_qty,
             strategy, no_replenish, limit, as_json) -> None:
    """Replay an order history against a network and report the share promised within 2 business days,
    average shipping cost per order, split rate, backorders and orders per site.

    With --add-site / --remove-site / --restock the same history is replayed a second time on the
    changed network and both columns are printed side by side ("what if we open a DFW site?").

    \b
    Examples:
      floorsync simulate
      floorsync simulate --add-site ATL1 --remove-site LAX1
      floorsync simulate --add-site DFW2@75201 --restock EWR1 --json
    """
    from central.routing.history import read_history

    try:
        network = load_network(rates_path)
        sites, candidates = _load_toml_sites(sites_path)
        weights, stock = _load_catalog(catalog_path)
        orders = read_history(history_path, strategy=strategy, limit=limit)
    except RoutingError as exc:
        raise click.ClickException(exc.message) from exc
    if not orders:
        raise click.ClickException(f"{history_path}: no orders")
    replenish = not no_replenish
    reports = [replay(orders, sites, stock, weights, network, name="baseline", replenish_daily=replenish)]

    if add_sites or remove_sites or restock_sites:
        ids = {s.site_id for s in sites}
        new_sites = list(sites)
        new_stock = dict(stock)
        label = []
        for spec in add_sites:
            site = _site_at_zip(spec) if "@" in spec else candidates.get(spec.upper())
            if site is None:
                raise click.BadParameter(f"{spec}: not a candidate in {sites_path} "
                                         f"({', '.join(sorted(candidates)) or 'none'}); or use ID@ZIP",
                                         param_hint="--add-site")
            if site.site_id in ids:
                raise click.BadParameter(f"{site.site_id} is already in the network", param_hint="--add-site")
            new_sites.append(site)
            ids.add(site.site_id)
            new_stock.update({(sku, site.site_id): restock_qty for sku in weights})
            label.append(f"+{site.site_id}")

        def known(sid: str, hint: str) -> str:
            sid = sid.upper()
            if sid not in ids:
                raise click.BadParameter(f"{sid} is not in the network ({', '.join(sorted(ids))})", param_hint=hint)
            return sid

        for sid in map(lambda x: known(x, "--remove-site"), remove_sites):
            new_sites = [s for s in new_sites if s.site_id != sid]
            ids.discard(sid)
            label.append(f"-{sid}")
        for sid in map(lambda x: known(x, "--restock"), restock_sites):
            new_stock.update({(sku, sid): restock_qty for sku in weights})
            label.append(f"restock {sid}")
        reports.append(replay(orders, new_sites, new_stock, weights, network, name="what-if " + " ".join(label),
                              replenish_daily=replenish))

    if as_json:
        for r in reports:
            click.echo(json.dumps(r.to_dict(), sort_keys=True))
        return
    first, last = orders[0].placed_at, orders[-1].placed_at
    click.echo(f"Replayed {len(orders)} orders placed {first:%Y-%m-%d} .. {last:%Y-%m-%d} from {history_path.name}"
               f" against {len(sites)} site(s) ({network.rates.source and Path(network.rates.source).name})")
    click.echo(_table(reports))
    for r in reports:
        if r.errors:
            oid, msg = r.errors[0]
            click.echo(f"{r.name}: {len(r.errors)} order(s) refused, e.g. {oid}: {msg}")
