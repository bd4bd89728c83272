"""Layout -> a list of ESC/POS operations (pure); ``labels.render`` plays them on python-escpos.

Rows are rebuilt from the layout's positions: monospace text at ``RECEIPT_CHAR`` mm per column,
elements sharing a baseline merge into one line. Text is stripped of control characters here,
so nothing a customer types can become a printer command.
"""
from __future__ import annotations

import unicodedata

from .layouts import RECEIPT_CHAR, RECEIPT_SIZE
from .model import LINE_GAP, Barcode, Box, Image, Layout, Text

COLUMNS = 48


def strip_controls(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def plan(lay: Layout) -> list[tuple]:
    """Operations: ("text", line, bold, double, align) / ("barcode", data) / ("qr", data) / ("rule",)
    / ("image", path) / ("feed", n) / ("cut",)."""
    items: list[tuple[float, float, tuple]] = []
    for page in lay.pages:
        for el in page.elements:
            if isinstance(el, Text):
                double = el.size >= RECEIPT_SIZE * 1.5
                pitch = el.size * LINE_GAP
                for i, line in enumerate(el.lines):
                    items.append((round(el.y + i * pitch, 2), el.x, ("t", el, strip_controls(line), double)))
            elif isinstance(el, Barcode):
                items.append((round(el.y, 2), el.x, ("qr" if el.kind == "qr" else "barcode", el.data)))
            elif isinstance(el, Box) and el.h <= 1.0:
                items.append((round(el.y, 2), el.x, ("rule",)))
            elif isinstance(el, Image):
                items.append((round(el.y, 2), el.x, ("image", el.path)))
    items.sort(key=lambda it: (it[0], it[1]))
    ops: list[tuple] = []
    i = 0
    while i < len(items):
        y = items[i][0]
        row = []
        while i < len(items) and items[i][0] == y:
            row.append(items[i][2])
            i += 1
        texts = [r for r in row if r[0] == "t"]
        ops += [r for r in row if r[0] != "t"]
        if not texts:
            continue
        double = any(t[3] for t in texts)
        bold = any(t[1].bold for t in texts)
        cols = COLUMNS // 2 if double else COLUMNS
        if len(texts) == 1 and texts[0][1].align == "C":
            ops.append(("text", texts[0][2], bold, double, "center"))
            continue
        buf = [" "] * cols
        for _, el, line, dbl in texts:
            scale = 2 if double else 1
            start = int(round(el.x / RECEIPT_CHAR / scale))
            width = int(round(el.w / RECEIPT_CHAR / scale))
            if el.align == "R":
                start = max(start, start + width - len(line))
            for k, ch in enumerate(line):
                if 0 <= start + k < cols:
                    buf[start + k] = ch
        ops.append(("text", "".join(buf).rstrip(), bold, double, "left"))
    ops += [("feed", 3), ("cut",)]
    return ops
