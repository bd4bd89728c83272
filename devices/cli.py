"""`floorsync sim ...`: run device simulators (and browse zeroconf) from the command line.

Each simulator prints one JSON line describing where it listens, then runs until SIGINT or
SIGTERM. While running it reads control commands from stdin (one per line; `help` lists them),
so a person — or the demo — can switch faults on and off.
"""
from __future__ import annotations

import json
import select
import signal
import sys
import threading

import click


def _announce(**info) -> None:
    click.echo(json.dumps(info, sort_keys=True))
    sys.stdout.flush()


def _run(handle_command, help_text: str) -> None:
    """Block until SIGINT/SIGTERM, feeding stdin lines to ``handle_command``."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stdin_open = sys.stdin is not None and not sys.stdin.closed
    try:
        while not stop.is_set():
            if not stdin_open:
                stop.wait(0.5)
                continue
            try:
                ready, _, _ = select.select([sys.stdin], [], [], 0.2)
            except (OSError, ValueError):
                stdin_open = False
                continue
            if not ready:
                continue
            line = sys.stdin.readline()
            if not line:
                stdin_open = False
                continue
            line = line.strip()
            if not line:
                continue
            if line in ("help", "?"):
                click.echo(help_text)
                continue
            if line in ("quit", "exit"):
                break
            try:
                reply = handle_command(line)
            except (ValueError, IndexError) as exc:
                reply = f"error: {exc}"
            if reply:
                click.echo(reply)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _on_off(word: str) -> bool:
    if word.lower() in ("on", "1", "true", "yes"):
        return True
    if word.lower() in ("off", "0", "false", "no"):
        return False
    raise ValueError(f"expected on/off, got {word!r}")


@click.group("sim")
def sim() -> None:
    """Device simulators speaking the real wire protocols (TCP 9100, ptys) and zeroconf discovery."""


ZPL_HELP = """commands: fault <paper_out|head_open|ribbon_out|paused|buffer_full|stall> <on|off>
          slow <seconds> | reset [n] | clear | status | labels"""


@sim.command("zpl-printer")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9100, show_default=True, type=int, help="TCP port (0 = any free port).")
@click.option("--store-dir", "--store", "store_dir", type=click.Path(file_okay=False), default=None,
              help="Write each printed label here as label-NNNN.zpl and a PNG preview label-NNNN.png.")
@click.option("--advertise", is_flag=True, help="Advertise as _pdl-datastream._tcp via zeroconf.")
@click.option("--zeroconf-interface", default="127.0.0.1", show_default=True, help="Interface zeroconf binds to.")
@click.option("--name", default="floorsync ZPL simulator", show_default=True, help="Zeroconf instance name.")
@click.option("--fault", "faults", multiple=True, help="Start with a fault on (paper_out, head_open, paused, stall, ...).")
@click.option("--schedule", "schedules", multiple=True, metavar="FAULT@N",
              help="Switch FAULT on after N labels printed, e.g. paper_out@3.")
def zpl_printer(host, port, store_dir, advertise, zeroconf_interface, name, faults, schedules) -> None:
    """A Zebra-style ZPL label printer on raw TCP: stores labels, answers ~HS, injects faults."""
    from devices.sim.zpl_printer import ZplPrinterSim

    printer = ZplPrinterSim(host, port, store_dir=store_dir, advertise=advertise, instance=name,
                            zeroconf_interface=zeroconf_interface)
    for f in faults:
        printer.set_fault(f, True)
    for s in schedules:
        fault, _, after = s.partition("@")
        printer.schedule(fault, int(after or 0))

    def handle(line: str) -> str:
        words = line.split()
        if words[0] == "fault":
            printer.set_fault(words[1], _on_off(words[2]) if len(words) > 2 else True)
        elif words[0] == "slow":
            printer.set_fault("slow", float(words[1]))
        elif words[0] == "reset":
            printer.set_fault("reset", int(words[1]) if len(words) > 1 else 1)
        elif words[0] == "clear":
            printer.clear_faults()
        elif words[0] == "labels":
            return json.dumps(printer.texts())
        elif words[0] != "status":
            raise ValueError(f"unknown command {words[0]!r} (try help)")
        return f"status: {printer.status().describe()}; printed {len(printer.labels)}; buffered {len(printer.buffered)}"

    with printer:
        _announce(sim="zpl-printer", host=host, port=printer.port, store_dir=store_dir, advertised=advertise)
        _run(handle, ZPL_HELP)


@sim.command("escpos-printer")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9101, show_default=True, type=int, help="TCP port (0 = any free port).")
@click.option("--advertise", is_flag=True, help="Advertise as _printer._tcp via zeroconf.")
@click.option("--zeroconf-interface", default="127.0.0.1", show_default=True, help="Interface zeroconf binds to.")
def escpos_printer(host, port, advertise, zeroconf_interface) -> None:
    """An ESC/POS printer on TCP: captures jobs with a text preview, answers DLE EOT status."""
    from devices.sim.escpos_printer import EscposPrinterSim

    printer = EscposPrinterSim(host, port, advertise=advertise, zeroconf_interface=zeroconf_interface)

    def handle(line: str) -> str:
        words = line.split()
        if words[0] == "fault":
            printer.set_fault(words[1], _on_off(words[2]) if len(words) > 2 else True)
        elif words[0] == "power-cycle":
            printer.power_cycle()
        elif words[0] == "lose-next":
            printer.power_cycle_next(int(words[1]) if len(words) > 1 else 1)
        elif words[0] == "last":
            return printer.jobs[-1].preview.text if printer.jobs else "(no jobs)"
        elif words[0] != "status":
            raise ValueError(f"unknown command {words[0]!r} (try help)")
        return f"status: {printer.status().describe()}; jobs {len(printer.jobs)}; lost {len(printer.lost)}"

    with printer:
        _announce(sim="escpos-printer", host=host, port=printer.port, advertised=advertise)
        _run(handle, "commands: fault <paper_out|head_open> <on|off> | power-cycle | lose-next [n] | last | status")


@sim.command("scale")
@click.option("--protocol", type=click.Choice(["mt-sics", "nci", "cas"]), default="mt-sics", show_default=True,
              help="Wire protocol the scale speaks.")
@click.option("--path", "--link", "path", type=click.Path(dir_okay=False), default=None,
              help="Stable symlink to the pty (default: a temp path, printed at start).")
@click.option("--weight", "grams", type=int, default=0, show_default=True, help="Initial load in grams.")
@click.option("--unit", type=click.Choice(["g", "kg", "lb", "oz"]), default=None, help="Unit the scale reports in.")
@click.option("--advertise", is_flag=True, help="Advertise as _fs-scale._tcp (pty path in TXT) via zeroconf.")
def scale(protocol, path, grams, unit, advertise) -> None:
    """A scale on a pty (prints its path): set weight, motion, overload, garbage, unplug."""
    from devices.sim.scale import ScaleSim

    sim_scale = ScaleSim(protocol, path=path, unit=unit, advertise=advertise)

    def handle(line: str) -> str:
        words = line.split()
        if words[0] == "weight":
            sim_scale.set_weight(int(words[1]), settle_s=float(words[2]) if len(words) > 2 else 0.0)
        elif words[0] == "motion":
            sim_scale.set_motion(_on_off(words[1]))
        elif words[0] == "overload":
            sim_scale.set_overload(_on_off(words[1]))
        elif words[0] == "garbage":
            sim_scale.garbage(int(words[1]) if len(words) > 1 else 1)
        elif words[0] == "unplug":
            sim_scale.unplug()
        elif words[0] == "plug":
            sim_scale.plug()
        elif words[0] != "status":
            raise ValueError(f"unknown command {words[0]!r} (try help)")
        state, net = sim_scale._state()
        return f"{state} {net} g; plugged={sim_scale.device.plugged}"

    with sim_scale:
        sim_scale.set_weight(grams)
        _announce(sim="scale", protocol=protocol, path=sim_scale.path, unit=sim_scale.unit)
        _run(handle, "commands: weight <g> [settle_s] | motion on|off | overload on|off | garbage [n] | unplug | plug | status")


@sim.command("scanner")
@click.option("--path", "--link", "path", type=click.Path(dir_okay=False), default=None,
              help="Stable symlink to the pty (default: a temp path, printed at start).")
@click.option("--suffix", type=click.Choice(["cr", "lf", "crlf"]), default="cr", show_default=True,
              help="Terminator sent after each code.")
@click.option("--advertise", is_flag=True, help="Advertise as _fs-scanner._tcp (pty path in TXT) via zeroconf.")
def scanner(path, suffix, advertise) -> None:
    """A serial barcode scanner on a pty: each stdin line is scanned (<GS> = the GS1 separator)."""
    from devices.sim.scanner import GS, ScannerSim

    sim_scanner = ScannerSim(path=path, suffix=suffix, advertise=advertise)

    def handle(line: str) -> str:
        words = line.split(maxsplit=1)
        arg = words[1].replace("<GS>", GS) if len(words) > 1 else ""
        if words[0] == "!doubled":
            sim_scanner.scan(arg, doubled=True)
        elif words[0] == "!truncated":
            sim_scanner.scan_truncated(arg)
        elif words[0] == "!control":
            sim_scanner.scan_with_control(arg)
        elif words[0] == "!long":
            sim_scanner.scan_long(int(arg or 10_240))
        elif words[0] == "!unplug":
            sim_scanner.unplug()
        elif words[0] == "!plug":
            sim_scanner.plug()
        else:
            sim_scanner.scan(line.replace("<GS>", GS))
        return ""

    with sim_scanner:
        _announce(sim="scanner", path=sim_scanner.path, suffix=suffix)
        _run(handle, "type a code to scan it (<GS> = GS1 separator), or: !doubled CODE | !truncated CODE | "
                     "!control CODE | !long [n] | !unplug | !plug")


@sim.command("discover")
@click.option("--timeout", "timeout_s", type=float, default=3.0, show_default=True, help="Seconds to listen.")
@click.option("--interface", default=None, help="Bind zeroconf to this address (e.g. 127.0.0.1); default all.")
@click.option("--type", "types", multiple=True,
              help="Service type(s) to browse (default: _pdl-datastream._tcp, _printer._tcp, _ipp._tcp, _floorsync._tcp).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per service.")
def discover(timeout_s, interface, types, as_json) -> None:
    """Browse zeroconf for label printers (and floorsync consoles) and list what answers."""
    from devices.discovery import CONSOLE_TYPE, PRINTER_TYPES, browse
    from devices.errors import DiscoveryError

    try:
        found = browse(types or (*PRINTER_TYPES, CONSOLE_TYPE), timeout_s=timeout_s, interface=interface)
    except DiscoveryError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for svc in found:
            click.echo(json.dumps(svc.to_dict(), sort_keys=True))
        return
    if not found:
        click.echo("nothing found")
        return
    for svc in found:
        addr = ",".join(svc.addresses) or svc.host
        txt = " ".join(f"{k}={v}" for k, v in sorted(svc.properties.items()))
        click.echo(f"{svc.service_type.split('.')[0]:<18} {svc.instance:<36} {addr}:{svc.port}  {txt}")


@sim.command("zpl-status")
@click.argument("address", metavar="HOST:PORT")
@click.option("--timeout", "timeout_s", type=float, default=3.0, show_default=True, help="Seconds to wait.")
def zpl_status(address, timeout_s) -> None:
    """Ask a ZPL printer (real or simulated) for its ~HS host status."""
    from devices.errors import PrinterError
    from devices.printers import ZplTcpPrinter

    host, _, port = address.rpartition(":")
    try:
        status = ZplTcpPrinter(host or "127.0.0.1", int(port), timeout_s=timeout_s).status()
    except (PrinterError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(status.describe())
    if not status.ok:
        sys.exit(2)
