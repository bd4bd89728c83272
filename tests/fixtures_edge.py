"""Fixtures for the edge tests: a demo catalog, a real SQLite edge store and its floor services."""
from __future__ import annotations

import json

import pytest
from biip.checksums import gs1_standard_check_digit

from floorsync import config as config_mod

SITE = "EWR1"
MERCHANT = "M-ACME"


def gtin13(n: int) -> str:
    body = f"400638{n:06d}"
    return body + str(gs1_standard_check_digit(body))


def make_catalog(n_skus: int = 30, qty: int = 200) -> dict:
    skus = []
    for i in range(1, n_skus + 1):
        skus.append({
            "sku": f"SKU-{i:04d}", "description": f"Demo item {i}", "gtins": [gtin13(i)],
            "weight_g": 100 + 10 * i, "length_mm": 100 + i, "width_mm": 80, "height_mm": 40,
            "lot_tracked": i % 10 == 0, "expiry_tracked": i % 10 == 0, "hazmat": False,
            "requires_qc": i == 7, "safety_stock": 0,
        })
    return {
        "merchant_id": MERCHANT, "merchant_name": "Acme Goods",
        "skus": skus,
        "sites": [{"site_id": SITE, "timezone": "America/New_York", "cutoffs": {"ground": "16:00"},
                   "capabilities": ["discrete", "batch", "cluster", "zone", "wave"]},
                  {"site_id": "LAX1", "timezone": "America/Los_Angeles", "cutoffs": {"ground": "15:00"}}],
        "stock": [{"site_id": SITE, "sku": s["sku"], "qty": qty} for s in skus if s["sku"] != "SKU-0007"]
                 + [{"site_id": "LAX1", "sku": "SKU-0001", "qty": 5}],
    }


def edge_config(tmp_path, **edge):
    env = {"FLOORSYNC_GENERAL_DATA_DIR": str(tmp_path), "FLOORSYNC_EDGE_SITE_ID": SITE,
           "FLOORSYNC_DEVICES_SCAN_DEBOUNCE_MS": "0", "FLOORSYNC_DEVICES_PRINTER_KIND": "none"}
    for k, v in edge.items():
        env[f"FLOORSYNC_EDGE_{k.upper()}"] = ",".join(v) if isinstance(v, (list, tuple)) else str(v)
    return config_mod.load(None, env=env)


@pytest.fixture
def catalog():
    return make_catalog()


@pytest.fixture
def catalog_file(tmp_path, catalog):
    p = tmp_path / "catalog.json"
    p.write_text(json.dumps(catalog))
    return p


@pytest.fixture
def edge_cfg(tmp_path):
    return edge_config(tmp_path)


@pytest.fixture
def edge_store(tmp_path):
    from edge.store import EdgeStore

    st = EdgeStore(str(tmp_path / "edge.db"), SITE)
    yield st
    st.close()


@pytest.fixture
def floor(edge_cfg, edge_store, catalog):
    from edge.seed import seed
    from edge.services import Floor
    from edge.weighing import FixedWeightSource

    f = Floor(edge_cfg, edge_store, weight_source=FixedWeightSource(0))
    seed(f, catalog)
    return f


# ---------------------------------------------------------------- helpers used by several edge test files

_seq = {"n": 0}


def envelope(event_type: str, body: dict, *, site: str = SITE, merchant: str = MERCHANT, seq: int | None = None) -> dict:
    _seq["n"] += 1
    return {"schema": 1, "event_id": f"evt-{_seq['n']}", "merchant_id": merchant, "site_id": site, "stream": "down",
            "seq": seq if seq is not None else _seq["n"], "epoch": "e1", "type": event_type,
            "occurred_at": "2026-11-23T10:00:00Z", "body": body}


