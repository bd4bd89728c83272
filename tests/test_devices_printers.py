"""Printers and the print spooler against the ZPL and ESC/POS simulators over real TCP."""
from __future__ import annotations

import dataclasses
import io
import socket
import time

import pytest
from PIL import Image

from devices import errors
from devices.config import DevicesConfig
from devices.health import DeviceHealth, HealthMonitor, printer_probe
from devices.printers import EscposPrinter, NullPrinter, PdfFilePrinter, ZplTcpPrinter, open_printer
from devices.printing import MemoryJobJournal, PrintSpooler, RetryPolicy
from devices.sim.escpos_printer import EscposPrinterSim
from devices.sim.zpl_printer import ZplPrinterSim

FAST = RetryPolicy(attempts=2, backoff_s=0.02)


def label(text: str) -> bytes:
    return f"^XA^FO20,20^A0N,40,30^FD{text}^FS^XZ".encode()


@pytest.fixture
def zpl_sim(tmp_path):
    with ZplPrinterSim(store_dir=str(tmp_path / "labels")) as sim:
        yield sim


@pytest.fixture
def zpl(zpl_sim):
    return ZplTcpPrinter("127.0.0.1", zpl_sim.port, timeout_s=1.0)


@pytest.fixture
def spooler(zpl):
    journal = MemoryJobJournal()
    sp = PrintSpooler(zpl, journal, FAST, health=DeviceHealth()).start()
    yield sp
    sp.stop()


def test_zpl_job_prints_once_with_png_preview(zpl_sim, spooler, tmp_path):
    job_id = spooler.submit(label("SHIP TO: ADA"), description="shipping label", ref="FO-1")
    assert spooler.wait_idle(5)
    assert spooler.get(job_id).state == "done"
    assert spooler.journal.states(job_id) == ["queued", "sent", "done"]
    assert zpl_sim.texts() == [["SHIP TO: ADA"]]
    assert zpl_sim.status_queries == 2  # one before (ready?), one after (received?)
    png = (tmp_path / "labels" / "label-0001.png").read_bytes()
    img = Image.open(io.BytesIO(png))
    assert img.size == (812, 1218)
    assert img.convert("L").getextrema() == (0, 255)  # something black was drawn
    assert (tmp_path / "labels" / "label-0001.zpl").read_bytes() == label("SHIP TO: ADA")


def test_status_reports_each_fault_truthfully(zpl_sim, zpl):
    assert zpl.status().ok
    for fault, text in (("paper_out", "paper out"), ("head_open", "head open"), ("ribbon_out", "ribbon out"),
                        ("paused", "paused"), ("buffer_full", "buffer full")):
        zpl_sim.set_fault(fault)
        assert zpl.status().problems == (text,)
        zpl_sim.set_fault(fault, False)
    assert zpl.status().describe() == "ready"


def test_paper_out_fails_before_sending_and_nothing_prints(zpl_sim, spooler):
    zpl_sim.set_fault("paper_out")
    job_id = spooler.submit(label("A"))
    assert spooler.wait_idle(5)
    job = spooler.get(job_id)
    assert (job.state, job.attempts) == ("failed", 2)
    assert "paper out" in job.error
    assert spooler.journal.states(job_id) == ["queued", "failed"]
    assert zpl_sim.labels == [] and zpl_sim.buffered == []


def test_retry_succeeds_when_fault_clears_between_attempts(zpl_sim, zpl):
    zpl_sim.set_fault("head_open")
    with PrintSpooler(zpl, MemoryJobJournal(), RetryPolicy(attempts=5, backoff_s=0.2)) as sp:
        job_id = sp.submit(label("RETRY"))
        time.sleep(0.1)
        zpl_sim.set_fault("head_open", False)
        assert sp.wait_idle(5)
        assert (sp.get(job_id).state, sp.get(job_id).attempts) == ("done", 2)
    assert zpl_sim.texts() == [["RETRY"]]


