"""Layout -> ZPL II. Pure string building; injection-proof field data.

Every field is sent with ``^FH`` (hex indicator ``_``): ``^ ~ _ \\``, control bytes and every
non-ASCII character are written as ``_XX`` per UTF-8 byte, and ``^CI28`` tells the printer the
bytes are UTF-8. Customer text such as ``^XZ^XA~JA`` therefore prints as text and can never end
the format or issue a command. Code 128 data uses the encoder's mode-N invocation codes, so
``>``, ``^`` and ``~`` in barcode data are encoded, not interpreted.
"""
from __future__ import annotations

from .errors import UnsupportedFormat
from .model import LINE_GAP, MM_PER_INCH, Barcode, Box, Layout, Text, dots

DEFAULT_UNICODE_FONT = "E:ANMDJ.TTF"  # Zebra's Andale Mono WT J (CJK); font 0 covers Latin only


class _Escape(dict):
    """``str.translate`` table: printable ASCII except ``^ ~ _ \\`` stays; everything else -> _XX."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if 32 <= code < 127 and ch not in "^~_\\":
            value = ch
        else:
            value = "".join(f"_{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        self[code] = value
        return value


_ESC = _Escape()


def escape_field(text: str) -> str:
    """Field data safe inside ``^FH^FD ... ^FS``."""
    return text.translate(_ESC)


def _needs_unicode_font(text: str) -> bool:
    return not text.isascii() and any(ord(ch) > 0x17F for ch in text)


def module_dots(bc: Barcode, dpi: int) -> tuple[int, int]:
    """Module width in dots (<= ~0.5 mm, keeps 10-module quiet zones if it can) and symbol width."""
    w = dots(bc.w, dpi)
    cap = max(2, round(0.5 * dpi / 25.4))
    md = max(1, min(cap, w // (bc.modules + 20)))
    if md == 1 or bc.modules * md > w:
        md = max(1, min(cap, w // bc.modules))
    return md, bc.modules * md


def render(lay: Layout, dpi: int = 203, unicode_font: str = DEFAULT_UNICODE_FONT) -> bytes:
    if lay.form != "label":
        raise UnsupportedFormat(f"{lay.title}: only thermal labels have a ZPL form (this is a {lay.form})")
    if dpi not in (203, 300):
        raise UnsupportedFormat(f"ZPL dpi must be 203 or 300, got {dpi}")
    f = dpi / MM_PER_INCH
    out: list[str] = []
    add = out.append
    for page in lay.pages:
        complex_text = any(type(el) is Text and _needs_unicode_font("".join(el.lines)) for el in page.elements)
        # ^PA0,1,1,0: bidirectional layout and character shaping (Arabic/Hebrew) for TrueType fonts
        add(f"^XA^CI28{'^PA0,1,1,0' if complex_text else ''}^PW{round(page.width * f)}"
            f"^LL{round(page.height * f)}^LH0,0\n")
        for el in page.elements:
            kind = type(el)
            x, y = round(el.x * f), round(el.y * f)
            if kind is Text:
                hd = max(10, round(el.size * f))
                joined = "".join(el.lines)
                font = f"^A@N,{hd},{hd},{unicode_font}" if _needs_unicode_font(joined) else f"^A0N,{hd},{hd}"
                gap = round(el.size * (LINE_GAP - 1) * f)
                data = "\\&".join([line.translate(_ESC) for line in el.lines])
                add(f"^FO{x},{y}{font}^FB{round(el.w * f)},{len(el.lines)},{gap},{el.align},0"
                    f"{'^FR' if el.reverse else ''}^FH^FD{data}^FS\n")
            elif kind is Box:
                w, h = max(1, round(el.w * f)), max(1, round(el.h * f))
                t = min(w, h) if el.fill else max(1, round(el.thickness * f))
                add(f"^FO{x},{y}^GB{w},{h},{t},B,0^FS\n")
            elif kind is Barcode:
                if el.kind in ("code128", "gs1-128"):
                    md, width = module_dots(el, dpi)
                    x += (dots(el.w, dpi) - width) // 2
                    add(f"^FO{x},{y}^BY{md}^BCN,{dots(el.h, dpi)},N,N,N^FH^FD{escape_field(el.zpl)}^FS\n")
                else:  # qr
                    mag = max(1, min(10, dots(el.w, dpi) // 33))
                    add(f"^FO{x},{y}^BQN,2,{mag}^FH^FDQA,{escape_field(el.data)}^FS\n")
            # Image: logos are printed on sheet/receipt forms only
        add("^XZ\n")
    return "".join(out).encode("ascii")
