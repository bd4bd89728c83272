"""The serial scanner driver against the scanner simulator on a real pty."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from devices import errors
from devices.config import DevicesConfig
from devices.health import DeviceHealth
from devices.scanners import SerialScanner, open_scanner
from devices.sim.scanner import GS, ScannerSim

GS1 = "]C1" + "0109506000134352" + "17251231" + "10LOT-7" + GS + "21SN42"


@pytest.fixture(params=["cr", "crlf"])
def rig(request):
    health = DeviceHealth()
    with ScannerSim(suffix=request.param) as sim, \
            SerialScanner(sim.path, suffix=request.param, debounce_ms=300, health=health, reconnect_s=0.05) as scanner:
        assert scanner.connected.wait(3)
        yield sim, scanner, health


def test_gs1_scan_over_serial_is_parsed(rig):
    sim, scanner, _ = rig
    sim.scan(GS1)
    event = scanner.get(2)
    assert event.ok and event.raw == GS1
    s = event.scan
    assert (s.kind, s.symbology, s.gtin, s.lot, s.expiry, s.serial) == (
        "gs1", "]C1", "09506000134352", "LOT-7", dt.date(2025, 12, 31), "SN42")


def test_doubled_scan_is_debounced_to_one(rig):
    sim, scanner, _ = rig
    sim.scan("4006381333931", doubled=True)
    sim.scan("TOTE-1")
    first, second = scanner.get(2), scanner.get(2)
    assert (first.scan.gtin, second.scan.text) == ("04006381333931", "TOTE-1")
    assert scanner.get(0.2) is None
    assert scanner.duplicates == 1


def test_faulty_reads_are_refused_and_the_next_scan_works(rig):
    sim, scanner, _ = rig
    sim.scan_truncated("]C1" + "0109506000134352" + "10LOT")   # cut inside the GTIN
    sim.scan_with_control("LOC-A-01")
    sim.scan_long(10_240)
    sim.scan("4006381333932")                               # bad check digit
    sim.scan("A-01-02")
    events = [scanner.get(3) for _ in range(5)]
    assert [e.error_type for e in events] == ["MalformedGS1", "ControlCharacterInScan", "ScanTooLong",
                                              "BadCheckDigit", None]
    assert events[4].scan.text == "A-01-02"
    assert scanner.rejected == 4


def test_unplug_then_replug_reconnects_on_the_same_path(rig):
    sim, scanner, health = rig
    assert health.state(scanner.name) == "online"
    sim.unplug()
    deadline = time.monotonic() + 3
    while health.state(scanner.name) != "offline" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert health.state(scanner.name) == "offline"
    assert scanner.get(0.1) is None  # the consumer is never blocked by a dead device
    sim.plug()
    assert scanner.connected.wait(3)
    sim.scan("AFTER-REPLUG")
    event = scanner.get(3)
    assert event.scan.text == "AFTER-REPLUG"
    assert scanner.reconnects == 1
    assert health.state(scanner.name) == "online"
    entry = health.snapshot()["devices"][scanner.name]
    assert entry["last_error"].startswith("cannot open") and entry["last_error_at"] is not None


def test_open_scanner_from_config():
    assert open_scanner(DevicesConfig()) is None
    scanner = open_scanner(DevicesConfig(scanner_port="/dev/ttyACM9", scanner_suffix="lf", scan_debounce_ms=250))
    assert (scanner.port, scanner.suffix, scanner.debouncer.window_ms) == ("/dev/ttyACM9", b"\n", 250)
    with pytest.raises(errors.DeviceConfigError):
        SerialScanner("/dev/ttyACM0", suffix="tab")


def test_missing_port_keeps_retrying_without_blocking():
    health = DeviceHealth()
    with SerialScanner("/nonexistent/scanner", health=health, reconnect_s=0.05) as scanner:
        time.sleep(0.2)
        assert scanner.get(0.05) is None
        assert health.state(scanner.name) == "offline"


def test_configured_prefix_is_removed_before_parsing():
    with ScannerSim() as sim, SerialScanner(sim.path, prefix="\x02", debounce_ms=0) as scanner:
        assert scanner.connected.wait(3)
        sim.scan("\x02" + "4006381333931")
        sim.scan("BIN-7")  # a read without the prefix is taken as is
        first, second = scanner.get(3), scanner.get(3)
        assert (first.scan.kind, first.scan.gtin, second.scan.text) == ("gtin", "04006381333931", "BIN-7")
