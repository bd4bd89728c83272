"""Central on a SQLite file for the edge tests that check central's side of an up event."""
from __future__ import annotations

import copy

import pytest

from sync.core.envelope import Envelope


@pytest.fixture
def central_svc(tmp_path):
    """A CentralService on SQLite seeded with the central test catalog; the sync handlers use it."""
    from central import sync_handlers
    from central.services import CentralService
    from central.store import CentralStore
    from tests.fixtures_central import CATALOG

    store = CentralStore(f"sqlite:///{tmp_path}/central.db")
    store.create_all()
    svc = CentralService(store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    sync_handlers.configure(svc.ops)
    yield svc
    store.close()


def up(svc, seq: int, kind: str, body: dict, *, site: str = "EWR1", merchant: str = "acme"):
    """Apply one up event at central, as the sync runtime would hand it over."""
    from central import sync_handlers

    env = Envelope(1, f"ev-{site}-{seq}", merchant, site, "up", seq, "e1", kind, "2026-01-01T00:00:00Z", body)
    return svc.store.run(lambda conn: sync_handlers.apply_up_event(conn, env))
