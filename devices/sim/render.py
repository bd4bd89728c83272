"""Render what a ZPL simulator received as a PNG (boxes, text at ^FO with its ^A height,
barcodes as bars with their human-readable line). A faithful-enough preview, not a Zebra."""
from __future__ import annotations

import io
import zlib

from PIL import Image, ImageDraw, ImageFont

from devices.core.zpl import Barcode, Box, Label, Text


def _font(height: int):
    return ImageFont.load_default(size=max(8, int(height * 0.9)))


def render_png(label: Label) -> bytes:
    width = max(50, min(label.width, 3000))
    length = max(50, min(label.length, 6000))
    img = Image.new("L", (width, length), 255)
    draw = ImageDraw.Draw(img)
    for el in label.elements:
        if isinstance(el, Box):
            t = max(1, el.thickness)
            x2, y2 = el.x + max(el.width, t) - 1, el.y + max(el.height, t) - 1
            if el.width <= t or el.height <= t:
                draw.rectangle([el.x, el.y, x2, y2], fill=0)
            else:
                draw.rectangle([el.x, el.y, x2, y2], outline=0, width=t)
        elif isinstance(el, Text):
            draw.text((el.x, el.y), el.text, fill=0, font=_font(el.height))
        elif isinstance(el, Barcode):
            x = el.x
            seed = zlib.crc32(el.data.encode("utf-8", "replace"))
            bits = []
            for ch in el.data.encode("utf-8", "replace"):
                v = (ch * 2654435761 + seed) & 0xFFFF
                bits += [(v >> k) & 1 for k in range(11)]
            m = max(1, el.module)
            if el.symbology in ("BQ", "BX", "B0"):  # 2-D: a square of modules
                side = max(10, int(len(bits) ** 0.5))
                for i, b in enumerate(bits[: side * side]):
                    if b:
                        cx, cy = el.x + (i % side) * m * 2, el.y + (i // side) * m * 2
                        draw.rectangle([cx, cy, cx + m * 2 - 1, cy + m * 2 - 1], fill=0)
                continue
            draw.rectangle([x, el.y, x + 2 * m - 1, el.y + el.height], fill=0)
            x += 3 * m
            for b in bits:
                if b:
                    draw.rectangle([x, el.y, x + m - 1, el.y + el.height], fill=0)
                x += m
            draw.rectangle([x, el.y, x + 2 * m - 1, el.y + el.height], fill=0)
            draw.text((el.x, el.y + el.height + 4), el.data, fill=0, font=_font(20))
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False)
    return out.getvalue()
