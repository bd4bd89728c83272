"""A throwaway PostgreSQL cluster on loopback for the whole test session (see tests/pgcluster.py)."""
from __future__ import annotations

import pytest

from tests.pgcluster import PgCluster, pg_bindir


@pytest.fixture(scope="session")
def postgres_url():
    """SQLAlchemy URL of a fresh empty database `floorsync_test` on a private cluster."""
    if pg_bindir() is None:
        pytest.fail("PostgreSQL is not installed (apt-get install postgresql); the README test command installs it")
    with PgCluster() as pg:
        yield pg.createdb("floorsync_test")


@pytest.fixture(scope="session")
def postgres_admin_url(postgres_url):
    """URL of the `postgres` maintenance database on the same cluster (to create more databases)."""
    return postgres_url.rsplit("/", 1)[0] + "/postgres"
