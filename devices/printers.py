"""Label/receipt printers: one small interface, real transports.

``Printer.send(data, on_sent=None)`` delivers one job and returns when the printer has
confirmed it; ``Printer.status()`` asks the printer how it is. Both are blocking I/O with
timeouts — call them from the print spooler's thread (``devices.printing``), never from a
web request. Errors are ``devices.errors`` types, chained from the socket/escpos error:

* :class:`PrinterOffline` — could not reach the printer; **nothing was sent** (safe to retry);
* :class:`PrinterError` — the printer reports a fault (paper out, head open, paused, ...)
  *before* the job was sent (safe to retry once fixed);
* :class:`PrinterJobUnknown` — the connection broke or stalled after bytes left: the label may
  or may not have printed. Never resend automatically.

``on_sent`` is called once the job's bytes have been handed to the transport (state ``sent``).
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Callable, Protocol

from devices.core.printer_status import (
    DLE_EOT,
    ESCPOS_OFFLINE_STATUS,
    ESCPOS_PAPER_STATUS,
    PrinterStatus,
    parse_escpos_status,
    parse_hs,
    split_hs_lines,
)
from devices.errors import (
    DeviceConfigError,
    PrinterError,
    PrinterJobUnknown,
    PrinterOffline,
    PrinterStatusError,
)

OnSent = Callable[[], None] | None


class Printer(Protocol):
    name: str
    kind: str

    def send(self, data: bytes, on_sent: OnSent = None) -> None: ...

    def status(self) -> PrinterStatus: ...

    def close(self) -> None: ...


def _recv_until(sock: socket.socket, done: Callable[[bytes], bool], timeout_s: float, limit: int = 4096) -> bytes:
    deadline = time.monotonic() + timeout_s
    buf = b""
    while not done(buf):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete reply within {timeout_s:g}s ({len(buf)} bytes)")
        sock.settimeout(left)
        chunk = sock.recv(limit)
        if not chunk:
            raise ConnectionResetError("printer closed the connection")
        buf += chunk
        if len(buf) > limit * 4:
            raise PrinterStatusError("printer status reply too long")
    return buf


class ZplTcpPrinter:
    """A Zebra-compatible printer on raw TCP (port 9100) speaking ZPL II.

    One job = one connection: ``~HS`` first (refuse to send into paper out / head open /
    paused), then the job followed by ``~HS`` — the second reply proves the printer read every
    byte before it (``done``); no reply, or the format still held in the printer's buffer behind
    a fault, means ``unknown``.
    """

    kind = "zpl"

    def __init__(self, host: str, port: int = 9100, timeout_s: float = 5.0, name: str | None = None) -> None:
        self.host, self.port, self.timeout_s = host, int(port), float(timeout_s)
        self.name = name or f"zpl://{host}:{port}"

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except OSError as exc:
            raise PrinterOffline(f"{self.name}: cannot connect: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small ~HS queries: no Nagle wait
        return sock

    def _query(self, sock: socket.socket) -> PrinterStatus:
        sock.sendall(b"~HS")
        reply = _recv_until(sock, lambda b: split_hs_lines(b) is not None, self.timeout_s)
        return parse_hs(reply)

    def status(self) -> PrinterStatus:
        sock = self._connect()
        try:
            return self._query(sock)
        except PrinterStatusError:
            raise
        except OSError as exc:
            raise PrinterOffline(f"{self.name}: no status reply: {exc}") from exc
        finally:
            sock.close()

    def send(self, data: bytes, on_sent: OnSent = None) -> None:
        sock = self._connect()
        try:
            try:
                before = self._query(sock)
            except OSError as exc:
                raise PrinterOffline(f"{self.name}: no status reply before the job: {exc}") from exc
            if not before.ok:
                raise PrinterError(f"{self.name}: not ready: {before.describe()}")
            try:
                sock.settimeout(self.timeout_s)
                sock.sendall(data)
                if on_sent:
                    on_sent()
                after = self._query(sock)
            except (OSError, PrinterStatusError) as exc:
                raise PrinterJobUnknown(f"{self.name}: connection broke after sending: {exc}") from exc
            if after.formats_in_buffer and not after.ok:
                # held in the printer's buffer behind a fault: it prints when the fault clears
                raise PrinterJobUnknown(f"{self.name}: job received but held in the printer buffer: {after.describe()}")
        finally:
            sock.close()

    def close(self) -> None:
        pass


class EscposPrinter:
    """An ESC/POS receipt/label printer through python-escpos (Network, Serial, Usb or Dummy).

    The job is written raw; then ``DLE EOT 2`` / ``DLE EOT 4`` real-time status queries are
    answered by the printer (``done``), or not (``unknown``). Dummy printers have no status
    channel and report ``ok`` after capturing the bytes (``.device.output``).
    """

    kind = "escpos"

    def __init__(self, device, name: str | None = None, has_status: bool = True) -> None:
        self.device = device
        self.name = name or f"escpos:{type(device).__name__}"
        self.has_status = has_status

    @classmethod
    def network(cls, host: str, port: int = 9100, timeout_s: float = 5.0) -> "EscposPrinter":
        from escpos.printer import Network

        return cls(Network(host, port, timeout=timeout_s), name=f"escpos://{host}:{port}")

    @classmethod
    def serial(cls, devfile: str, baudrate: int = 9600, timeout_s: float = 2.0) -> "EscposPrinter":
        from escpos.printer import Serial

        return cls(Serial(devfile=devfile, baudrate=baudrate, timeout=timeout_s), name=f"escpos-serial:{devfile}")

    @classmethod
    def usb(cls, vendor_id: int, product_id: int, timeout_s: float = 2.0) -> "EscposPrinter":
        from escpos.printer import Usb

        return cls(Usb(vendor_id, product_id, timeout=int(timeout_s * 1000)),
                   name=f"escpos-usb:{vendor_id:04x}:{product_id:04x}")

    @classmethod
    def dummy(cls) -> "EscposPrinter":
        from escpos.printer import Dummy

        return cls(Dummy(), name="escpos-dummy", has_status=False)

    def _open(self) -> None:
        from escpos.exceptions import Error as EscposError

        if not hasattr(self.device, "open") or type(self.device).__name__ == "Dummy":
            return
        try:
            self.device.open()
        except (EscposError, OSError, Exception) as exc:  # escpos raises DeviceNotFoundError et al.
            raise PrinterOffline(f"{self.name}: cannot open: {exc}") from exc

    def _close(self) -> None:
        try:
            if type(self.device).__name__ != "Dummy":
                self.device.close()
        except Exception:  # closing a broken transport must not mask the real error
            pass

    def _query(self) -> PrinterStatus:
        if not self.has_status:
            return PrinterStatus()
        self.device._raw(DLE_EOT + bytes([ESCPOS_OFFLINE_STATUS]))
        offline = self._read_byte()
        self.device._raw(DLE_EOT + bytes([ESCPOS_PAPER_STATUS]))
        paper = self._read_byte()
        return parse_escpos_status(offline, paper)

    def _read_byte(self) -> int:
        data = self.device._read()
        if not data:
            raise ConnectionResetError("no status byte from printer")
        return data[0]

    def status(self) -> PrinterStatus:
        self._open()
        try:
            return self._query()
        except PrinterStatusError:
            raise
        except Exception as exc:  # socket/serial/usb errors surface as various types
            raise PrinterOffline(f"{self.name}: no status reply: {exc}") from exc
        finally:
            self._close()

    def send(self, data: bytes, on_sent: OnSent = None) -> None:
        self._open()
        try:
            try:
                before = self._query()
            except PrinterStatusError:
                raise
            except Exception as exc:
                raise PrinterOffline(f"{self.name}: no status reply before the job: {exc}") from exc
            if not before.ok:
                raise PrinterError(f"{self.name}: not ready: {before.describe()}")
            try:
                self.device._raw(data)
                if on_sent:
                    on_sent()
                self._query()
            except Exception as exc:
                raise PrinterJobUnknown(f"{self.name}: connection broke after sending: {exc}") from exc
        finally:
            self._close()

    def close(self) -> None:
        self._close()


class PdfFilePrinter:
    """The PDF fallback: each job is written atomically as a file in ``directory``."""

    kind = "pdf"

    def __init__(self, directory: str | os.PathLike, suffix: str = ".pdf", name: str | None = None) -> None:
        self.directory = Path(directory)
        self.suffix = suffix
        self.name = name or f"pdf:{self.directory}"
        self._n = 0

    def status(self) -> PrinterStatus:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PrinterOffline(f"{self.name}: {exc}") from exc
        if not os.access(self.directory, os.W_OK):
            return PrinterStatus(online=False, detail="directory not writable")
        return PrinterStatus()

    def send(self, data: bytes, on_sent: OnSent = None) -> None:
        self._n += 1
        stem = f"job-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{self._n:05d}"
        target = self.directory / (stem + self.suffix)
        tmp = self.directory / (stem + ".part")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
        except OSError as exc:
            raise PrinterOffline(f"{self.name}: cannot write {tmp}: {exc}") from exc
        if on_sent:
            on_sent()
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise PrinterJobUnknown(f"{self.name}: wrote {tmp} but could not finish it: {exc}") from exc
        self.last_path = target

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*" + self.suffix)) if self.directory.exists() else []

    def close(self) -> None:
        pass


class NullPrinter:
    """``printer_kind = "none"``: no printer; every send fails offline (nothing is sent)."""

    kind = "none"
    name = "none"

    def status(self) -> PrinterStatus:
        return PrinterStatus(online=False, detail="no printer configured")

    def send(self, data: bytes, on_sent: OnSent = None) -> None:
        raise PrinterOffline("no label printer configured (devices.printer_kind = none)")

    def close(self) -> None:
        pass


def open_printer(devices_cfg, data_dir: str | os.PathLike | None = None) -> Printer:
    """The printer configured in ``devices_cfg`` (a ``DevicesConfig``). Does no I/O."""
    kind = devices_cfg.printer_kind
    timeout = float(getattr(devices_cfg, "printer_timeout_s", 5.0))
    if kind == "zpl":
        return ZplTcpPrinter(devices_cfg.printer_host, devices_cfg.printer_port, timeout_s=timeout)
    if kind == "escpos":
        transport = getattr(devices_cfg, "escpos_transport", "network")
        if transport == "network":
            return EscposPrinter.network(devices_cfg.printer_host, devices_cfg.printer_port, timeout)
        if transport == "serial":
            if not devices_cfg.escpos_serial_port:
                raise DeviceConfigError("devices.escpos_serial_port is required for escpos_transport = serial")
            return EscposPrinter.serial(devices_cfg.escpos_serial_port, devices_cfg.escpos_baudrate, timeout)
        if transport == "usb":
            return EscposPrinter.usb(int(devices_cfg.escpos_usb_vendor_id, 16),
                                     int(devices_cfg.escpos_usb_product_id, 16), timeout)
        if transport == "dummy":
            return EscposPrinter.dummy()
        raise DeviceConfigError(f"devices.escpos_transport {transport!r} unknown")
    if kind == "pdf":
        directory = getattr(devices_cfg, "pdf_dir", "") or os.path.join(data_dir or ".", "labels-pdf")
        return PdfFilePrinter(directory)
    if kind == "none":
        return NullPrinter()
    raise DeviceConfigError(f"devices.printer_kind {kind!r} unknown (zpl, escpos, pdf, none)")
