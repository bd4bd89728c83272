"""Printer status: the ``PrinterStatus`` value, the ZPL ``~HS`` host-status reply and the
ESC/POS ``DLE EOT`` real-time status bytes — parsed and (for the simulators) formatted.

``~HS`` reply (Zebra ZPL II programming guide): three lines, each ``STX ... ETX CR LF``::

    aaa,b,c,dddd,eee,f,g,h,iii,j,k,l        b paper out, c paused, dddd label length (dots),
                                            eee formats in buffer, f buffer full, j corrupt RAM,
                                            k under temperature, l over temperature
    mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www        o head up (open), p ribbon out, t label waiting,
                                            uuuuuuuu labels remaining in batch
    xxxx,y                                  password, static RAM installed
"""
from __future__ import annotations

from dataclasses import dataclass, field

from devices.core.errors import PrinterStatusError

STX = b"\x02"
ETX = b"\x03"


@dataclass(frozen=True)
class PrinterStatus:
    """What a printer reports about itself. ``ok`` = online and ready to print."""

    online: bool = True
    paper_out: bool = False
    ribbon_out: bool = False
    head_open: bool = False
    paused: bool = False
    buffer_full: bool = False
    formats_in_buffer: int = 0
    labels_remaining: int = 0
    detail: str = ""
    extra: tuple[str, ...] = field(default=())

    @property
    def problems(self) -> tuple[str, ...]:
        out = []
        if not self.online:
            out.append("offline")
        for flag, text in ((self.paper_out, "paper out"), (self.ribbon_out, "ribbon out"),
                           (self.head_open, "head open"), (self.paused, "paused"),
                           (self.buffer_full, "buffer full")):
            if flag:
                out.append(text)
        return tuple(out) + self.extra

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        return "ready" if self.ok else ", ".join(self.problems)


def _flag(fields: list[str], idx: int, line: int) -> bool:
    try:
        value = fields[idx].strip()
    except IndexError as exc:
        raise PrinterStatusError(f"~HS line {line} has {len(fields)} fields, expected > {idx}") from exc
    if value not in ("0", "1"):
        raise PrinterStatusError(f"~HS line {line} field {idx + 1} is {value!r}, expected 0 or 1")
    return value == "1"


def _int(fields: list[str], idx: int, line: int) -> int:
    try:
        return int(fields[idx].strip())
    except (IndexError, ValueError) as exc:
        raise PrinterStatusError(f"~HS line {line} field {idx + 1} is not a number") from exc


def split_hs_lines(data: bytes) -> list[bytes] | None:
    """The STX..ETX payloads found in ``data``; None until all three have arrived."""
    lines = []
    rest = data
    while len(lines) < 3:
        start = rest.find(STX)
        if start < 0:
            return None
        end = rest.find(ETX, start + 1)
        if end < 0:
            return None
        lines.append(rest[start + 1:end])
        rest = rest[end + 1:]
    return lines


def parse_hs(data: bytes) -> PrinterStatus:
    """Parse a complete ``~HS`` reply; raises :class:`PrinterStatusError` when malformed."""
    lines = split_hs_lines(data)
    if lines is None:
        raise PrinterStatusError(f"incomplete ~HS reply ({len(data)} bytes)")
    try:
        one, two = (ln.decode("ascii").split(",") for ln in lines[:2])
    except UnicodeDecodeError as exc:
        raise PrinterStatusError("~HS reply is not ASCII") from exc
    if len(one) < 12 or len(two) < 11:
        raise PrinterStatusError(f"~HS reply has {len(one)}/{len(two)} fields, expected 12/11")
    extra = []
    if _flag(one, 9, 1):
        extra.append("corrupt RAM")
    if _flag(one, 10, 1):
        extra.append("under temperature")
    if _flag(one, 11, 1):
        extra.append("over temperature")
    return PrinterStatus(
        online=True,
        paper_out=_flag(one, 1, 1),
        paused=_flag(one, 2, 1),
        formats_in_buffer=_int(one, 4, 1),
        buffer_full=_flag(one, 5, 1),
        head_open=_flag(two, 2, 2),
        ribbon_out=_flag(two, 3, 2),
        labels_remaining=_int(two, 8, 2),
        extra=tuple(extra),
    )


def format_hs(status: PrinterStatus, label_length_dots: int = 1218) -> bytes:
    """The ``~HS`` reply a Zebra printer in ``status`` sends (used by the simulator)."""
    b = lambda v: "1" if v else "0"  # noqa: E731
    one = (f"030,{b(status.paper_out)},{b(status.paused)},{label_length_dots:04d},"
           f"{status.formats_in_buffer:03d},{b(status.buffer_full)},0,0,000,0,0,0")
    two = f"001,0,{b(status.head_open)},{b(status.ribbon_out)},0,2,6,0,{status.labels_remaining:08d},1,000"
    three = "1234,0"
    return b"".join(STX + s.encode("ascii") + ETX + b"\r\n" for s in (one, two, three))


# --- ESC/POS real-time status (DLE EOT n) -----------------------------------------------
DLE_EOT = b"\x10\x04"
ESCPOS_OFFLINE_STATUS = 2   # n=2: bit 2 cover open, bit 3 paper fed by button, bit 5 paper end stop, bit 6 error
ESCPOS_PAPER_STATUS = 4     # n=4: bits 2-3 near end, bits 5-6 paper end


def format_escpos_status(n: int, status: PrinterStatus) -> bytes:
    """One DLE EOT ``n`` reply byte (fixed bits 1 and 4 set, bits 0 and 7 clear)."""
    value = 0x12
    if n == 1:
        if not status.online or status.paused:
            value |= 0x08
    elif n == ESCPOS_OFFLINE_STATUS:
        if status.head_open:
            value |= 0x04
        if status.paper_out:
            value |= 0x20
        if status.extra:
            value |= 0x40
    elif n == ESCPOS_PAPER_STATUS:
        if status.paper_out:
            value |= 0x60
    return bytes([value])


def parse_escpos_status(offline_byte: int, paper_byte: int) -> PrinterStatus:
    """Status from the replies to DLE EOT 2 and DLE EOT 4; raises on an invalid status byte."""
    for value in (offline_byte, paper_byte):
        if value & 0x93 != 0x12:
            raise PrinterStatusError(f"invalid ESC/POS status byte 0x{value:02x}")
    return PrinterStatus(
        online=True,
        head_open=bool(offline_byte & 0x04),
        paper_out=bool(paper_byte & 0x60) or bool(offline_byte & 0x20),
        extra=("printer error",) if offline_byte & 0x40 else (),
    )
