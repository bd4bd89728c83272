"""`floorsync sim ...` as a person or the demo runs it: a real subprocess, driven over stdin."""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

import pytest

from devices import errors
from devices.printers import ZplTcpPrinter
from devices.scales import open_scale
from devices.scanners import SerialScanner
from tests.support import stop_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(*args: str) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "floorsync.cli", "sim", *args], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "FLOORSYNC_GENERAL_LOG_FORMAT": "json"})
    info = json.loads(readline(proc, 20))
    return proc, info


def readline(proc: subprocess.Popen, timeout_s: float = 5.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    assert ready, "simulator printed nothing"
    return proc.stdout.readline().strip()


def command(proc: subprocess.Popen, line: str) -> str:
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return readline(proc)


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        stop_process(p)


def test_zpl_printer_sim_cli(procs, tmp_path):
    proc, info = start("zpl-printer", "--port", "0", "--store-dir", str(tmp_path))
    procs.append(proc)
    assert info["sim"] == "zpl-printer" and info["port"] > 0
    printer = ZplTcpPrinter("127.0.0.1", info["port"], timeout_s=2)
    printer.send(b"^XA^FO10,10^FDFROM CLI^FS^XZ")
    assert command(proc, "labels") == json.dumps([["FROM CLI"]])
    assert command(proc, "fault head_open on").startswith("status: head open")
    assert printer.status().head_open is True
    assert command(proc, "clear").startswith("status: ready; printed 1")
    assert (tmp_path / "label-0001.png").exists()
    proc.send_signal(15)
    assert proc.wait(10) == 0


def test_scale_sim_cli_prints_its_pty_path(procs):
    proc, info = start("scale", "--protocol", "nci", "--weight", "1000")
    procs.append(proc)
    assert info["protocol"] == "nci" and os.path.exists(info["path"])
    with open_scale("nci", info["path"]) as scale:
        assert scale.read_stable(2) == 1000
        assert command(proc, "weight 2268") == "stable 2268 g; plugged=True"
        assert scale.read_stable(2) == 2268
        command(proc, "motion on")
        with pytest.raises(errors.ScaleUnstable):
            scale.read_stable(0.3)
    proc.send_signal(15)
    assert proc.wait(10) == 0


def test_scanner_sim_cli_types_codes(procs):
    proc, info = start("scanner", "--suffix", "crlf")
    procs.append(proc)
    with SerialScanner(info["path"], suffix="crlf") as scanner:
        assert scanner.connected.wait(3)
        proc.stdin.write("]C10109506000134352" + "10L1<GS>21S9\n")
        proc.stdin.flush()
        event = scanner.get(5)
        assert (event.scan.gtin, event.scan.lot, event.scan.serial) == ("09506000134352", "L1", "S9")
    proc.send_signal(15)
    assert proc.wait(10) == 0


def test_zpl_status_command(procs):
    proc, info = start("zpl-printer", "--port", "0", "--fault", "paper_out")
    procs.append(proc)
    out = subprocess.run([sys.executable, "-m", "floorsync.cli", "sim", "zpl-status", f"127.0.0.1:{info['port']}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert (out.returncode, out.stdout.strip()) == (2, "paper out")
    started = time.monotonic()
    proc.send_signal(2)
    assert proc.wait(10) == 0 and time.monotonic() - started < 5
