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


def run(data_dir, *args, check=True, input=None):
    """The real `floorsync` click command, in-process (serve below runs as a subprocess)."""
    from click.testing import CliRunner

    from floorsync import cli as cli_mod

    r = CliRunner().invoke(cli_mod.build(), ["--data-dir", str(data_dir), "central", *args], input=input,
                                          env={"FLOORSYNC_GENERAL_LOG_FORMAT": "json"}, catch_exceptions=False)
    if check:
        assert r.exit_code == 0, r.stderr
    return Result(r)


def test_seed_keys_import_and_serve(tmp_path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG))
    assert run(tmp_path, "init-db").stdout.strip() == "schema version 3 on sqlite"
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
        for page in ("/ops/orders", "/sync"):   # the dashboards (and the sync runtime's) need a login
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{page}", timeout=10) as resp:
                assert resp.url == f"http://127.0.0.1:{port}/login?next={page}" and b"Log in" in resp.read()
    finally:
        stop_process(proc, timeout=20)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert "central_listening" in events and events[-1] == "central_stopped"

    key_id = key.split("_")[1]
    assert run(tmp_path, "apikey", "revoke", key_id).stdout.strip() == f"revoked {key_id}"
    assert "revoked" in run(tmp_path, "apikey", "list").stdout


def test_user_add_list_disable_enable_passwd(tmp_path):
    from central.store import CentralStore

    gen = run(tmp_path, "user", "add", "ops", "--name", "Olga Ops", "--generate-password")
    password = gen.stdout.strip()
    assert len(password) == 16 and "ops user ops (Olga Ops) created" in gen.stderr
    assert run(tmp_path, "user", "add", "kim", "--password-stdin", input="kims-long-password\n").stdout == ""
    dup = run(tmp_path, "user", "add", "ops", "--password-stdin", input="another-password\n", check=False)
    assert dup.returncode == 1 and "ops user ops already exists" in dup.stderr
    short = run(tmp_path, "user", "add", "lee", "--password-stdin", input="short\n", check=False)
    assert short.returncode == 1 and "password: must be at least 10 characters" in short.stderr
    bad = run(tmp_path, "user", "add", "Bad Name!", "--generate-password", check=False)
    assert bad.returncode == 1 and "username: 2-64 characters" in bad.stderr
    both = run(tmp_path, "user", "add", "x1", "--generate-password", "--password-stdin", check=False)
    assert both.returncode == 2 and "not both" in both.stderr
    prompted = run(tmp_path, "user", "add", "pat", input="pats-password-1\npats-password-1\n")
    assert "ops user pat (pat) created" in prompted.stderr

    lines = run(tmp_path, "user", "list").stdout.splitlines()
    assert [ln.split()[:2] for ln in lines] == [["kim", "active"], ["ops", "active"], ["pat", "active"]]
    assert lines[1].endswith("last login never  failed 0  Olga Ops")
    assert run(tmp_path, "user", "disable", "ops").stdout == "disabled ops\n"
    assert run(tmp_path, "user", "list").stdout.splitlines()[1].split()[:2] == ["ops", "disabled"]
    missing = run(tmp_path, "user", "disable", "nobody", check=False)
    assert missing.returncode == 1 and "no ops user nobody" in missing.stderr
    assert run(tmp_path, "user", "enable", "ops").stdout == "enabled ops\n"
    new = run(tmp_path, "user", "passwd", "ops", "--generate-password").stdout.strip()
    assert len(new) == 16 and new != password

    # only scrypt hashes are stored; the new password works, the old one does not
    store = CentralStore(f"sqlite:///{tmp_path}/central.db")
    try:
        from central.services import CentralService

        svc = CentralService(store)
        with store.read() as conn:
            stored = store.get_ops_user(conn, "ops")["password_hash"]
        assert stored.startswith("scrypt$16384$8$1$") and new not in stored
        assert new.encode() not in (tmp_path / "central.db").read_bytes()
        assert svc.ops_login("ops", password) is None
        assert svc.ops_login("ops", new)["username"] == "ops"
        assert svc.ops_login("kim", "kims-long-password")["name"] == "kim"
    finally:
        store.close()
    assert "last login " in run(tmp_path, "user", "list").stdout.splitlines()[1]
    assert "last login never" not in run(tmp_path, "user", "list").stdout.splitlines()[1]   # ops logged in above
