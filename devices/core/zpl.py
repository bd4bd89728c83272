"""A small ZPL II reader: splits a 9100 byte stream into label formats (``^XA .. ^XZ``) and
immediate tilde commands (``~HS``, ``~JA``, ...), and reads the drawing commands of a format
(``^FO``/``^FT`` origins, ``^A``/``^CF`` fonts, ``^FH`` hex escapes, ``^FD`` data, ``^GB`` boxes,
``^B*`` barcodes, ``^PW``/``^LL``/``^PQ``) so a simulator can store and preview what it got.

Like a real printer, a ``~`` anywhere in the stream starts a tilde command — which is why every
customer text must be sent ``^FH``-escaped.
"""
from __future__ import annotations

from dataclasses import dataclass, field

TILDE_COMMANDS = frozenset({"HS", "HI", "HM", "JA", "JR", "PS", "PP", "WC", "SD", "JC", "HQ", "RO", "HD"})
MAX_FORMAT_BYTES = 1 << 20


@dataclass(frozen=True)
class Text:
    x: int
    y: int
    height: int
    width: int
    text: str


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int
    thickness: int


@dataclass(frozen=True)
class Barcode:
    x: int
    y: int
    symbology: str
    height: int
    module: int
    data: str


@dataclass(frozen=True)
class Label:
    width: int
    length: int
    quantity: int
    elements: tuple = field(default=())

    def texts(self) -> list[str]:
        return [e.text for e in self.elements if isinstance(e, Text)]

    def barcodes(self) -> list[str]:
        return [e.data for e in self.elements if isinstance(e, Barcode)]


class ZplStream:
    """Incremental splitter. ``feed(data)`` returns the completed items in order:
    ``("format", bytes)`` for each ``^XA..^XZ`` and ``("tilde", "HS")`` for tilde commands.
    Bytes outside a format that are not a tilde command are dropped (as a printer does)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._fmt_start: int | None = None

    @property
    def pending(self) -> int:
        """Bytes of a started but not yet completed format."""
        return len(self._buf) if self._fmt_start is not None else 0

    def feed(self, data: bytes) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        buf = self._buf
        buf += data
        i = self._pos
        consumed = 0
        while i < len(buf):
            ch = buf[i]
            if ch in (0x7E, 0x5E):  # ~ or ^
                if i + 3 > len(buf):
                    break
                cmd = buf[i + 1:i + 3].decode("latin-1").upper()
                if ch == 0x7E and cmd in TILDE_COMMANDS:
                    out.append(("tilde", cmd))
                    i += 3
                    if self._fmt_start is None:
                        consumed = i
                    continue
                if ch == 0x5E and cmd == "XA" and self._fmt_start is None:
                    self._fmt_start = i
                elif ch == 0x5E and cmd == "XZ" and self._fmt_start is not None:
                    out.append(("format", bytes(buf[self._fmt_start:i + 3])))
                    self._fmt_start = None
                    i += 3
                    consumed = i
                    continue
            elif self._fmt_start is None:
                consumed = i + 1
            i += 1
        cut = self._fmt_start if self._fmt_start is not None else consumed
        del buf[:cut]
        self._pos = i - cut
        if self._fmt_start is not None:
            self._fmt_start = 0
        if len(buf) > MAX_FORMAT_BYTES:  # runaway format: dropped, like a buffer overflow
            buf.clear()
            self._pos = 0
            self._fmt_start = None
        return out


def _decode_fh(data: str, indicator: str) -> str:
    out = bytearray()
    i = 0
    raw = data.encode("latin-1", errors="replace")
    ind = ord(indicator)
    while i < len(raw):
        if raw[i] == ind and i + 3 <= len(raw):
            try:
                out.append(int(raw[i + 1:i + 3].decode("ascii"), 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(raw[i])
        i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return out.decode("latin-1")


def _ints(params: str, defaults: list[int]) -> list[int]:
    parts = params.split(",")
    vals = []
    for idx, default in enumerate(defaults):
        try:
            vals.append(int(float(parts[idx])) if idx < len(parts) and parts[idx].strip() else default)
        except ValueError:
            vals.append(default)
    return vals


def _commands(fmt: str):
    i = 0
    n = len(fmt)
    while i < n:
        if fmt[i] in "^~" and i + 3 <= n:
            name = fmt[i + 1:i + 3].upper()
            j = i + 3
            if name == "FD":
                end = fmt.find("^FS", j)
                end = n if end < 0 else end
                yield name, fmt[j:end]
                i = end
                continue
            while j < n and fmt[j] not in "^~":
                j += 1
            if name.startswith("A") and name != "A@":
                # ^A0N,h,w : font letter is the 2nd char, params follow
                yield "A", fmt[i + 2:j]
            else:
                yield name, fmt[i + 3:j]
            i = j
        else:
            i += 1


def parse_label(fmt: bytes, default_width: int = 812, default_length: int = 1218) -> Label:
    """The drawing elements of one ``^XA..^XZ`` format (unknown commands are ignored)."""
    text = fmt.decode("latin-1")
    width, length, qty = default_width, default_length, 1
    x = y = 0
    font_h, font_w = 30, 0
    default_h, default_w = 30, 0
    fh: str | None = None
    barcode: tuple[str, int] | None = None
    module = 2
    bar_height = 100
    elements: list = []
    for name, params in _commands(text):
        if name in ("FO", "FT"):
            x, y = _ints(params, [0, 0])[:2]
        elif name == "A":
            # params like "0N,40,30" (font, orientation, h, w)
            rest = params[1:]
            parts = rest.split(",", 1)
            h, w = _ints(parts[1] if len(parts) > 1 else "", [default_h, default_w])
            font_h, font_w = h, w
        elif name == "CF":
            _, h, w = (params.split(",") + ["", "", ""])[:3]
            default_h, default_w = _ints(f"{h},{w}", [default_h, default_w])
            font_h, font_w = default_h, default_w
        elif name == "FH":
            fh = params[:1] or "_"
        elif name == "BY":
            module, _, bar_height = _ints(params, [module, 3, bar_height])
        elif name.startswith("B") and name not in ("BY",):
            vals = params.split(",")
            h = bar_height
            if name in ("BC", "B3", "BE", "BU", "B2"):
                h = _ints(",".join(vals[1:2]), [bar_height])[0]
            barcode = (name, h)
        elif name == "GB":
            w, h, t = _ints(params, [1, 1, 1])
            elements.append(Box(x, y, w, h, t))
        elif name == "FD":
            data = _decode_fh(params, fh) if fh else params
            if barcode:
                elements.append(Barcode(x, y, barcode[0], barcode[1], module, data))
            else:
                elements.append(Text(x, y, font_h, font_w, data))
        elif name == "FS":
            fh = None
            barcode = None
            font_h, font_w = default_h, default_w
        elif name == "PW":
            width = _ints(params, [width])[0]
        elif name == "LL":
            length = _ints(params, [length])[0]
        elif name == "PQ":
            qty = max(1, _ints(params, [1])[0])
    return Label(width=width, length=length, quantity=qty, elements=tuple(elements))
