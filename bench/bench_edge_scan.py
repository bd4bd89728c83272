"""Edge scan API under 20 concurrent handhelds doing pick scans.

A real `floorsync edge serve` process (gunicorn, ONE gthread worker process with HTTP keep-alive;
every write goes through the store's single writer thread with group commit, synchronous=FULL)
on 127.0.0.1 serves 20 client threads, each a logged-in picker with its own discrete pick run,
scanning bin then item (qty 1 per scan). Two phases against the same server:

- ``saturated``: closed loop, each handheld scans again the moment the answer arrives (a stress
  test: latency = handhelds / throughput);
- ``paced``: each handheld scans every 250 ms (faster than any person picks), starting at a
  random moment within the first 250 ms (real handhelds are not synchronised).

Reported per phase: p50/p99 server time per pick scan (``X-Server-Time-Ms``, set by a WSGI
middleware around the whole app: from the WSGI call until the response is ready, so request
parsing in the app, auth, the service, the group-committed write and JSON encoding all count)
beside the p50/p99 of a raw SQLite single-row commit (WAL, synchronous=FULL, sqlite3 module)
measured before and after the load in the same run on the same disk; the p50/p99 client round
trip (includes what server time cannot see: gunicorn's HTTP parsing and any wait for a free
request thread, i.e. queueing); scans per second; the server process's CPU per scan (user+system
of the gunicorn master and worker, all threads, from /proc: robust on a shared machine, unlike
wall-clock figures) beside the CPU of one raw commit; and the host's load average.

Scan debounce is off for the run (the same unit barcode is scanned back to back faster than the
400 ms window). ``--quick`` runs 2 x 8 s of load.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from common import ROOT, emit, parse_args, percentile

sys.path.insert(0, ROOT)

HANDHELDS = 20
PACED_THINK_S = 0.25   # a very fast picker: four scans a second per handheld


def raw_commit_baseline(path: str, n: int, cpu: list | None = None) -> list[float]:
    """Wall ms of ``n`` single-row commits; appends (cpu_seconds, n) of this thread to ``cpu``."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, qty INTEGER)")
    conn.execute("INSERT OR REPLACE INTO t VALUES (1, 0)")
    out = []
    c0 = time.thread_time()
    for _ in range(n):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE t SET qty = qty + 1 WHERE id = 1")
        conn.execute("COMMIT")
        out.append((time.perf_counter() - t0) * 1000)
    if cpu is not None:
        cpu.append((time.thread_time() - c0, n))
    conn.close()
    return out


def prepare(data_dir: str, orders: int, lines: int, qty: int, handhelds: int = HANDHELDS) -> None:
    from biip.checksums import gs1_standard_check_digit

    from edge.runtime import open_store
    from edge.seed import seed
    from edge.services import Floor
    from edge.sync_handlers import apply_down_event
    from floorsync import config

    cfg = config.load(None, env=_env(data_dir))
    skus = []
    for i in range(1, 61):
        body = f"400638{i:06d}"
        skus.append({"sku": f"SKU-{i:04d}", "description": f"Item {i}", "gtins": [body + str(gs1_standard_check_digit(body))],
                     "weight_g": 100, "length_mm": 50, "width_mm": 50, "height_mm": 50, "lot_tracked": False,
                     "expiry_tracked": False, "hazmat": False, "requires_qc": False, "safety_stock": 0})
    catalog = {"merchant_id": "M-BENCH", "merchant_name": "Bench", "skus": skus, "sites": [],
               "stock": [{"site_id": "EWR1", "sku": s["sku"], "qty": 1_000_000} for s in skus]}
    store = open_store(cfg)
    floor = Floor(cfg, store)
    seed(floor, catalog, users=False)
    for h in range(2 * handhelds):
        floor.auth.add_user(f"hh{h:02d}", f"Handheld {h}", "picker", "1234")
    for o in range(orders):
        body = {"fo_id": f"FO-{o:05d}", "order_id": f"O-{o:05d}", "channel_order_id": f"C-{o}", "service": "ground",
                "carrier": "ups", "tracking_number": f"1ZB{o:07d}", "promised_date": "2026-12-01",
                "ship_by": "2026-11-30T20:00:00Z", "urgent": False,
                "ship_to": {"name": "N", "line1": "1 St", "city": "C", "country": "US"},
                "lines": [{"line_id": str(k), "sku": skus[(o * 7 + k) % len(skus)]["sku"], "qty": qty} for k in range(lines)]}
        env = {"site_id": "EWR1", "merchant_id": "M-BENCH", "seq": o + 1, "type": "fulfillment_order.released", "body": body}
        store.write(lambda c, env=env: apply_down_event(c, env))
    store.close()


