"""Render documents: ``to_zpl``, ``to_escpos``, ``to_pdf``, ``preview_png`` -- one layout, four outputs.

Each takes a document from ``labels.documents`` and an optional merchant ``template``
(``labels.templates.load_template``); ``form`` picks a layout for documents that have several
(packing slip: ``sheet`` or ``receipt``).
"""
from __future__ import annotations

import contextlib
import io
import subprocess
import tempfile

from labels.core import escpos_plan, layouts
from labels.core import zpl as zpl_core
from labels.core.errors import LabelError, RenderError, UnsupportedFormat
from labels.core.template import Template


def to_zpl(doc, dpi: int = 203, template: Template | None = None,
           unicode_font: str = zpl_core.DEFAULT_UNICODE_FONT) -> bytes:
    """ZPL II (``^XA``..``^XZ`` per label, ``^CI28``, every field through ``^FH``)."""
    return zpl_core.render(layouts.layout(doc, template, "label"), dpi=dpi, unicode_font=unicode_font)


def to_pdf(doc, template: Template | None = None, form: str | None = None, dpi: int = 203) -> bytes:
    from labels import pdf

    return pdf.render(layouts.layout(doc, template, form), dpi=dpi)


def _escpos_form(doc, form: str | None) -> str:
    available = layouts.forms(doc)
    if form:
        return form
    return "receipt" if "receipt" in available else available[0]


def to_escpos(doc, template: Template | None = None, form: str | None = None) -> bytes:
    """ESC/POS bytes through python-escpos (its ``Dummy`` printer collects them)."""
    from escpos.exceptions import Error as EscposError
    from escpos.printer import Dummy

    lay = layouts.layout(doc, template, _escpos_form(doc, form))
    if lay.form == "sheet":
        raise UnsupportedFormat(f"{lay.title}: letter/A4 documents print as PDF, not ESC/POS")
    p = Dummy()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # python-escpos prints its renderer choice
            _play(p, escpos_plan.plan(lay))
    except (EscposError, OSError, ValueError) as exc:
        raise RenderError(f"{lay.title}: ESC/POS rendering failed: {exc}") from exc
    return p.output


def _play(p, ops: list[tuple]) -> None:
    p.hw("INIT")
    for op in ops:
        kind = op[0]
        if kind == "text":
            _, line, bold, double, align = op
            p.set(align=align, bold=bold, double_width=double, double_height=double, normal_textsize=not double)
            p.text(line + "\n")
        elif kind == "barcode":
            p.set(align="center", bold=False, normal_textsize=True)
            p.barcode("{B" + op[1].replace("{", "{{"), "CODE128", height=80, width=2, pos="OFF",
                      function_type="B", check=False)
        elif kind == "qr":
            p.qr(op[1], size=6, native=True)
        elif kind == "rule":
            p.set(align="left", bold=False, normal_textsize=True)
            p.text("-" * escpos_plan.COLUMNS + "\n")
        elif kind == "image":
            p.image(op[1], center=True)
        elif kind == "feed":
            p.ln(op[1])
        elif kind == "cut":
            p.cut()


def pdf_to_png(pdf: bytes, dpi: int, max_pages: int = 4, gray: bool = True) -> bytes:
    """Rasterise with poppler's pdftoppm; several pages are stacked vertically."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="floorsync-preview-") as tmp:
        src = f"{tmp}/doc.pdf"
        with open(src, "wb") as fh:
            fh.write(pdf)
        try:
            subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", "1", "-l", str(max_pages), src, f"{tmp}/p"],
                           check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RenderError(f"pdftoppm failed: {exc}") from exc
        import glob

        files = sorted(glob.glob(f"{tmp}/p*.png"))
        if not files:
            raise RenderError("pdftoppm produced no page")
        pages = [Image.open(f) for f in files]
        if gray:  # thermal labels are monochrome: 8-bit grey PNGs are a third of the size
            pages = [p.convert("L") for p in pages]
        if len(pages) == 1:
            buf = io.BytesIO()
            pages[0].save(buf, "PNG")
            return buf.getvalue()
        gap = 12
        out = Image.new(pages[0].mode, (max(p.width for p in pages), sum(p.height for p in pages) + gap * (len(pages) - 1)),
                        160 if pages[0].mode == "L" else (160, 160, 160))
        y = 0
        for p in pages:
            out.paste(p, (0, y))
            y += p.height + gap
        buf = io.BytesIO()
        out.save(buf, "PNG")
        return buf.getvalue()


def preview_png(doc, dpi: int = 203, template: Template | None = None, form: str | None = None,
                engine: str = "pillow") -> bytes:
    """PNG preview from the same layout. Sheets preview at ``min(dpi, 150)`` (their barcodes sit on a
    150 dpi grid). ``engine="pillow"`` draws the layout directly (fast, ~10-50 ms a label);
    ``engine="pdf"`` rasterises the PDF with pdftoppm (slower; byte-for-byte what a PDF viewer shows)."""
    lay = layouts.layout(doc, template, form)
    raster_dpi = dpi if lay.form != "sheet" else min(dpi, 150)
    if engine == "pillow":
        from labels import raster

        return raster.render_png(lay, raster_dpi)
    if engine != "pdf":
        raise UnsupportedFormat(f"preview engine must be 'pillow' or 'pdf', got {engine!r}")
    from labels import pdf

    return pdf_to_png(pdf.render(lay, dpi=dpi), raster_dpi, gray=lay.form != "sheet")


__all__ = ["to_zpl", "to_pdf", "to_escpos", "preview_png", "pdf_to_png", "LabelError"]