def test_reset_mid_job_is_unknown_and_never_reprinted(zpl_sim, spooler):
    zpl_sim.set_fault("reset", 1)
    lost = spooler.submit(label("LOST?"))
    after = spooler.submit(label("NEXT"))
    assert spooler.wait_idle(5)
    assert spooler.get(lost).state == "unknown"
    assert spooler.journal.states(lost) == ["queued", "sent", "unknown"]
    assert spooler.get(after).state == "done"
    time.sleep(0.2)
    assert zpl_sim.texts() == [["NEXT"]]  # the unknown job was not resent behind our back
    assert len(zpl_sim.lost) == 1


def test_accept_then_stall_is_unknown_and_caller_never_blocks(zpl_sim, spooler):
    zpl_sim.set_fault("stall")
    t0 = time.monotonic()
    job_id = spooler.submit(label("STALL"))
    assert time.monotonic() - t0 < 0.05  # submit only queues
    assert spooler.get(job_id).state in ("queued", "sent")
    assert spooler.wait_idle(5)
    assert spooler.get(job_id).state == "unknown"
    zpl_sim.set_fault("stall", False)
    assert zpl_sim.labels == []


def test_slow_printer_still_done_and_submit_returns_at_once(zpl_sim, spooler):
    zpl_sim.set_fault("slow", 0.3)
    t0 = time.monotonic()
    ids = [spooler.submit(label(f"S{i}")) for i in range(3)]
    assert time.monotonic() - t0 < 0.05
    assert spooler.wait_idle(10)
    assert [spooler.get(i).state for i in ids] == ["done"] * 3
    assert zpl_sim.texts() == [["S0"], ["S1"], ["S2"]]


def test_scheduled_paper_out_stops_after_n_labels(zpl_sim, spooler):
    zpl_sim.schedule("paper_out", after=2)
    ids = [spooler.submit(label(f"L{i}")) for i in range(3)]
    assert spooler.wait_idle(5)
    assert [spooler.get(i).state for i in ids] == ["done", "done", "failed"]
    assert len(zpl_sim.labels) == 2


def test_formats_arriving_during_a_fault_wait_in_buffer_and_print_once(zpl_sim, zpl):
    sock = socket.create_connection(("127.0.0.1", zpl_sim.port))
    zpl_sim.set_fault("paused")
    sock.sendall(label("QUEUED"))
    sock.close()
    deadline = time.monotonic() + 3
    while zpl.status().formats_in_buffer != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert zpl.status().formats_in_buffer == 1 and zpl_sim.labels == []
    zpl_sim.set_fault("paused", False)
    assert zpl_sim.texts() == [["QUEUED"]]


def test_reprint_is_explicit_and_audited(zpl_sim, spooler):
    first = spooler.submit(label("AGAIN"))
    assert spooler.wait_idle(5)
    with pytest.raises(errors.ReprintRefused):
        spooler.reprint(first, actor="", reason="jammed")
    with pytest.raises(errors.ReprintRefused):
        spooler.reprint(first, actor="maria", reason="  ")
    with pytest.raises(errors.PrintJobNotFound):
        spooler.reprint("nope", actor="maria", reason="jammed")
    assert len(zpl_sim.labels) == 1
    again = spooler.reprint(first, actor="maria", reason="label jammed")
    assert spooler.wait_idle(5)
    job = spooler.get(again)
    assert (job.state, job.reprint_of, job.actor, job.reason) == ("done", first, "maria", "label jammed")
    assert spooler.journal.get(again).reprint_of == first
    assert zpl_sim.texts() == [["AGAIN"], ["AGAIN"]]


