"""A throwaway PostgreSQL cluster on 127.0.0.1: initdb in a temp dir, a free port, removed on close.

One implementation for the test fixtures, the fault tests that restart the database and the
benchmarks. PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres`
system user (created by Debian's package).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from tests.support import find_binary, free_port, wait_for_port


def pg_bindir() -> str | None:
    initdb = find_binary("initdb", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
    # Resolve links: an initdb symlinked onto PATH does not bring createdb/postgres along.
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None


class PgCluster:
    """``with PgCluster() as pg: url = pg.createdb("name")``; ``stop_server``/``start_server`` restart it."""

    def __init__(self, *settings: str, prefix: str = "floorsync-pg-"):
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql); "
                               "the README test command installs it")
        self.settings = settings or ("fsync=off", "synchronous_commit=off", "full_page_writes=off",
                                     "max_connections=200")
        self.base = tempfile.mkdtemp(prefix=prefix)
        self.datadir = os.path.join(self.base, "data")
        self.port = free_port()
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.proc: subprocess.Popen | None = None

    def _tool(self, name: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.run_as + [f"{self.bindir}/{name}", *args], **kwargs)

    def start(self) -> "PgCluster":
        self._tool("initdb", "-D", self.datadir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
                   check=True, stdout=subprocess.DEVNULL)
        return self.start_server()

    def start_server(self) -> "PgCluster":
        conf = [arg for s in self.settings for arg in ("-c", s)]
        self.proc = subprocess.Popen(self.run_as + [f"{self.bindir}/postgres", "-D", self.datadir, "-p", str(self.port),
                                                    "-h", "127.0.0.1", "-k", self.base, *conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, timeout=60)
        return self

    def stop_server(self, mode: str = "fast") -> None:
        """Shut the server down (``fast`` cuts connections mid-transaction), leaving the data in place."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._tool("pg_ctl", "stop", "-D", self.datadir, "-m", mode, "-w", "-t", "60",
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def createdb(self, dbname: str, timeout: float = 60.0) -> str:
        # The port opens before the server accepts connections: retry while it starts up.
        deadline = time.monotonic() + timeout
        while True:
            res = self._tool("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", dbname,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if res.returncode == 0:
                return self.url(dbname)
            if time.monotonic() > deadline:
                raise RuntimeError(f"createdb {dbname} failed: {res.stderr.strip()}")
            time.sleep(0.3)

    def close(self) -> None:
        self.stop_server()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "PgCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
