"""Layout -> PDF with reportlab (and the fonts/barcodes it needs). Used by ``labels.render``."""
from __future__ import annotations

import io
import os
import unicodedata

from labels.core import zpl as zpl_core
from labels.core.errors import RenderError
from labels.core.model import LINE_GAP, MM_PER_INCH, Barcode, Box, Image, Layout, Text, dots

PT = 72.0 / MM_PER_INCH  # points per mm
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")
FONT_FILES = {
    "fs-sans": "DejaVuSansCondensed.ttf", "fs-sans-bold": "DejaVuSansCondensed-Bold.ttf",
    "fs-mono": "DejaVuSansMono.ttf", "fs-mono-bold": "DejaVuSansMono-Bold.ttf",
}
FALLBACK = {"fs-sans": "Helvetica", "fs-sans-bold": "Helvetica-Bold", "fs-mono": "Courier",
            "fs-mono-bold": "Courier-Bold"}
CJK_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CID_FALLBACK = "STSong-Light"  # reportlab's built-in CID font: correct PDF, needs a CJK font in the viewer
_fonts: dict[str, str] | None = None


def fonts() -> dict[str, str]:
    """Register the TrueType fonts once (first use, not import); fall back to the base-14 fonts."""
    global _fonts
    if _fonts is None:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        names = {}
        for key, filename in FONT_FILES.items():
            path = next((os.path.join(d, filename) for d in FONT_DIRS if os.path.exists(os.path.join(d, filename))), None)
            if path:
                pdfmetrics.registerFont(TTFont(key, path))
                names[key] = key
            else:
                names[key] = FALLBACK[key]
        _fonts = names
    return _fonts


def cjk_font() -> str:
    """A font with CJK glyphs, registered on first need (the TrueType collection is large)."""
    f = fonts()
    if "cjk" not in f:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        from reportlab.pdfbase.ttfonts import TTFont

        path = next((p for p in CJK_FILES if os.path.exists(p)), None)
        if path:
            pdfmetrics.registerFont(TTFont("fs-cjk", path, subfontIndex=0))
            f["cjk"] = "fs-cjk"
        else:
            pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
            f["cjk"] = CID_FALLBACK
    return f["cjk"]


def _is_cjk(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in text)


def _visual(line: str) -> str:
    """Right-to-left scripts: join Arabic letters and reorder for display (logical order stays in data)."""
    if not any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in line):
        return line
    global _reshaper
    try:
        import arabic_reshaper
        from arabic_reshaper import ligatures
        from bidi import get_display
    except ImportError:  # pragma: no cover - both are install_requires
        return line
    if _reshaper is None:
        # letter ligatures (lam-alef) only: word/sentence ligatures (e.g. U+FDF2) are missing from DejaVu
        off = {name: False for name, _ in (*ligatures.SENTENCES_LIGATURES, *ligatures.WORDS_LIGATURES)}
        _reshaper = arabic_reshaper.ArabicReshaper(configuration=off)
    return get_display(_reshaper.reshape(line))


_reshaper = None


def _color(hexstr: str):
    from reportlab.lib.colors import HexColor

    return HexColor(hexstr)


def _draw_text(c, el: Text, page_h: float) -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    f = fonts()
    key = ("fs-mono" if el.mono else "fs-sans") + ("-bold" if el.bold else "")
    size = el.size * PT
    c.setFillColor(_color("#FFFFFF") if el.reverse else _color(el.color))
    for i, line in enumerate(el.lines):
        font = cjk_font() if _is_cjk(line) else f[key]
        line = _visual(line)
        width = stringWidth(line, font, size)
        box = el.w * PT
        scale = min(1.0, box / width) if width else 1.0
        drawn = width * scale
        x = el.x * PT
        if el.align == "C":
            x += (box - drawn) / 2
        elif el.align == "R":
            x += box - drawn
        baseline = page_h - (el.y + i * el.size * LINE_GAP + el.size * 0.92) * PT
        t = c.beginText(x, baseline)
        t.setFont(font, size)
        if scale < 1.0:
            t.setHorizScale(scale * 100)
        t.textOut(line)
        c.drawText(t)


def _draw_code128(c, el: Barcode, page_h: float, grid_dpi: int) -> None:
    from reportlab.graphics.barcode.code128 import _patterns

    md, width = zpl_core.module_dots(el, grid_dpi)
    dot = 72.0 / grid_dpi
    module = md * dot
    # the same integer dot grid as the ZPL (^FO x + centring), so bars land on whole printer dots
    x = (dots(el.x, grid_dpi) + (dots(el.w, grid_dpi) - width) // 2) * dot
    y = page_h - (el.y + el.h) * PT
    h = el.h * PT
    c.setFillColor(_color("#000000"))
    for pattern in [_patterns[v] for v in el.values] + [_patterns[106]]:
        for ch in pattern:
            n = ord(ch.upper()) - ord("A") + 1
            if ch.isupper():
                c.rect(x, y, n * module, h, stroke=0, fill=1)
            x += n * module


def _draw_matrix(c, el: Barcode, page_h: float) -> None:
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode import createBarcodeDrawing

    size = el.w * PT
    d = createBarcodeDrawing("QR", value=el.data, width=size, height=size, barBorder=0)
    renderPDF.draw(d, c, el.x * PT, page_h - el.y * PT - size)


def render(lay: Layout, dpi: int = 203) -> bytes:
    from reportlab.pdfgen import canvas as rl_canvas

    grid = dpi if lay.form == "label" else lay.dpi_hint
    buf = io.BytesIO()
    first = lay.pages[0]
    c = rl_canvas.Canvas(buf, pagesize=(first.width * PT, first.height * PT), pageCompression=1,
                         invariant=1)
    c.setTitle(lay.title)
    c.setAuthor("floorsync")
    try:
        for page in lay.pages:
            H = page.height * PT
            c.setPageSize((page.width * PT, H))
            for el in page.elements:
                if isinstance(el, Text):
                    _draw_text(c, el, H)
                elif isinstance(el, Box):
                    c.setFillColor(_color(el.color))
                    c.setStrokeColor(_color(el.color))
                    if el.fill:
                        c.rect(el.x * PT, H - (el.y + el.h) * PT, el.w * PT, el.h * PT, stroke=0, fill=1)
                    else:
                        c.setLineWidth(el.thickness * PT)
                        c.rect(el.x * PT, H - (el.y + el.h) * PT, el.w * PT, el.h * PT, stroke=1, fill=0)
                elif isinstance(el, Barcode):
                    if el.kind in ("code128", "gs1-128"):
                        _draw_code128(c, el, H, grid)
                    else:
                        _draw_matrix(c, el, H)
                elif isinstance(el, Image):
                    c.drawImage(el.path, el.x * PT, H - (el.y + el.h) * PT, el.w * PT, el.h * PT,
                                preserveAspectRatio=True, anchor="c", mask="auto")
            c.showPage()
        c.save()
    except (OSError, ValueError, KeyError) as exc:
        raise RenderError(f"{lay.title}: PDF rendering failed: {exc}") from exc
    return buf.getvalue()
