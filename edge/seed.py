"""Seed an edge from the shared demo catalog JSON: SKUs, a bin layout with walk sequence, cartons,
users, site configuration and this site's stock in bins."""
from __future__ import annotations

import json
from pathlib import Path

from edge import store as db
from edge.core.layout import build_layout
from edge.errors import SeedError

ZONES = ("A", "B", "C")
CARTONS = [
    {"code": "BOX-XS", "length_mm": 200, "width_mm": 150, "height_mm": 80, "tare_g": 90},
    {"code": "BOX-S", "length_mm": 300, "width_mm": 200, "height_mm": 120, "tare_g": 160},
    {"code": "BOX-M", "length_mm": 400, "width_mm": 300, "height_mm": 200, "tare_g": 320},
    {"code": "BOX-L", "length_mm": 500, "width_mm": 400, "height_mm": 300, "tare_g": 520},
    {"code": "BOX-XL", "length_mm": 600, "width_mm": 500, "height_mm": 400, "tare_g": 800},
]
SPECIAL = [("DOCK-01", "dock"), ("QC-01", "quarantine"), ("RET-01", "returns"), ("REF-01", "refurb"), ("OUT-01", "outbound")]
DEMO_USERS = [("picker1", "Pat Picker", "picker", "1111"), ("picker2", "Sam Picker", "picker", "1112"),
              ("packer1", "Kim Packer", "packer", "2222"), ("receiver1", "Ray Receiver", "receiver", "3333"),
              ("counter1", "Cole Counter", "counter", "4444"), ("counter2", "Cleo Counter", "counter", "4445"),
              ("manager1", "Max Manager", "manager", "9999"), ("admin", "Site Admin", "admin", "0000")]


def load_catalog(path: str | Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SeedError(f"cannot read catalog {path}: {exc}") from exc
    for key in ("merchant_id", "skus"):
        if key not in data:
            raise SeedError(f"catalog {path}: missing {key!r}")
    return data


def seed(floor, catalog: dict, *, aisles_per_zone: int = 4, bays: int = 10, levels: int = 3,
         users: bool = True, lots: bool = True) -> dict:
    """Idempotent for SKUs/bins/cartons/users; stock is only placed into an empty site."""
    site = floor.site_id
    merchant = catalog["merchant_id"]
    site_info = next((s for s in catalog.get("sites", []) if s.get("site_id") == site), None)
    stock = [s for s in catalog.get("stock", []) if s.get("site_id") == site]
    # enough bins for every stocked SKU (two for lot-tracked ones) with a quarter spare for put-away
    need = int(len(stock) * 1.25) + 2 * len(catalog["skus"]) // 10
    per_aisle = len(ZONES) * bays * levels
    aisles_per_zone = max(aisles_per_zone, -(-need // per_aisle))
    layout = build_layout(list(ZONES), aisles_per_zone, bays, levels)

    def fn(conn):
        for i, s in enumerate(catalog["skus"]):
            row = dict(s)
            row["home_zone"] = ZONES[i % len(ZONES)]
            db.sku_upsert(conn, row, s.get("gtins", []), merchant)
        for b, seq in layout:
            db.location_upsert(conn, b.code, b.zone, b.aisle, b.bay, b.level, seq)
        for i, (code, kind) in enumerate(SPECIAL):
            db.location_upsert(conn, code, "X", 0, 0, 0, 100_000 + i, kind=kind)
        for c in CARTONS:
            db.carton_upsert(conn, c)
        if site_info:
            cfg = {k: site_info[k] for k in ("timezone", "cutoffs", "holidays", "capabilities", "name") if k in site_info}
            addr = {k: site_info[k] for k in ("line1", "line2", "city", "region", "postal_code", "country") if k in site_info}
            if addr:
                cfg["address"] = addr
            if cfg:
                db.site_config_set(conn, cfg)
        placed = 0
        if db.count_rows(conn, "stock") == 0:
            free = {z: [b for b, _ in layout if b.zone == z] for z in ZONES}
            for s in stock:
                sku = db.sku_get(conn, s["sku"])
                if sku is None or int(s.get("qty", 0)) <= 0:
                    continue
                qty = int(s["qty"])
                zone = sku["home_zone"]
                bins = free[zone] or next(v for v in free.values() if v)
                b1 = bins.pop(0)
                if lots and (sku["lot_tracked"] or sku["expiry_tracked"]) and qty > 1:
                    # two lots, the older one in a second bin further down the walk: FEFO must find it
                    b2 = bins.pop(len(bins) // 2) if bins else b1
                    half = qty // 2
                    db.stock_add(conn, location=b1.code, sku=sku["sku"], lot="L2", expiry="2027-12-31", delta=qty - half,
                                 cause="seed", ref=None, user="seed")
                    db.stock_add(conn, location=b2.code, sku=sku["sku"], lot="L1", expiry="2027-06-30", delta=half,
                                 cause="seed", ref=None, user="seed")
                else:
                    db.stock_add(conn, location=b1.code, sku=sku["sku"], lot="", expiry=None, delta=qty, cause="seed",
                                 ref=None, user="seed")
                placed += qty
        db.audit(conn, user="seed", action="seed", ok=True, subject=f"site:{site}",
                 detail={"skus": len(catalog["skus"]), "bins": len(layout), "units": placed})
        return {"skus": len(catalog["skus"]), "bins": len(layout), "units": placed}
    result = floor.store.write(fn)
    if users:
        existing = {u["username"] for u in floor.store.read(db.users_all)}
        for username, name, role, pin in DEMO_USERS:
            if username not in existing:
                floor.auth.add_user(username, name, role, pin, zone=None)
        result["users"] = [u[0] for u in DEMO_USERS]
    return result
