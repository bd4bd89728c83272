"""The one-command demo, end to end, as a newcomer runs it.

`floorsync demo` starts a real Mosquitto, central and two edges with simulated devices; orders
posted to central's REST API are routed, released over MQTT and show up on the edges' consoles;
Ctrl-C stops every process it started.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from tests.support import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def http_json(url, data=None, token=None, timeout=10):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None, headers=headers,
                                 method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def processes_mentioning(text: str) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().split(") ", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmd and state != "Z":
            pids.append(int(pid))
    return pids


@pytest.fixture
def running_demo(tmp_path):
    data_dir = tmp_path / "demo"
    central_port, edge_port = free_port(), free_port()
    # Consecutive edge ports: pick a base whose next port is free too.
    argv = [sys.executable, "-m", "floorsync.cli", "--data-dir", str(data_dir), "demo", "--sites", "EWR1,LAX1",
            "--central-port", str(central_port), "--edge-base-port", str(edge_port), "--orders-per-minute", "240"]
    env = {**os.environ, "FLOORSYNC_GENERAL_LOG_FORMAT": "text"}
    stderr_path = tmp_path / "demo-stderr.log"
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=open(stderr_path, "w"), text=True, env=env,
                            start_new_session=True)
    lines: list[str] = []
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    banner = "".join(lines)
    try:
        assert "floorsync demo is running" in banner, banner + stderr_path.read_text()[-3000:]
        yield {"proc": proc, "banner": banner, "data_dir": data_dir, "central": f"http://127.0.0.1:{central_port}",
               "edges": {"EWR1": f"http://127.0.0.1:{edge_port}", "LAX1": f"http://127.0.0.1:{edge_port + 1}"}}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_demo_runs_the_network_and_stops_cleanly(running_demo):
    demo = running_demo
    banner = demo["banner"]
    # Every URL and login is printed.
    for needle in ("MQTT broker        mqtt://127.0.0.1:", f"order dashboard    {demo['central']}/ops/orders",
                   f"edge EWR1         console {demo['edges']['EWR1']}/", f"edge LAX1         console {demo['edges']['LAX1']}/",
                   "picker1 / 1111", "Authorization: Bearer ", "central login      ops / "):
        assert needle in banner
    api_key = re.search(r"Authorization: Bearer (\S+)\)", banner).group(1)
    ops_password = re.search(r"central login      ops / (\S+)", banner).group(1)

    # Every web service answers /healthz; central's front page is the order dashboard, behind a login
    # that the printed ops credentials open.
    assert http_json(f"{demo['central']}/healthz")[0] == 200
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with browser.open(f"{demo['central']}/", timeout=10) as resp:
        assert "/login?next=" in resp.url and b"Log in" in resp.read()
    form = urllib.parse.urlencode({"username": "ops", "password": ops_password, "next": "/ops/orders"}).encode()
    with browser.open(f"{demo['central']}/login", data=form, timeout=10) as resp:
        page = resp.read()
        assert resp.url.endswith("/ops/orders") and b"<html" in page.lower() and b"Demo ops" in page
    with browser.open(f"{demo['central']}/sync", timeout=10) as resp:
        assert resp.url.endswith("/sync") and resp.status == 200
    for url in demo["edges"].values():
        assert http_json(f"{url}/healthz")[0] == 200

    # Orders from the stream reach central and are released to the edges over MQTT.
    released = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for site, url in demo["edges"].items():
            _, login = http_json(f"{url}/api/login", {"username": "manager1", "pin": "9999"})
            _, console = http_json(f"{url}/api/console", token=login["token"])
            released[site] = sum(console["orders_by_status"].values())
        if sum(released.values()) >= 3:
            break
        time.sleep(2)
    assert sum(released.values()) >= 3, released
    status, orders = http_json(f"{demo['central']}/api/v1/orders?limit=5", token=api_key)
    assert status == 200 and orders["items"], orders

    # Ctrl-C stops every process the demo started.
    proc = demo["proc"]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    deadline = time.monotonic() + 20
    while processes_mentioning(str(demo["data_dir"])) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_mentioning(str(demo["data_dir"])) == []