def _env(data_dir: str) -> dict:
    return {"FLOORSYNC_GENERAL_DATA_DIR": data_dir, "FLOORSYNC_EDGE_SITE_ID": "EWR1",
            "FLOORSYNC_DEVICES_PRINTER_KIND": "none", "FLOORSYNC_DEVICES_SCAN_DEBOUNCE_MS": "0",
            "FLOORSYNC_EDGE_CAPABILITIES": "discrete", "FLOORSYNC_GENERAL_LOG_LEVEL": "WARNING"}


def server_pids(master_pid: int) -> list[int]:
    """The gunicorn master and its worker(s) (the worker runs the app, the store and its threads)."""
    pids = [master_pid]
    try:
        with open(f"/proc/{master_pid}/task/{master_pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds consumed so far by ``pids`` (all their threads), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])   # utime, stime (fields 14 and 15 of stat)
        except OSError:
            pass
    return total / tick


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def handheld(port: int, user: str, gtins: dict, seconds: float, max_scans: int, server_ms: list, client_ms: list,
             errors: list, barrier: threading.Barrier, think_s: float = 0.0) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        t0 = time.perf_counter()
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        data = json.loads(resp.read())
        return resp.status, data, (time.perf_counter() - t0) * 1000, float(resp.getheader("X-Server-Time-Ms", "nan"))

    _s, login, _c, _m = call("POST", "/api/login", {"username": user, "pin": "1234", "device": user})
    token = login["token"]
    _s, run, _c, _m = call("POST", "/api/pick/start", {}, token)
    barrier.wait()
    deadline = time.monotonic() + seconds
    if think_s:
        # handhelds are not synchronised: each starts at its own moment within the first think time
        # (started together after the barrier, 20 of them would otherwise scan in lock-step bursts)
        time.sleep(random.Random(user).uniform(0, think_s))
    scans = 0
    while time.monotonic() < deadline and scans < max_scans:
        t = run.get("task")
        if not t:
            _s, run, _c, _m = call("POST", "/api/pick/start", {}, token)
            if not run.get("task"):
                break
            continue
        code = t["location"] if run["expect"] == "location" else gtins[t["sku"]]
        status, data, c_ms, s_ms = call("POST", f"/api/pick/{run['run_id']}/scan", {"code": code, "task_id": t["task_id"]}, token)
        if status != 200:
            errors.append(data)
            break
        run = data
        scans += 1
        server_ms.append(s_ms)
        client_ms.append(c_ms)
        if think_s:
            time.sleep(think_s)
    conn.close()


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], lambda p: (
        p.add_argument("--handhelds", type=int, default=HANDHELDS, help="concurrent handhelds (default 20)"),
        p.add_argument("--seconds", type=float, default=None, help="load duration (default 8 quick / 30 full)"),
        p.add_argument("--threads", type=int, default=None, help="server request threads (default edge.server_threads)")))
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    n = args.handhelds
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
        prepare(tmp, orders=max(n, 1) * 8, lines=8, qty=200, handhelds=n)
        # the raw baseline runs before and after the load (the disk's fsync time drifts on shared machines)
        raw_cpu: list = []
        baseline = raw_commit_baseline(os.path.join(tmp, "raw.db"), 300 if args.quick else 1000, raw_cpu)
        port = free_port()
        env = dict(os.environ, **_env(tmp))
        server_cmd = [sys.executable, "-m", "floorsync.cli", "edge", "serve", "--port", str(port), "--no-sync"]
        if args.threads:
            server_cmd += ["--threads", str(args.threads)]
        from floorsync import config
        server_threads = args.threads or config.load(None, env=env).edge.server_threads
        server_log = open(os.path.join(tmp, "server.log"), "wb")
        proc = subprocess.Popen(server_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=server_log)
        try:
            t_end = time.monotonic() + 20
            while time.monotonic() < t_end:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                    break
                except OSError:
                    time.sleep(0.05)
            time.sleep(0.5)   # the worker is up (it answered); its pid is the master's child
            pids = server_pids(proc.pid)
            gtins = {}
            from biip.checksums import gs1_standard_check_digit
            for i in range(1, 61):
                body = f"400638{i:06d}"
                gtins[f"SKU-{i:04d}"] = body + str(gs1_standard_check_digit(body))
            phases = {}
            errors = []
            for phase, think in (("saturated", 0.0), ("paced", PACED_THINK_S)):
                server_ms, client_ms = [], []
                barrier = threading.Barrier(n + 1)
                users = [f"hh{h:02d}" for h in range(n)] if phase == "saturated" else [f"hh{h:02d}" for h in range(n, 2 * n)]
                threads = [threading.Thread(target=handheld, args=(port, u, gtins, seconds, 100_000, server_ms, client_ms,
                                                                   errors, barrier, think)) for u in users]
                for t in threads:
                    t.start()
                barrier.wait()
                t0, cpu0 = time.perf_counter(), cpu_seconds(pids)
                for t in threads:
                    t.join(seconds + 60)
                phases[phase] = (server_ms, client_ms, time.perf_counter() - t0, cpu_seconds(pids) - cpu0)
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            server_log.close()
        baseline += raw_commit_baseline(os.path.join(tmp, "raw.db"), 300 if args.quick else 1000, raw_cpu)
        if errors:
            print(json.dumps({"errors": errors[:3]}), file=sys.stderr)
            with open(os.path.join(tmp, "server.log"), encoding="utf-8", errors="replace") as f:
                print(f.read()[-2000:], file=sys.stderr)
        base_p99 = percentile(baseline, 99)
        base_p50 = percentile(baseline, 50)
        raw_cpu_ms = 1000 * sum(c for c, _n in raw_cpu) / sum(k for _c, k in raw_cpu)
        for phase, (server_ms, client_ms, elapsed, cpu_s) in phases.items():
            label = "closed loop, no think time" if phase == "saturated" else f"each handheld scans every {PACED_THINK_S * 1000:.0f} ms"
            emit(f"edge_pick_scan_server_p99_{phase}", percentile(server_ms, 99), "ms", base_p99, handhelds=n,
                 server_threads=server_threads,
                 scans=len(server_ms), load=label, baseline_is="raw sqlite3 single-row commit p99 (WAL, synchronous=FULL)")
            emit(f"edge_pick_scan_server_p50_{phase}", percentile(server_ms, 50), "ms", base_p50,
                 baseline_is="raw sqlite3 single-row commit p50 (WAL, synchronous=FULL)")
            emit(f"edge_pick_scan_client_p99_{phase}", percentile(client_ms, 99), "ms", base_p99,
                 baseline_is="raw sqlite3 single-row commit p99 (WAL, synchronous=FULL)",
                 note="round trip seen by the handheld: includes waiting in the server's accept/keep-alive queue")
            emit(f"edge_pick_scan_client_p50_{phase}", percentile(client_ms, 50), "ms", base_p50,
                 baseline_is="raw sqlite3 single-row commit p50 (WAL, synchronous=FULL)")
            emit(f"edge_pick_scan_server_cpu_{phase}", 1000 * cpu_s / max(len(server_ms), 1), "ms/scan", raw_cpu_ms,
                 baseline_is="CPU ms of one raw sqlite3 single-row commit (WAL, synchronous=FULL)",
                 note="user+system CPU of the whole server process (all threads: HTTP, app, writer, checkpointer) / scans")
            emit(f"edge_pick_scans_per_s_{phase}", len(server_ms) / elapsed, "scans/s", 1000.0 / (sum(baseline) / len(baseline)),
                 baseline_is="raw sqlite3 single-row commits per second, one thread")
        emit("host_load_average_1m", os.getloadavg()[0], "load", float(os.cpu_count() or 1),
             baseline_is="CPU count (other processes on the host compete for the same cores)")

if __name__ == "__main__":
    main()
