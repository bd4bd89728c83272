"""`floorsync central ...` as a user runs it: seed, keys, import, serve (and a clean SIGTERM)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

from tests.fixtures_central import CATALOG
from tests.support import free_port, stop_process, wait_for_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Result:
    def __init__(self, r):
        self.returncode = r.exit_code
        self.stdout = r.stdout
        self.stderr = r.stderr


def run(data_dir, *args, check=True):
    """The real `floorsync` click command, in-process (serve below runs as a subprocess)."""
    from click.testing import CliRunner

    from floorsync import cli as cli_mod

    r = CliRunner().invoke(cli_mod.build(), ["--data-dir", str(data_dir), "central", *args],
                                          env={"FLOORSYNC_GENERAL_LOG_FORMAT": "json"}, catch_exceptions=False)
    if check:
        assert r.exit_code == 0, r.stderr
    return Result(r)


def test_seed_keys_import_and_serve(tmp_path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG))
    assert run(tmp_path, "init-db").stdout.strip() == "schema version 2 on sqlite"
    out1 = run(tmp_path, "seed", "--catalog", str(catalog)).stdout
    out2 = run(tmp_path, "seed", "--catalog", str(catalog)).stdout
    assert out1 == out2 == "seeded merchant acme: 5 SKUs, 2 sites, 4 stock rows\n"
    bad = run(tmp_path, "apikey", "create", "--merchant", "nobody", check=False)
    assert bad.returncode != 0 and "unknown merchant 'nobody'" in bad.stderr
    key = run(tmp_path, "apikey", "create", "--merchant", "acme", "--scope", "write").stdout.strip()
    assert key.startswith("fsk_")
    assert key not in (tmp_path / "central.db").read_bytes().decode("latin-1")  # stored hashed only

    csv_path = tmp_path / "orders.csv"
    csv_path.write_text("channel_order_id,name,line1,city,postal_code,country,sku,qty\n"
                        "C-1,Ann,1 A St,Boston,02110,US,SKU-1,2\nC-2,Bob,2 B St,Austin,78701,US,SKU-1,-1\n")
    imp = run(tmp_path, "import-orders", str(csv_path), "--merchant", "acme", check=False)
    assert imp.returncode == 1
    assert imp.stdout == "imported 1, already present 0, failed 1\n"
    assert "row 3 (C-2): qty: must be >= 1" in imp.stderr
    assert run(tmp_path, "verify-ledger").stdout.startswith("10 balances, 0 mismatches, 0 oversold units")

    port = free_port()
    env = dict(os.environ, FLOORSYNC_CENTRAL_PORT=str(port), FLOORSYNC_GENERAL_LOG_FORMAT="json")
    proc = subprocess.Popen([sys.executable, "-m", "floorsync.cli", "--data-dir", str(tmp_path), "central", "serve"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, timeout=30)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/orders?q=C-1",
                                     headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            items = json.loads(resp.read())["items"]
        assert [(o["channel_order_id"], o["status"]) for o in items] == [("C-1", "released")]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert json.loads(resp.read())["status"] == "ok"
    finally:
        stop_process(proc, timeout=20)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert "central_listening" in events and events[-1] == "central_stopped"

    key_id = key.split("_")[1]
    assert run(tmp_path, "apikey", "revoke", key_id).stdout.strip() == f"revoked {key_id}"
    assert "revoked" in run(tmp_path, "apikey", "list").stdout
