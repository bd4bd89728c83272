"""Code 128 / GS1-128 encoding into symbol values, plus the same symbol as ZPL ``^BC`` mode-N data.

One encoder serves both renderers: the PDF renderer draws the values' bar patterns and the ZPL
renderer sends the identical subset choices as invocation codes, so a real decoder reading the
PDF also vouches for the ZPL.
"""
from __future__ import annotations

from .errors import BarcodeDataError

START_B, START_C, CODE_B, CODE_C, FNC1 = 104, 105, 100, 99, 102
GS = "\x1d"  # FNC1 separator inside GS1 element strings
MAX_DATA = 80


def _digit_run(data: str, i: int) -> int:
    n = 0
    while i + n < len(data) and data[i + n].isdigit():
        n += 1
    return n


def encode(data: str, gs1: bool = False) -> tuple[tuple[int, ...], str]:
    """Return ``(values, zpl)``: symbol values (start .. check digit, no stop) and ZPL field data.

    ``data`` is printable ASCII; for GS1-128 it is the element string with ``GS`` between a
    variable-length field and the next AI. Raises :class:`BarcodeDataError` for other characters.
    """
    if not data:
        raise BarcodeDataError("barcode data is empty")
    if len(data) > MAX_DATA:
        raise BarcodeDataError(f"barcode data longer than {MAX_DATA} characters")
    for ch in data:
        if not (32 <= ord(ch) <= 126 or (gs1 and ch == GS)):
            raise BarcodeDataError(f"character {ch!r} cannot be encoded in Code 128 subset B")
    values: list[int] = []
    zpl: list[str] = []
    i = 0
    subset = ""
    first = True
    while i < len(data):
        ch = data[i]
        if ch == GS:
            values.append(FNC1)
            zpl.append(">8")
            i += 1
            continue
        run = _digit_run(data, i)
        # subset C pays off for 4+ digits at start/end, 6+ in the middle
        use_c = run >= 4 and (first or i + run == len(data) or run >= 6)
        if use_c:
            n = run - (run % 2)
            if subset != "C":
                values.append(START_C if first else CODE_C)
                zpl.append(">;" if first else ">5")
                subset = "C"
                if first and gs1:
                    values.append(FNC1)
                    zpl.append(">8")
                first = False
            for k in range(i, i + n, 2):
                values.append(int(data[k:k + 2]))
                zpl.append(data[k:k + 2])
            i += n
            continue
        if subset != "B":
            values.append(START_B if first else CODE_B)
            zpl.append(">:" if first else ">6")
            subset = "B"
            if first and gs1:
                values.append(FNC1)
                zpl.append(">8")
            first = False
        values.append(ord(ch) - 32)
        zpl.append({">": ">0", "^": "><", "~": ">="}.get(ch, ch))
        i += 1
    check = values[0]
    for pos, v in enumerate(values[1:], start=1):
        check += pos * v
    values.append(check % 103)
    return tuple(values), "".join(zpl)


def decode_values(values: tuple[int, ...]) -> str:
    """Inverse of :func:`encode` for the values it produces (FNC1 after the start -> "", later -> GS)."""
    out = []
    subset = "C" if values[0] == START_C else "B"
    for pos, v in enumerate(values[1:-1], start=1):
        if v == FNC1:
            if pos > 1:
                out.append(GS)
        elif subset == "C":
            if v == CODE_B:
                subset = "B"
            else:
                out.append(f"{v:02d}")
        elif v == CODE_C:
            subset = "C"
        else:
            out.append(chr(v + 32))
    return "".join(out)
