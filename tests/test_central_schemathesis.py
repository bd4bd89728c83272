"""Schemathesis fuzzes the API from its own OpenAPI document (bounded: a few examples per operation).

Checks: no 5xx, documented status codes, response bodies conform to their schemas, content type.
"""
from __future__ import annotations

import copy

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from central.services import CentralService
from central.store import CentralStore
from central.web import create_app
from floorsync import config as config_mod
from tests.fixtures_central import CATALOG


@pytest.fixture(scope="module")
def _central_app(tmp_path_factory):
    path = tmp_path_factory.mktemp("st") / "central.db"
    store = CentralStore(f"sqlite:///{path}")
    store.create_all()
    svc = CentralService(store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    with store.transaction() as conn:
        _, key = store.create_api_key(conn, "acme", "admin")
    app = create_app(config_mod.load(env={}), store, service=svc)
    yield app, key
    store.close()


@pytest.fixture(scope="module")
def live_api(_central_app):
    """The app on a real loopback port (a werkzeug server thread, joined at the end)."""
    import threading

    from werkzeug.serving import make_server

    app, key = _central_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1", key
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def _spec():
    from central.openapi import spec

    return spec()


schema = schemathesis.openapi.from_dict(_spec())
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.response_schema_conformance, schemathesis.checks.content_type_conformance]


@schema.parametrize()
@settings(max_examples=3, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, live_api):
    base_url, key = live_api
    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