def test_offline_printer_fails_and_health_flips_offline_then_back(zpl_sim):
    health = DeviceHealth()
    port = zpl_sim.port
    printer = ZplTcpPrinter("127.0.0.1", port, timeout_s=0.5, name="dock-zpl")
    monitor = HealthMonitor(health, interval_s=60)
    monitor.add("dock-zpl", "printer", printer_probe(printer))
    monitor.check_now()
    assert health.snapshot()["devices"]["dock-zpl"]["state"] == "online"
    assert health.printers_ok() is True
    zpl_sim.set_fault("head_open")
    monitor.check_now()
    snap = health.snapshot()
    assert snap["devices"]["dock-zpl"]["state"] == "error"
    assert snap["devices"]["dock-zpl"]["last_error"] == "head open"
    assert snap["printers_ok"] is False
    zpl_sim.set_fault("head_open", False)
    monitor.check_now()
    snap = health.snapshot()
    assert snap["devices"]["dock-zpl"]["state"] == "online"
    assert snap["devices"]["dock-zpl"]["last_error"] == "head open"  # kept, with its time
    assert snap["devices"]["dock-zpl"]["last_error_at"] is not None and snap["printers_ok"] is True
    dead = ZplTcpPrinter("127.0.0.1", 1, timeout_s=0.5, name="dead-zpl")
    monitor.add("dead-zpl", "printer", printer_probe(dead))
    monitor.check_now()
    assert health.state("dead-zpl") == "offline"
    with PrintSpooler(dead, MemoryJobJournal(), FAST, health=health) as sp:
        job_id = sp.submit(label("X"))
        assert sp.wait_idle(5)
        assert sp.get(job_id).state == "failed"


def test_health_monitor_thread_probes_in_background(zpl_sim):
    health = DeviceHealth()
    printer = ZplTcpPrinter("127.0.0.1", zpl_sim.port, timeout_s=0.5, name="p1")
    with HealthMonitor(health, interval_s=0.05) as monitor:
        monitor.add("p1", "printer", printer_probe(printer))
        monitor.poke()
        deadline = time.monotonic() + 3
        while health.state("p1") != "online" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert health.state("p1") == "online"
        zpl_sim.set_fault("paper_out")
        while health.state("p1") != "error" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert health.state("p1") == "error"


def test_escpos_network_jobs_and_power_cycle_loses_job_as_unknown():
    with EscposPrinterSim() as sim:
        printer = EscposPrinter.network("127.0.0.1", sim.port, timeout_s=1.0)
        assert printer.status().ok
        with PrintSpooler(printer, MemoryJobJournal(), FAST) as sp:
            ok = sp.submit(b"\x1b@PACKING SLIP\nSKU-1 x 2\n\x1dVA\x03")
            assert sp.wait_idle(5)
            sim.power_cycle_next(1)
            lost = sp.submit(b"\x1b@LOST IN REBOOT\n")
            assert sp.wait_idle(5)
            sim.set_fault("paper_out")
            refused = sp.submit(b"NO PAPER\n")
            assert sp.wait_idle(5)
        assert [sp.get(j).state for j in (ok, lost, refused)] == ["done", "unknown", "failed"]
        assert sim.wait_for_jobs(1)
        time.sleep(0.1)
        assert [j.preview.text for j in sim.jobs] == ["PACKING SLIP\nSKU-1 x 2\n"]
        assert sim.jobs[0].preview.cuts == 1
        png = Image.open(io.BytesIO(sim.png(0)))
        assert png.size == (576, 24 * 3 + 32) and png.getextrema() == (0, 255)
        assert sim.lost == [b"\x1b@LOST IN REBOOT\n"]


def test_escpos_dummy_and_pdf_and_null_printers(tmp_path):
    dummy = EscposPrinter.dummy()
    dummy.send(b"\x1b@hello\n")
    assert dummy.device.output == b"\x1b@hello\n"
    pdf = PdfFilePrinter(tmp_path / "pdf")
    assert pdf.status().ok
    with PrintSpooler(pdf, MemoryJobJournal(), FAST) as sp:
        job_id = sp.submit(b"%PDF-1.4 fake")
        assert sp.wait_idle(5)
        assert sp.get(job_id).state == "done"
    assert [p.read_bytes() for p in pdf.files()] == [b"%PDF-1.4 fake"]
    assert not list((tmp_path / "pdf").glob("*.part"))
    with pytest.raises(errors.PrinterOffline):
        NullPrinter().send(b"x")


