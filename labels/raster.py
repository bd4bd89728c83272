"""Layout -> PNG drawn directly with Pillow: the fast preview (no PDF round trip, no subprocess).

Same layout, same fonts (DejaVu, CJK, Arabic shaping) and the same integer dot grid for Code 128
bars as the PDF/ZPL renderers, so a preview scans like the printed label.
"""
from __future__ import annotations

import io
import os
from functools import lru_cache

from labels import pdf as pdf_mod
from labels.core import zpl as zpl_core
from labels.core.errors import RenderError
from labels.core.model import LINE_GAP, MM_PER_INCH, Barcode, Box, Image, Layout, Text, dots


def _font_path(key: str) -> str | None:
    for d in pdf_mod.FONT_DIRS:
        p = os.path.join(d, pdf_mod.FONT_FILES[key])
        if os.path.exists(p):
            return p
    return None


@lru_cache(maxsize=256)
def _font(key: str, px: int):
    from PIL import ImageFont

    if key == "cjk":
        path = next((p for p in pdf_mod.CJK_FILES if os.path.exists(p)), None)
    else:
        path = _font_path(key)
    if path is None:
        return ImageFont.load_default(px)
    engine = ImageFont.Layout.RAQM if _raqm() else ImageFont.Layout.BASIC
    return ImageFont.truetype(path, px, layout_engine=engine)


@lru_cache(maxsize=1)
def _raqm() -> bool:
    """libraqm does bidi + shaping itself; without it we pre-shape like the PDF renderer."""
    from PIL import features

    return bool(features.check("raqm"))


@lru_cache(maxsize=64)
def _qr_modules(data: str) -> tuple[tuple[bool, ...], ...]:
    from reportlab.graphics.barcode.qr import QrCodeWidget

    w = QrCodeWidget(data)
    w.qr.make()
    return tuple(tuple(bool(m) for m in row) for row in w.qr.modules)


def _rgb(hexstr: str) -> tuple[int, int, int]:
    return int(hexstr[1:3], 16), int(hexstr[3:5], 16), int(hexstr[5:7], 16)


def _text(img, draw, el: Text, f: float) -> None:
    from PIL import Image as PILImage
    from PIL import ImageDraw

    key = ("fs-mono" if el.mono else "fs-sans") + ("-bold" if el.bold else "")
    px = max(4, round(el.size * f))
    color = (255, 255, 255) if el.reverse else _rgb(el.color)
    if img.mode == "L":
        color = round(0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2])
    box = el.w * f
    for i, line in enumerate(el.lines):
        font = _font("cjk" if pdf_mod._is_cjk(line) else key, px)
        if not _raqm():
            line = pdf_mod._visual(line)
        width = font.getlength(line)
        x = el.x * f
        baseline = (el.y + i * el.size * LINE_GAP + el.size * 0.92) * f
        if width <= box:
            if el.align == "C":
                x += (box - width) / 2
            elif el.align == "R":
                x += box - width
            draw.text((x, baseline), line, font=font, fill=color, anchor="ls")
            continue
        # wider than its box (real font wider than the estimate): squeeze horizontally, like the PDF
        tmp = PILImage.new("L", (int(width) + 2, int(px * 1.4)), 0)
        ImageDraw.Draw(tmp).text((0, px * 1.1), line, font=font, fill=255, anchor="ls")
        tmp = tmp.resize((max(1, int(box)), tmp.height))
        img.paste(PILImage.new(img.mode, tmp.size, color),
                  (int(x), int(baseline - px * 1.1)), tmp)


def _code128(draw, el: Barcode, f: float, grid: int, ink) -> None:
    from reportlab.graphics.barcode.code128 import _patterns

    md, width = zpl_core.module_dots(el, grid)
    scale = f * MM_PER_INCH / grid  # raster pixels per grid dot
    x_dot = dots(el.x, grid) + (dots(el.w, grid) - width) // 2
    y0, y1 = round(el.y * f), round((el.y + el.h) * f) - 1
    for pattern in [_patterns[v] for v in el.values] + [_patterns[106]]:
        for ch in pattern:
            n = (ord(ch.upper()) - 64) * md
            if ch.isupper():
                draw.rectangle([round(x_dot * scale), y0, round((x_dot + n) * scale) - 1, y1], fill=ink)
            x_dot += n


def _qr(draw, el: Barcode, f: float, ink) -> None:
    modules = _qr_modules(el.data)
    n = len(modules)
    size = el.w * f
    cell = size / n
    x0, y0 = el.x * f, el.y * f
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                draw.rectangle([round(x0 + c * cell), round(y0 + r * cell), round(x0 + (c + 1) * cell) - 1,
                                round(y0 + (r + 1) * cell) - 1], fill=ink)


def render_pages(lay: Layout, dpi: int):
    """One Pillow image per page: grey ('L') for labels and receipts, RGB for sheets."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    mode = "RGB" if lay.form == "sheet" else "L"
    white, black = ((255, 255, 255), (0, 0, 0)) if mode == "RGB" else (255, 0)
    grid = dpi if lay.form == "label" else lay.dpi_hint
    f = dpi / MM_PER_INCH
    pages = []
    for page in lay.pages:
        img = PILImage.new(mode, (round(page.width * f), round(page.height * f)), white)
        draw = ImageDraw.Draw(img)
        for el in page.elements:
            if isinstance(el, Text):
                _text(img, draw, el, f)
            elif isinstance(el, Box):
                color = _rgb(el.color) if mode == "RGB" else 0
                box = [round(el.x * f), round(el.y * f), round((el.x + el.w) * f) - 1, round((el.y + el.h) * f) - 1]
                if el.fill:
                    draw.rectangle(box, fill=color)
                else:
                    draw.rectangle(box, outline=color, width=max(1, round(el.thickness * f)))
            elif isinstance(el, Barcode):
                if el.kind in ("code128", "gs1-128"):
                    _code128(draw, el, f, grid, black)
                else:
                    _qr(draw, el, f, black)
            elif isinstance(el, Image):
                try:
                    with PILImage.open(el.path) as logo:
                        logo = logo.convert("RGBA")
                        logo.thumbnail((round(el.w * f), round(el.h * f)))
                        at = (round(el.x * f + (el.w * f - logo.width) / 2), round(el.y * f + (el.h * f - logo.height) / 2))
                        img.paste(logo.convert(mode), at, logo)
                except OSError as exc:
                    raise RenderError(f"{lay.title}: logo {el.path!r}: {exc}") from exc
        pages.append(img)
    return pages


def render_png(lay: Layout, dpi: int, max_pages: int = 4) -> bytes:
    from PIL import Image as PILImage

    pages = render_pages(lay, dpi)[:max_pages]
    if len(pages) == 1:
        out = pages[0]
    else:
        gap = 12
        grey = (160, 160, 160) if pages[0].mode == "RGB" else 160
        out = PILImage.new(pages[0].mode, (max(p.width for p in pages), sum(p.height for p in pages) + gap * (len(pages) - 1)),
                           grey)
        y = 0
        for p in pages:
            out.paste(p, (0, y))
            y += p.height + gap
    buf = io.BytesIO()
    out.save(buf, "PNG", compress_level=3)
    return buf.getvalue()
