"""One edge site (EWR1) and central on SQLite, connected by the real sync runtime over the generated
Mosquitto (``sync_broker``), with the edge's floor services on top — for the edge workflow tests that
check central's side over the real sync flow."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.fixtures_sync import MERCHANT, open_central, open_edge, small_catalog, wait_until


@pytest.fixture
def synced_site(sync_broker, tmp_path):
    """``.cat .svc .cstore .estore .floor .central .edge`` and ``.row(sku) -> central's EWR1 inventory row``;
    the catalog has reached the edge (sku.upsert) before the test starts."""
    from central import sync_handlers
    from central.services import CentralService
    from edge import store as db
    from edge.services import Floor
    from edge.weighing import FixedWeightSource
    from sync.central_node import CentralSync
    from sync.edge_node import EdgeSync
    from tests.fixtures_edge import edge_config

    cat = small_catalog(("EWR1",))
    cstore = open_central(f"sqlite:///{tmp_path}/central.db", cat)
    svc = CentralService(cstore)
    sync_handlers.configure(svc.ops)
    estore = open_edge(tmp_path / "ewr1.db", "EWR1", cat)

    def extras(conn):   # what `edge seed` adds around the sync fixture's one-bin site
        db.location_upsert(conn, "DOCK-01", "X", 0, 0, 0, 100_000, kind="dock")
        db.location_upsert(conn, "QC-01", "X", 0, 0, 0, 100_001, kind="quarantine")
        db.location_upsert(conn, "RET-01", "X", 0, 0, 0, 100_002, kind="returns")
        db.location_upsert(conn, "B-01-01-1", "B", 1, 1, 1, 500)
        db.carton_upsert(conn, {"code": "BOX-XL", "length_mm": 600, "width_mm": 500, "height_mm": 400, "tare_g": 800})
    estore.write(extras)
    central = CentralSync(sync_broker.cfg("central"), cstore, set_health=svc.set_site_health)
    edge = EdgeSync(sync_broker.cfg("EWR1"), estore, digest_fn=False)
    try:
        central.start()
        assert central.wait_ready()
        edge.start()
        assert edge.wait_ready()
        floor = Floor(edge_config(tmp_path), estore, weight_source=FixedWeightSource(0))
        wait_until(lambda: central.status()["sites"]["EWR1"]["down"]["outbox_depth"] == 0, 30, "catalog delivered")

        def row(sku):
            return {s["site_id"]: s for s in svc.inventory_for_sku(MERCHANT, sku)["sites"]}.get("EWR1")
        yield SimpleNamespace(cat=cat, svc=svc, cstore=cstore, estore=estore, floor=floor, central=central, edge=edge,
                              row=row)
    finally:
        edge.stop()
        central.stop()
        estore.close()
        cstore.close()
