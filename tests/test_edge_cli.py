"""`floorsync edge` commands: init-db, seed, user add, and serve (clean exit on SIGTERM)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from click.testing import CliRunner

from floorsync import cli as cli_mod
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.support import free_port, wait_for_port

ENV = {"FLOORSYNC_EDGE_SITE_ID": "EWR1", "FLOORSYNC_DEVICES_PRINTER_KIND": "none", "FLOORSYNC_GENERAL_LOG_FORMAT": "json"}


def run(args, tmp_path, **kw):
    runner = CliRunner()
    return runner.invoke(cli_mod.build(), ["--data-dir", str(tmp_path), *args], env=ENV, catch_exceptions=False, **kw)


def test_init_db_seed_and_user_add(tmp_path, catalog_file):
    r = run(["edge", "init-db"], tmp_path)
    assert r.exit_code == 0 and "schema version 3 (site EWR1)" in r.output
    r = run(["edge", "seed", "--catalog", str(catalog_file)], tmp_path)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.splitlines()[0]) == {"skus": 30, "bins": 360, "units": 5800,
                                                     "users": ["picker1", "picker2", "packer1", "receiver1", "counter1",
                                                               "counter2", "manager1", "admin"]}
    r = run(["edge", "seed", "--catalog", str(catalog_file)], tmp_path)    # idempotent: stock not doubled
    assert json.loads(r.output.splitlines()[0])["units"] == 0
    r = run(["edge", "user", "add", "dana", "--role", "packer", "--zone", "B"], tmp_path, input="4321\n4321\n")
    assert r.exit_code == 0 and "user dana (packer) saved" in r.output
    r = run(["edge", "user", "add", "eve", "--role", "packer", "--pin", "12"], tmp_path)
    assert r.exit_code != 0 and "PIN" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = run(["edge", "seed", "--catalog", str(bad)], tmp_path)
    assert r.exit_code != 0 and "cannot read catalog" in r.output


def test_serve_answers_and_exits_cleanly_on_sigterm(tmp_path, catalog_file):
    run(["edge", "seed", "--catalog", str(catalog_file)], tmp_path)
    port = free_port()
    env = dict(os.environ, **ENV)
    proc = subprocess.Popen([sys.executable, "-m", "floorsync.cli", "--data-dir", str(tmp_path), "edge", "serve",
                             "--port", str(port), "--no-sync"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        wait_for_port(port, timeout=20)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            assert json.loads(resp.read()) == {"ok": True, "site_id": "EWR1", "outbox_depth": 0}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/handheld", timeout=5) as resp:
            assert b"Scan your badge" in resp.read()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert b'"event": "edge_stopped"' in err and out == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
