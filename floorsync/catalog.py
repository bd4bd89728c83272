"""The demo network: one merchant, a few hundred SKUs with GTINs and weights, three sites, stock.

Deterministic for a given seed, so a restarted demo and the tests see the same catalog. Written
as the catalog JSON that `floorsync central seed --catalog` and `floorsync edge seed --catalog`
both read.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

SITES = [
    {"site_id": "EWR1", "name": "Newark FC", "line1": "100 Port St", "city": "Newark", "region": "NJ",
     "postal_code": "07114", "country": "US", "lat": 40.7066, "lon": -74.1581, "timezone": "America/New_York",
     "holiday_country": "US", "holiday_subdivision": "NJ"},
    {"site_id": "LAX1", "name": "Los Angeles FC", "line1": "2000 E Imperial Hwy", "city": "Los Angeles",
     "region": "CA", "postal_code": "90059", "country": "US", "lat": 33.9292, "lon": -118.2436,
     "timezone": "America/Los_Angeles", "holiday_country": "US", "holiday_subdivision": "CA"},
    {"site_id": "DFW1", "name": "Dallas FC", "line1": "4500 Freeport Pkwy", "city": "Irving", "region": "TX",
     "postal_code": "75063", "country": "US", "lat": 32.9230, "lon": -97.0130, "timezone": "America/Chicago",
     "holiday_country": "US", "holiday_subdivision": "TX"},
]

_NOUNS = ["Mug", "T-Shirt", "Notebook", "Water Bottle", "Phone Case", "Candle", "Sock Pack", "Tote Bag",
          "Desk Lamp", "Headphones", "Yoga Mat", "Backpack", "Coffee Beans", "Tea Tin", "Puzzle", "Sunglasses"]
_ADJ = ["Classic", "Organic", "Travel", "Deluxe", "Mini", "Eco", "Pro", "Vintage", "Everyday", "Limited"]
_COLOURS = ["Black", "White", "Navy", "Sage", "Coral", "Sand", "Red", "Grey"]


def gtin_check_digit(body: str) -> str:
    """GS1 mod-10 check digit for a GTIN body (all digits but the last)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def build_catalog(n_skus: int = 300, seed: int = 7, sites: list[dict] | None = None) -> dict:
    rng = random.Random(seed)
    sites = [dict(s) for s in (sites or SITES)]
    for s in sites:
        s.setdefault("cutoffs", {"ground": "17:00", "two_day": "15:00", "overnight": "13:00"})
        s.setdefault("capabilities", ["discrete", "batch", "cluster", "zone", "wave"])
        s.setdefault("capacity_per_day", 5000)
    skus, stock = [], []
    for i in range(1, n_skus + 1):
        sku = f"SKU-{i:04d}"
        gtin_body = f"{rng.randint(10**11, 10**12 - 1)}"  # 12 digits + check = EAN-13
        lot_tracked = rng.random() < 0.1
        skus.append({
            "sku": sku,
            "description": f"{rng.choice(_ADJ)} {rng.choice(_NOUNS)} - {rng.choice(_COLOURS)}",
            "gtins": [gtin_body + gtin_check_digit(gtin_body)],
            "weight_g": rng.randint(60, 4000),
            "length_mm": rng.randint(50, 400), "width_mm": rng.randint(40, 300), "height_mm": rng.randint(10, 200),
            "lot_tracked": lot_tracked, "expiry_tracked": lot_tracked,
            "hazmat": rng.random() < 0.02, "requires_qc": rng.random() < 0.05,
            "safety_stock": rng.choice([0, 0, 2, 5]),
        })
        for s in sites:
            if rng.random() < 0.8:
                stock.append({"site_id": s["site_id"], "sku": sku, "qty": rng.randint(5, 200)})
    return {"merchant_id": "acme", "merchant_name": "Acme Goods Co.", "skus": skus, "sites": sites, "stock": stock}


def write_catalog(path: Path, **kwargs) -> dict:
    """Write the catalog once; an existing file is kept so a restarted demo resumes on the same data."""
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    catalog = build_catalog(**kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(catalog, indent=1), encoding="utf-8")
    return catalog


_DESTINATIONS = [
    ("Ana Lopez", "12 Ocean Ave", "Brooklyn", "NY", "11225"), ("Sam Carter", "500 Pine St", "Seattle", "WA", "98101"),
    ("Priya Nair", "77 Elm Rd", "Austin", "TX", "78701"), ("Chris Olsen", "9 Lake Dr", "Chicago", "IL", "60601"),
    ("Mei Chen", "3400 Sunset Blvd", "Los Angeles", "CA", "90026"), ("Omar Haddad", "15 Peachtree St", "Atlanta", "GA", "30303"),
    ("Lena Fischer", "210 Pearl St", "Denver", "CO", "80203"), ("Jon Park", "88 Beacon St", "Boston", "MA", "02108"),
    ("Kofi Mensah", "41 Bay St", "Miami", "FL", "33131"), ("Zoe Martin", "600 Main St", "Phoenix", "AZ", "85004"),
]


def random_order(catalog: dict, rng: random.Random, n: int) -> dict:
    """One merchant order for the demo's order stream (API payload of POST /api/v1/orders)."""
    name, line1, city, region, postal = rng.choice(_DESTINATIONS)
    skus = rng.sample(catalog["skus"], k=rng.choice([1, 1, 1, 2, 2, 3]))
    return {
        "channel": "web",
        "channel_order_id": f"DEMO-{n:06d}-{rng.randint(1000, 9999)}",
        "service": rng.choice(["ground", "ground", "two_day", "overnight"]),
        "ship_to": {"name": name, "line1": line1, "city": city, "region": region, "postal_code": postal, "country": "US"},
        "lines": [{"sku": s["sku"], "qty": rng.choice([1, 1, 2])} for s in skus],
    }
