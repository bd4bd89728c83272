"""Device benchmarks against the simulators (real pty / TCP), each beside a raw baseline
measured in the same run.

* ``scale_read_latency_<protocol>_p50`` — ``read_stable()`` (command to stable weight, through
  the driver: flush, command, frame parse, unit normalisation); baseline = one raw command/reply
  round trip on the same pty with plain ``os.read``/``os.write``.
* ``zpl_jobs_per_s_driver`` — ``ZplTcpPrinter.send()`` jobs/s (connect, ``~HS`` before, job,
  ``~HS`` after); ``zpl_jobs_per_s_spooler`` the same through ``PrintSpooler`` (queue + journal);
  baseline = raw socket send of the same job, one connection per job (send, half-close, wait
  for the printer to close), no status queries.
* ``print_submit_us`` — what ``PrintSpooler.submit()`` costs the caller; baseline = a bare
  ``queue.Queue.put``.

    .venv/bin/python bench/bench_devices.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import select
import socket
import statistics
import sys
import termios
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from devices.printers import ZplTcpPrinter  # noqa: E402
from devices.printing import MemoryJobJournal, PrintSpooler  # noqa: E402
from devices.scales import open_scale  # noqa: E402
from devices.sim.scale import ScaleSim  # noqa: E402
from devices.sim.zpl_printer import ZplPrinterSim  # noqa: E402

JOB = (b"^XA^PW812^LL1218^CF0,40^FO40,40^FDSHIP TO^FS^FO40,100^FH^FDAda Lovelace_0A12 Analytical Way^FS"
       b"^FO40,400^BY3^BCN,200,Y^FD1Z999AA10123456784^FS^FO20,20^GB772,1178,4^FS^XZ")
COMMANDS = {"mt-sics": (b"SI\r\n", b"\r\n"), "nci": (b"W\r", b"\x03"), "cas": (None, b"\r\n")}


def emit(name: str, value: float, unit: str, baseline: float) -> None:
    ratio = value / baseline if baseline else None
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit, "baseline": round(baseline, 4),
                      "ratio": None if ratio is None else round(ratio, 3)}), flush=True)


def raw_roundtrip_ms(path: str, command: bytes | None, terminator: bytes, n: int) -> float:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    termios.tcflush(fd, termios.TCIFLUSH)
    samples = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            if command:
                os.write(fd, command)
            buf = b""
            while not buf.endswith(terminator):
                r, _, _ = select.select([fd], [], [], 2.0)
                if not r:
                    raise TimeoutError("raw scale round trip timed out")
                buf += os.read(fd, 256)
            samples.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
    return statistics.median(samples)


def bench_scales(n: int, deadline: float) -> None:
    for protocol in ("mt-sics", "nci", "cas"):
        with ScaleSim(protocol) as sim:
            sim.set_weight(1234)
            command, terminator = COMMANDS[protocol]
            baseline = raw_roundtrip_ms(sim.path, command, terminator, n)
            samples = []
            with open_scale(protocol, sim.path) as scale:
                for _ in range(n):
                    if time.monotonic() > deadline:
                        break
                    t0 = time.perf_counter()
                    grams = scale.read_stable(2.0)
                    samples.append((time.perf_counter() - t0) * 1000)
                    assert grams == 1234
            samples.sort()
            emit(f"scale_read_latency_{protocol}_p50", statistics.median(samples), "ms", baseline)
            emit(f"scale_read_latency_{protocol}_p99", samples[min(len(samples) - 1, int(len(samples) * 0.99))], "ms", baseline)


def bench_zpl(n: int, deadline: float) -> None:
    with ZplPrinterSim() as sim:
        # baseline: raw socket, one connection per job: send, half-close, wait until the
        # printer has read everything and closed its side
        def raw_rate() -> float:
            start, t0 = len(sim.labels), time.perf_counter()
            for _ in range(n):
                with socket.create_connection(("127.0.0.1", sim.port)) as s:
                    s.sendall(JOB)
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(4096):
                        pass
            assert sim.wait_for_labels(start + n, 30)
            return n / (time.perf_counter() - t0)

        raw_rate()  # warm-up (thread creation, allocator)
        baseline = raw_rate()

        printer = ZplTcpPrinter("127.0.0.1", sim.port, timeout_s=5)
        done = 0
        t0 = time.perf_counter()
        for _ in range(n):
            if time.monotonic() > deadline:
                break
            printer.send(JOB)
            done += 1
        emit("zpl_jobs_per_s_driver", done / (time.perf_counter() - t0), "jobs/s", baseline)

        with PrintSpooler(printer, MemoryJobJournal()) as spooler:
            t0 = time.perf_counter()
            ids = [spooler.submit(JOB) for _ in range(n)]
            submit_s = time.perf_counter() - t0
            assert spooler.wait_idle(60)
            elapsed = time.perf_counter() - t0
            assert all(spooler.get(i).state == "done" for i in ids)
        emit("zpl_jobs_per_s_spooler", n / elapsed, "jobs/s", baseline)
        q: queue.Queue = queue.Queue()
        t0 = time.perf_counter()
        for _ in range(n):
            q.put(JOB)
        put_us = (time.perf_counter() - t0) / n * 1e6
        emit("print_submit_us", submit_s / n * 1e6, "us/job", put_us)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts (< 60 s)")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    deadline = time.monotonic() + (45 if args.quick else 240)
    bench_scales(50 if args.quick else 300, deadline)
    bench_zpl(200 if args.quick else 2000, deadline)


if __name__ == "__main__":
    main()
