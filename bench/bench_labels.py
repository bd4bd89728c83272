"""Label throughput on one core: shipping labels/s as ZPL (target >= 2,000/s) and PDF (>= 50/s).

Baselines, measured in the same run on the same fields:
- ZPL: bare f-string formatting of the label's fields into a fixed ZPL format (no layout, no fitting,
  no ^FH escaping) -- the floor cost of producing the bytes at all.
- PDF: a bare reportlab canvas drawing the same fields with drawString in Helvetica (no layout,
  no embedded fonts, no barcode).
- ESC/POS receipts: bare bytes concatenation of the same packing-slip lines.
- PNG preview (Pillow drawing the layout): the same preview through PDF + pdftoppm (``engine="pdf"``).

Usage: .venv/bin/python bench/bench_labels.py [--quick]
"""
from __future__ import annotations

import dataclasses
import io
import os
import time

from common import emit, parse_args

from labels import pdf as pdf_mod
from labels import render
from labels.core import samples


def rate(fn, items, seconds: float) -> float:
    """Calls per CPU-second of fn over items, cycling, for about ``seconds`` of wall time (bounded in
    count and time). CPU time of this single-threaded process = throughput of one core, which stays
    meaningful when other work shares the machine; subprocesses (pdftoppm) are counted via
    ``os.times`` children time."""
    fn(items[0])  # warm-up (font registration, imports)
    n, i = 0, 0
    t0 = os.times()
    deadline = time.perf_counter() + seconds
    while True:
        fn(items[i])
        n += 1
        i = (i + 1) % len(items)
        if n % 10 == 0 and time.perf_counter() >= deadline:
            break
        if n >= 2_000_000:
            break
    t1 = os.times()
    cpu = (t1.user - t0.user) + (t1.system - t0.system) + (t1.children_user - t0.children_user) + \
        (t1.children_system - t0.children_system)
    return n / max(cpu, 1e-9)


def docs(count: int):
    out = []
    for k in range(count):
        to = dataclasses.replace(samples.CUSTOMER, name=f"Customer {k} Ñandú-Øster", line1=f"{100 + k} Evergreen Terrace")
        out.append(samples.shipping(ship_to=to, tracking_number=f"1Z999AA1{k:010d}", order_ref=f"SO-{k:06d}",
                                    weight_g=500 + k))
    return out


def raw_zpl(d) -> bytes:
    t = d.ship_to
    return (f"^XA^CI28^FO24,24^A0N,18,18^FD{d.ship_from.name}^FS^FO64,287^A0N,44,44^FD{t.name}^FS"
            f"^FO64,339^A0N,37,37^FD{t.line1}^FS^FO64,384^A0N,37,37^FD{t.line2}^FS"
            f"^FO64,429^A0N,41,41^FD{t.city}, {t.region} {t.postal_code}^FS^FO514,55^A0N,68,68^FD{d.marker}^FS"
            f"^FO320,623^A0N,24,24^FDSHIP DATE: {d.ship_date}^FS^FO320,652^A0N,24,24^FDWEIGHT: {d.weight_g}^FS"
            f"^FO320,710^A0N,24,24^FDORDER: {d.order_ref}^FS^FO106,847^BY3^BCN,208,N,N,N^FD{d.tracking_number}^FS"
            f"^XZ").encode("utf-8")


def raw_pdf(d) -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(288, 432))
    y = 420
    for s in (d.ship_from.name, d.ship_to.name, d.ship_to.line1, d.ship_to.city_line(), d.marker, d.order_ref,
              d.tracking_number, str(d.weight_g), str(d.ship_date)):
        c.drawString(10, y, s)
        y -= 14
    c.showPage()
    c.save()
    return buf.getvalue()


def raw_escpos(d) -> bytes:
    parts = [b"\x1b@", f"Order {d.order_ref}\n".encode()]
    for ln in d.lines:
        parts.append(f"{ln.quantity} x {ln.sku}\n{ln.description}\n".encode("cp437", "replace"))
    parts.append(b"\x1dV\x00")
    return b"".join(parts)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    secs = 2.0 if args.quick else 6.0
    items = docs(200)
    zpl = rate(lambda d: render.to_zpl(d), items, secs)
    zpl_raw = rate(raw_zpl, items, secs)
    emit("shipping_label_zpl", zpl, "labels/s", zpl_raw, target=2000, dpi=203)
    zpl300 = rate(lambda d: render.to_zpl(d, dpi=300), items, secs / 2)
    emit("shipping_label_zpl_300dpi", zpl300, "labels/s", zpl_raw, target=2000, dpi=300)
    pdf = rate(lambda d: render.to_pdf(d), items, secs)
    pdf_raw = rate(raw_pdf, items, secs)
    emit("shipping_label_pdf", pdf, "labels/s", pdf_raw, target=50)
    slips = [samples.packing(order_ref=f"SO-{k:06d}") for k in range(50)]
    esc = rate(lambda d: render.to_escpos(d), slips, secs / 2)
    emit("packing_slip_escpos", esc, "receipts/s", rate(raw_escpos, slips, secs / 2))
    png = rate(lambda d: render.preview_png(d), items[:20], secs)
    png_pdf = rate(lambda d: render.preview_png(d, engine="pdf"), items[:20], secs)
    emit("shipping_label_preview_png", png, "previews/s", png_pdf, engine="pillow",
         baseline_is="the same preview via PDF + pdftoppm")
    assert pdf_mod.fonts()["fs-sans"] == "fs-sans"


if __name__ == "__main__":
    main()
