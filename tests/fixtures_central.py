"""Fixtures for central tests: a clean CentralStore on SQLite AND on PostgreSQL, a seeded service."""
from __future__ import annotations

import copy

import pytest

from central.services import CentralService
from central.store import CentralStore

SITE_BASE = {"line1": "1 Dock Rd", "region": "", "capabilities": ["each"], "capacity_per_day": 0,
             "cutoffs": {"ground": "17:00", "two_day": "15:00", "overnight": "13:00"}, "holiday_country": "US"}

CATALOG = {
    "merchant_id": "acme", "merchant_name": "Acme Outdoor",
    "skus": [
        {"sku": f"SKU-{i}", "description": f"Item {i}", "gtins": [], "weight_g": 100 * i, "length_mm": 100,
         "width_mm": 80, "height_mm": 50, "lot_tracked": False, "expiry_tracked": False, "hazmat": False,
         "requires_qc": False, "safety_stock": 0} for i in range(1, 6)
    ],
    "sites": [
        dict(SITE_BASE, site_id="EWR1", name="Newark", city="Newark", region="NJ", postal_code="07102", country="US",
             lat=40.7357, lon=-74.1724, timezone="America/New_York", holiday_subdivision="NJ"),
        dict(SITE_BASE, site_id="LAX1", name="Los Angeles", city="Los Angeles", region="CA", postal_code="90021",
             country="US", lat=34.0289, lon=-118.2387, timezone="America/Los_Angeles", holiday_subdivision="CA"),
    ],
    "stock": [{"site_id": "EWR1", "sku": "SKU-1", "qty": 10}, {"site_id": "LAX1", "sku": "SKU-1", "qty": 5},
              {"site_id": "EWR1", "sku": "SKU-2", "qty": 4}, {"site_id": "LAX1", "sku": "SKU-3", "qty": 2}],
}
CATALOG_B = {"merchant_id": "bolt", "merchant_name": "Bolt Bikes",
             "skus": [dict(CATALOG["skus"][0], sku="SKU-1", description="Bolt item")],
             "sites": [CATALOG["sites"][0]], "stock": [{"site_id": "EWR1", "sku": "SKU-1", "qty": 7}]}

ADDRESS = {"name": "Dana Smith", "line1": "350 5th Ave", "city": "New York", "region": "NY",
           "postal_code": "10118", "country": "US"}


def order_payload(coid: str, lines, **extra) -> dict:
    return {"channel": "web", "channel_order_id": coid, "ship_to": dict(ADDRESS),
            "lines": [{"sku": s, "qty": q} for s, q in lines], **extra}


def _fresh(store: CentralStore) -> CentralStore:
    store.drop_all()
    store.create_all()
    return store


@pytest.fixture(scope="session")
def central_pg_url(postgres_url):
    """Central's own database on the shared throwaway cluster, so dropping central's tables never
    touches anyone else's."""
    from sqlalchemy import create_engine, text

    admin = create_engine(postgres_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = 'central_test'")).first():
            conn.execute(text("CREATE DATABASE central_test"))
    admin.dispose()
    yield postgres_url.rsplit("/", 1)[0] + "/central_test"


@pytest.fixture(params=["sqlite", "postgres"])
def central_store(request, tmp_path):
    """A CentralStore with an empty schema, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        store = CentralStore(f"sqlite:///{tmp_path}/central.db")
    else:
        store = CentralStore(request.getfixturevalue("central_pg_url"))
    _fresh(store)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path):
    store = CentralStore(f"sqlite:///{tmp_path}/central.db")
    store.create_all()
    yield store
    store.close()


@pytest.fixture
def svc(central_store):
    service = CentralService(central_store)
    service.seed_catalog(copy.deepcopy(CATALOG))
    service.seed_catalog(copy.deepcopy(CATALOG_B))
    return service


def inv(service: CentralService, merchant: str, sku: str) -> dict:
    return {s["site_id"]: s for s in service.inventory_for_sku(merchant, sku)["sites"]}


def outbox(store: CentralStore, site_id: str, skip=("sku.upsert", "site.config")) -> list:
    """Down events queued for a site (catalog sync events from seeding left out)."""
    from sync import central_journal

    with store.read() as conn:
        return [e for e in central_journal.pending_for_site(conn, site_id) if e.type not in skip]
