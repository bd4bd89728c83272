"""Order-history CSV for the network simulation: read, and generate the sample.

Columns: ``order_id,placed_at,country,postal_code,service,lines[,strategy]`` where ``placed_at``
is ISO 8601 with an offset and ``lines`` is ``SKU:qty;SKU:qty``. A malformed row is refused with
an error naming its line; rows with unknown ZIPs/SKUs load and are counted as refused by the replay.
"""
from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path
from typing import Iterable, Sequence

from central.routing.core.errors import InvalidRequest, RoutingError
from central.routing.core.model import RouteLine, RouteRequest
from central.routing.core.simulate import SimOrder

COLUMNS = ("order_id", "placed_at", "country", "postal_code", "service", "lines", "strategy")


def _parse_lines(text: str, where: str) -> tuple[RouteLine, ...]:
    out = []
    for i, part in enumerate(p for p in text.split(";") if p.strip()):
        sku, sep, qty = part.strip().rpartition(":")
        if not sep or not sku or not qty.isdigit() or int(qty) <= 0:
            raise InvalidRequest(f"{where}: line item {part!r} must be SKU:qty with qty > 0")
        out.append(RouteLine(str(i + 1), sku, int(qty)))
    if not out:
        raise InvalidRequest(f"{where}: no line items")
    return tuple(out)


def read_history(path: Path | str, *, merchant_id: str = "acme", strategy: str | None = None,
                 limit: int | None = None) -> list[SimOrder]:
    orders = []
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest(f"cannot read order history {path}: {exc}") from exc
    with fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS[:-1] if c not in (reader.fieldnames or ())]
        if missing:
            raise InvalidRequest(f"{path}: missing column(s) {', '.join(missing)}")
        for n, row in enumerate(reader, start=2):
            where = f"{path} line {n}"
            try:
                placed = dt.datetime.fromisoformat(row["placed_at"].strip().replace("Z", "+00:00"))
            except ValueError as exc:
                raise InvalidRequest(f"{where}: placed_at {row['placed_at']!r} is not ISO 8601") from exc
            if placed.tzinfo is None:
                raise InvalidRequest(f"{where}: placed_at {row['placed_at']!r} needs a UTC offset")
            try:
                req = RouteRequest(merchant_id=merchant_id, lines=_parse_lines(row["lines"] or "", where),
                                   country=(row["country"] or "").strip().upper(),
                                   postal_code=(row["postal_code"] or "").strip(),
                                   service=(row["service"] or "ground").strip(),
                                   strategy=strategy or (row.get("strategy") or "one_package").strip())
            except RoutingError as exc:
                msg = exc.message if exc.message.startswith(where) else f"{where}: {exc.message}"
                raise InvalidRequest(msg) from exc
            orders.append(SimOrder(row["order_id"], placed, req))
            if limit and len(orders) >= limit:
                break
    return orders


_ABROAD = [("CA", "M5V 2T6"), ("CA", "H2X 1Y4"), ("GB", "SW1A 1AA"), ("DE", "10115"), ("MX", "06600"),
           ("AU", "2000"), ("JP", "100-0001")]


def generate_history(n: int, skus: Sequence[str], zips: Sequence[str], *, seed: int = 42,
                     start: dt.date = dt.date(2026, 11, 2), days: int = 12) -> list[dict]:
    """Deterministic sample rows: ~2% abroad, 70/20/10% ground/two-day/overnight, 1-3 SKUs."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        day = start + dt.timedelta(days=rng.randrange(days))
        minute = rng.randrange(12 * 60, 29 * 60)   # 07:00 New York .. 00:00 Los Angeles next day
        placed = dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.timezone.utc) + dt.timedelta(minutes=minute)
        if rng.random() < 0.02:
            country, postal = rng.choice(_ABROAD)
            service = "international"
        else:
            country, postal = "US", rng.choice(zips)
            service = rng.choices(["ground", "two_day", "overnight"], [70, 20, 10])[0]
        k = rng.choice([1, 1, 1, 2, 2, 3])
        lines = ";".join(f"{s}:{rng.choice([1, 1, 1, 2])}" for s in rng.sample(list(skus), k))
        rows.append({"order_id": f"H{i + 1:05d}", "placed_at": placed.isoformat().replace("+00:00", "Z"),
                     "country": country, "postal_code": postal, "service": service, "lines": lines,
                     "strategy": ""})
    rows.sort(key=lambda r: r["placed_at"])
    return rows


def write_history(path: Path | str, rows: Iterable[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        w.writeheader()
        for r in rows:
            w.writerow(r)
