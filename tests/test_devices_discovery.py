"""Zeroconf on 127.0.0.1: simulators advertise, discovery browses; the edge console advertises."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from devices.discovery import CONSOLE_TYPE, PRINTER_TYPES, SCALE_TYPE, SCANNER_TYPE, Advertiser, advertise_console, browse
from devices.scales import open_scale
from devices.sim.scale import ScaleSim
from devices.sim.scanner import ScannerSim
from devices.sim.escpos_printer import EscposPrinterSim
from devices.sim.zpl_printer import ZplPrinterSim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_printers_and_console_are_discovered_on_loopback():
    with ZplPrinterSim(advertise=True, instance="Dock ZPL") as zpl, \
            EscposPrinterSim(advertise=True, instance="Pack ESCPOS") as esc, \
            Advertiser("_ipp._tcp", "Office IPP", 631, {"rp": "ipp/print"}):
        console = advertise_console("FC-EAST", 8080)
        try:
            found = browse((*PRINTER_TYPES, CONSOLE_TYPE), timeout_s=2.5, interface="127.0.0.1")
        finally:
            console.stop()
    by_name = {s.instance: s for s in found}
    assert set(by_name) >= {"Dock ZPL", "Pack ESCPOS", "Office IPP", "floorsync edge FC-EAST"}
    assert (by_name["Dock ZPL"].service_type, by_name["Dock ZPL"].port) == ("_pdl-datastream._tcp.local.", zpl.port)
    assert by_name["Dock ZPL"].addresses == ("127.0.0.1",)
    assert by_name["Pack ESCPOS"].port == esc.port
    assert by_name["Office IPP"].properties["rp"] == "ipp/print"
    edge = by_name["floorsync edge FC-EAST"]
    assert (edge.service_type, edge.port, edge.properties["site_id"]) == (CONSOLE_TYPE, 8080, "FC-EAST")


def test_cli_discover_lists_an_advertised_simulator():
    with ZplPrinterSim(advertise=True, instance="CLI ZPL") as zpl:
        out = subprocess.run([sys.executable, "-m", "floorsync.cli", "sim", "discover", "--interface", "127.0.0.1",
                              "--timeout", "2", "--json", "--type", "_pdl-datastream._tcp"],
                             cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    services = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert {"type": "_pdl-datastream._tcp.local.", "name": "CLI ZPL", "port": zpl.port} in [
        {k: s[k] for k in ("type", "name", "port")} for s in services]


def test_serial_simulators_advertise_their_pty_path_and_it_works():
    with ScaleSim("cas", advertise=True, instance="Pack scale") as scale_sim, \
            ScannerSim(advertise=True, instance="Station 3 scanner"):
        found = {s.instance: s for s in browse((SCALE_TYPE, SCANNER_TYPE), timeout_s=2.0, interface="127.0.0.1")}
        scale_svc = found["Pack scale"]
        assert scale_svc.properties == {"path": scale_sim.path, "protocol": "cas", "unit": "kg"}
        assert found["Station 3 scanner"].properties["path"].endswith("scanner")
        scale_sim.set_weight(800)
        with open_scale(scale_svc.properties["protocol"], scale_svc.properties["path"]) as scale:
            assert scale.read_stable(2.0) == 800