def test_open_printer_from_config(tmp_path):
    cfg = DevicesConfig()
    zpl = open_printer(cfg)
    assert isinstance(zpl, ZplTcpPrinter) and (zpl.host, zpl.port) == ("127.0.0.1", 9100)
    assert isinstance(open_printer(dataclasses.replace(cfg, printer_kind="escpos", escpos_transport="dummy")), EscposPrinter)
    pdf = open_printer(dataclasses.replace(cfg, printer_kind="pdf"), data_dir=str(tmp_path))
    assert isinstance(pdf, PdfFilePrinter) and pdf.directory == tmp_path / "labels-pdf"
    assert isinstance(open_printer(dataclasses.replace(cfg, printer_kind="none")), NullPrinter)
    with pytest.raises(errors.DeviceConfigError):
        open_printer(dataclasses.replace(cfg, printer_kind="escpos", escpos_transport="serial", escpos_serial_port=""))


def test_bad_submit_changes_nothing(spooler):
    with pytest.raises(errors.PrinterError):
        spooler.submit(b"")
    assert spooler.jobs() == []


def test_misbehaving_journal_does_not_stop_printing(zpl_sim, zpl):
    class Broken:
        def record(self, job):
            raise RuntimeError("disk full")

        def update(self, job_id, state, error):
            raise RuntimeError("disk full")

    with PrintSpooler(zpl, Broken(), FAST) as sp:
        job_id = sp.submit(label("STILL"))
        assert sp.wait_idle(5)
        assert sp.get(job_id).state == "done"
    assert zpl_sim.texts() == [["STILL"]]


def test_job_held_in_printer_buffer_behind_a_fault_is_unknown_not_reprinted(zpl_sim, zpl):
    # the fault appears while the job travels: the printer keeps the format and prints it later
    orig_query = zpl._query
    calls = []

    def query_then_pause(sock):
        calls.append(1)
        status = orig_query(sock)
        if len(calls) == 1:
            zpl_sim.set_fault("paused")
        return status

    zpl._query = query_then_pause
    with PrintSpooler(zpl, MemoryJobJournal(), FAST) as sp:
        job_id = sp.submit(label("HELD"))
        assert sp.wait_idle(5)
        job = sp.get(job_id)
    assert job.state == "unknown" and "held in the printer buffer: paused" in job.error
    assert zpl_sim.buffered and zpl_sim.labels == []
    zpl_sim.set_fault("paused", False)
    assert zpl_sim.texts() == [["HELD"]]


def test_monitor_for_config_probes_printer_and_scale_and_shares_entries_with_spooler():
    from devices.health import monitor_for
    from devices.scales import open_scale
    from devices.sim.scale import ScaleSim

    with ZplPrinterSim() as sim, ScaleSim("mt-sics") as scale_sim:
        cfg = DevicesConfig(printer_port=sim.port, scale_protocol="mt-sics", scale_port=scale_sim.path, printer_timeout_s=0.5)
        printer = open_printer(cfg)
        scale = open_scale(cfg.scale_protocol, cfg.scale_port)
        monitor = monitor_for(cfg, printer, scale)
        monitor.check_now()
        snap = monitor.health.snapshot()
        assert {k: v["state"] for k, v in snap["devices"].items()} == {"label-printer": "online", "scale": "online"}
        assert snap["printers_ok"] is True and snap["ok"] is True
        with PrintSpooler(printer, MemoryJobJournal(), FAST, health=monitor.health, device_name="label-printer") as sp:
            sim.set_fault("reset", 1)
            sp.submit(label("R"))
            assert sp.wait_idle(5)
        assert monitor.health.state("label-printer") == "error"
        assert monitor.health.printers_ok() is False
        scale.close()


def test_stop_leaves_untaken_jobs_recorded_as_queued(zpl_sim, zpl):
    zpl_sim.set_fault("slow", 0.3)
    journal = MemoryJobJournal()
    sp = PrintSpooler(zpl, journal, FAST).start()
    ids = [sp.submit(label(f"Q{i}")) for i in range(4)]
    time.sleep(0.1)
    sp.stop()
    assert journal.states(ids[0])[-1] == "done"
    assert [journal.states(i) for i in ids[1:]] == [["queued"]] * 3
    assert zpl_sim.texts() == [["Q0"]]
