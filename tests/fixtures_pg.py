"""A throwaway PostgreSQL cluster on loopback for the whole test session.

initdb in a temp dir, a free port, removed afterwards. PostgreSQL refuses to run as root, so
as root the cluster runs as the `postgres` system user (created by Debian's package).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from tests.support import free_port, find_binary, wait_for_port


def _pg_bindir() -> str | None:
    initdb = find_binary("initdb", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
    # Resolve links: an initdb symlinked onto PATH does not bring createdb/postgres along.
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None


@pytest.fixture(scope="session")
def postgres_url():
    """SQLAlchemy URL of a fresh empty database `floorsync_test` on a private cluster."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL is not installed (apt-get install postgresql); the README test command installs it")
    base = tempfile.mkdtemp(prefix="floorsync-pg-")
    datadir = os.path.join(base, "data")
    port = free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(run_as + [f"{bindir}/initdb", "-D", datadir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"],
                   check=True, stdout=subprocess.DEVNULL)
    proc = subprocess.Popen(run_as + [f"{bindir}/postgres", "-D", datadir, "-p", str(port), "-h", "127.0.0.1",
                                      "-k", base, "-c", "fsync=off", "-c", "max_connections=200",
                                      "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30)
        subprocess.run(run_as + [f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "floorsync_test"],
                       check=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/floorsync_test"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url(postgres_url):
    """URL of the `postgres` maintenance database on the same cluster (to create more databases)."""
    return postgres_url.rsplit("/", 1)[0] + "/postgres"