def fo_body(fo_id: str, lines: list[tuple[str, int]], *, urgent: bool = False, ship_by: str = "2026-11-24T21:00:00Z",
            tracking: str | None = None, carrier: str = "ups") -> dict:
    return {"fo_id": fo_id, "order_id": "O" + fo_id, "channel_order_id": "C" + fo_id, "service": "ground", "carrier": carrier,
            "tracking_number": tracking or f"1Z{fo_id.replace('-', '')}", "promised_date": "2026-11-27", "ship_by": ship_by,
            "urgent": urgent, "ship_to": {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Newark", "region": "NJ",
                                          "postal_code": "07102", "country": "US"},
            "lines": [{"line_id": str(i + 1), "sku": sku, "qty": q} for i, (sku, q) in enumerate(lines)]}


def release(store, fo_id: str, lines: list[tuple[str, int]], **kw) -> None:
    from edge.sync_handlers import apply_down_event

    store.write(lambda c: apply_down_event(c, envelope("fulfillment_order.released", fo_body(fo_id, lines, **kw))))


def down(store, event_type: str, body: dict, **kw):
    from edge.sync_handlers import apply_down_event

    return store.write(lambda c: apply_down_event(c, envelope(event_type, body, **kw)))


def sku_gtin(sku: str) -> str:
    return gtin13(int(sku.split("-")[1]))


def gs1(sku: str, lot: str, expiry_yymmdd: str = "270630") -> str:
    """A GS1-128 element string (as a wedge scanner sends it, FNC1 stripped at the start) with lot last."""
    return "01" + sku_gtin(sku).zfill(14) + "17" + expiry_yymmdd + "10" + lot


def item_code(task: dict) -> str:
    return gs1(task["sku"], task["lot"]) if task.get("lot") else sku_gtin(task["sku"])


SNAPSHOT_TABLES = ("skus", "sku_aliases", "locations", "stock", "inventory_ledger", "fulfillment_orders", "fo_lines",
                   "pick_runs", "pick_run_orders", "pick_tasks", "totes", "cartons", "manifests", "counts", "transfers",
                   "transfer_lines", "expected_receipts", "asn_lines", "receipts", "rmas", "rma_lines", "returns",
                   "users", "print_jobs", "sync_outbox")


def snapshot(store) -> dict:
    """Every domain table's rows (the audit log excluded): equal snapshots = nothing changed."""
    def fn(conn):
        return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in SNAPSHOT_TABLES}
    return store.read(fn)


def audit_refusals(store, action: str | None = None) -> list[dict]:
    from edge import store as db

    return store.read(lambda c: db.audit_rows(c, ok=False, action=action, limit=1000))


def outbox(store) -> list[dict]:
    from edge import store as db

    return store.read(db.outbox_events)


def pick_all(floor, actor, run: dict, *, max_steps: int = 10_000) -> dict:
    """Drive a pick run to the end by scanning bin then item for every task."""
    steps = 0
    while run.get("task") and steps < max_steps:
        t = run["task"]
        if run["expect"] == "location":
            run = floor.picking.scan(actor, run["run_id"], t["location"], task_id=t["task_id"])
        t = run["task"]
        run = floor.picking.scan(actor, run["run_id"], item_code(t), task_id=t["task_id"], qty=t["remaining"])
        steps += 1
    return run


def pack_and_ship(floor, actor, fo_id: str) -> dict:
    from edge import store as db

    v = floor.packing.start(actor, fo_id)
    for ln in v["lines"]:
        if ln["picked"]:
            floor.packing.scan_item(actor, fo_id, sku_gtin(ln["sku"]), qty=ln["picked"])
    v = floor.packing.get(fo_id)
    floor.packing.carton(actor, fo_id, v["suggested_carton"])
    expected = floor.store.read(lambda c: db.fo_get(c, fo_id))["expected_weight_g"]
    floor.weight_source.set(expected + 10)
    v = floor.packing.weigh(actor, fo_id)
    assert v["ok"], v
    return floor.shipping.confirm(actor, fo_id, v["tracking_number"])
