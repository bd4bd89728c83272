"""Text preview of an ESC/POS byte stream: printable text kept, commands skipped, cuts counted.

Covers the commands receipt/label jobs use (ESC @ ! E - a d J M t 2 3 G, GS ! V B H h w k v0
( k, FS p, DLE EOT); unknown ESC/GS sequences skip their command byte only.
"""
from __future__ import annotations

from dataclasses import dataclass

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
# number of parameter bytes after ESC <cmd> / GS <cmd>
_ESC_ARGS = {0x40: 0, 0x21: 1, 0x45: 1, 0x2D: 1, 0x61: 1, 0x64: 1, 0x4A: 1, 0x4D: 1, 0x74: 1,
             0x32: 0, 0x33: 1, 0x47: 1, 0x52: 1, 0x7B: 1, 0x56: 1, 0x20: 1, 0x70: 3, 0x63: 2, 0x24: 2}
_GS_ARGS = {0x21: 1, 0x42: 1, 0x48: 1, 0x68: 1, 0x77: 1, 0x66: 1, 0x4C: 2, 0x57: 2, 0x61: 1, 0x49: 1, 0x72: 1}


@dataclass(frozen=True)
class EscposPreview:
    text: str
    cuts: int
    barcodes: tuple[str, ...]


def escpos_preview(data: bytes) -> EscposPreview:
    out = bytearray()
    cuts = 0
    barcodes: list[str] = []
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == ESC and i + 1 < n:
            cmd = data[i + 1]
            i += 2 + _ESC_ARGS.get(cmd, 0)
            if cmd == 0x64:  # ESC d n: feed n lines
                out += b"\n" * (data[i - 1] if i - 1 < n else 0)
            continue
        if b == GS and i + 1 < n:
            cmd = data[i + 1]
            if cmd == 0x56:  # GS V m [n]
                cuts += 1
                m = data[i + 2] if i + 2 < n else 0
                i += 3 + (1 if m in (65, 66, 97, 98, 103, 104) else 0)
                continue
            if cmd == 0x6B and i + 2 < n:  # GS k m ...
                m = data[i + 2]
                if m <= 6:  # NUL terminated
                    end = data.find(b"\x00", i + 3)
                    end = n if end < 0 else end
                    barcodes.append(data[i + 3:end].decode("latin-1"))
                    i = end + 1
                elif i + 3 < n:
                    ln = data[i + 3]
                    barcodes.append(data[i + 4:i + 4 + ln].decode("latin-1"))
                    i += 4 + ln
                else:
                    i = n
                continue
            if cmd == 0x76 and i + 7 < n:  # GS v 0 m xL xH yL yH raster
                w = data[i + 4] + 256 * data[i + 5]
                h = data[i + 6] + 256 * data[i + 7]
                i += 8 + w * h
                continue
            if cmd == 0x28 and i + 4 < n:  # GS ( k pL pH ...
                ln = data[i + 3] + 256 * data[i + 4]
                i += 5 + ln
                continue
            i += 2 + _GS_ARGS.get(cmd, 0)
            continue
        if b == FS and i + 1 < n:
            i += 2
            continue
        if b == DLE and i + 2 < n and data[i + 1] == 0x04:
            i += 3
            continue
        if b in (0x0A, 0x09) or 0x20 <= b:
            out.append(b)
        i += 1
    text = out.decode("utf-8", errors="replace")
    return EscposPreview(text=text, cuts=cuts, barcodes=tuple(barcodes))
