"""One layout per document, in millimetres; every renderer draws these elements.

``layout(doc, template, form=None)`` returns a :class:`Layout`. Thermal labels have one form
(``label``); packing slips have ``sheet`` (letter/A4 per template) and ``receipt`` (80 mm
ESC/POS); pick lists, manifests and commercial invoices are ``sheet`` only.
Text is wrapped/shrunk here so it stays inside its box (see ``textfit``).
"""
from __future__ import annotations

from . import code128, gs1
from .documents import (
    Address, BinLabel, Cn22, CommercialInvoice, Manifest, PackingSlip, PickList, ShippingLabel,
    SkuLabel, SsccLabel, ToteLabel, date_text, weight_text,
)
from .errors import LayoutError, UnsupportedFormat
from .model import LINE_GAP, MM_PER_INCH, Barcode, Box, Image, Layout, Page, Text
from .template import DEFAULT_TEMPLATE, Template
from .textfit import clean, fit_size, text_width, wrap

LABEL_4X6 = (101.6, 152.4)
LABEL_4X2 = (101.6, 50.8)
LABEL_SKU = (57.15, 31.75)
LABEL_CN22 = (74.0, 105.0)
PAPER = {"letter": (215.9, 279.4), "a4": (210.0, 297.0)}
RECEIPT_WIDTH = 576 * MM_PER_INCH / 203  # printable width of 80 mm paper: 576 dots at 203 dpi (72.07 mm)
RECEIPT_CHAR = RECEIPT_WIDTH / 48  # mm per column: 48 columns of ESC/POS font A (12 dots)
RECEIPT_SIZE = RECEIPT_CHAR / 0.6
MIN_MODULE_MM = MM_PER_INCH / 203  # one dot on a 203 dpi head


class Canvas:
    """Collects elements for one page; helpers return the y below what they drew."""

    def __init__(self, width: float, height: float):
        self.width, self.height = width, height
        self.elements: list = []

    def text(self, x, y, w, text, size, *, bold=False, max_lines=1, align="L", reverse=False,
             mono=False, name="", color="#000000", min_size=None, keep=False) -> float:
        """Draw ``text`` in a box ``w`` wide. ``keep``: an identifier -- shrink it until it fits on one
        line, never cut it (a truncated order or tracking number is worse than small print)."""
        text = clean(text)
        if not text:
            return y
        if keep:
            full = text_width(text, 1.0, bold, mono)
            size = min(size, w / full * 0.999) if full else size
        elif min_size is not None:
            size = fit_size(text, w, size, min_size, bold=bold, mono=mono)
        if text_width(text, size, bold, mono) <= w:  # the common case: one line, as is
            lines: tuple[str, ...] = (text,)
        else:
            lines = wrap(text, w, size, bold=bold, mono=mono, max_lines=max_lines)
        self.elements.append(Text(x, y, w, size, lines, bold, align, reverse, mono, color, name))
        return y + size * LINE_GAP * len(lines)

    def box(self, x, y, w, h, *, thickness=0.5, fill=False, color="#000000", name="") -> None:
        self.elements.append(Box(x, y, w, h, thickness, fill, color, name))

    def hline(self, y, x=None, w=None, thickness=0.5) -> None:
        x = 3.0 if x is None else x
        w = self.width - 2 * x if w is None else w
        self.elements.append(Box(x, y, w, thickness, 0, True))

    def barcode(self, x, y, w, h, data, *, gs1_data=False, hri="", name="") -> float:
        values, zpl = code128.encode(data, gs1=gs1_data)
        el = Barcode(x=x, y=y, w=w, h=h, kind="gs1-128" if gs1_data else "code128", data=data,
                     values=values, zpl=zpl, hri=hri, name=name)
        if el.modules * MIN_MODULE_MM > w:
            raise LayoutError(f"{name or 'barcode'} {data!r} needs {el.modules} modules, wider than {w:.1f} mm")
        self.elements.append(el)
        return y + h

    def matrix(self, x, y, size, data, *, name="") -> float:
        """A QR code. (Not DataMatrix: reportlab's ECC200 encoder appends a NUL to some inputs.)"""
        self.elements.append(Barcode(x=x, y=y, w=size, h=size, kind="qr", data=data, name=name))
        return y + size

    def image(self, x, y, w, h, path, name="") -> None:
        self.elements.append(Image(x, y, w, h, path, name))

    def page(self) -> Page:
        return Page(self.width, self.height, tuple(self.elements))


def _address(c: Canvas, x, y, w, addr: Address, *, size, name_size=None, name_lines=2, max_street=4,
             bold_city=False, prefix="") -> float:
    name_size = name_size or size
    y = c.text(x, y, w, addr.name, name_size, bold=True, max_lines=name_lines, name=f"{prefix}name")
    street = addr.lines()
    per = 2 if len(street) <= max_street // 2 else 1
    for i, line in enumerate(street[:max_street]):
        y = c.text(x, y, w, line, size, max_lines=per, name=f"{prefix}street{i}")
    y = c.text(x, y, w, addr.city_line(), size * (1.1 if bold_city else 1), bold=bold_city, min_size=size * 0.75,
               name=f"{prefix}city")
    if addr.country:
        y = c.text(x, y, w, addr.country, size, name=f"{prefix}country")
    return y


def _group(s: str, n: int = 4) -> str:
    return " ".join(s[i:i + n] for i in range(0, len(s), n))


# ---------------------------------------------------------------- thermal labels

def shipping_label(doc: ShippingLabel, t: Template) -> Layout:
    W, H = LABEL_4X6
    c = Canvas(W, H)
    show = lambda name: t.shows("shipping_label", name)  # noqa: E731
    if show("ship_from"):
        origin = t.return_address or doc.ship_from
        y = c.text(3, 3, 58, "FROM:", 2.2, bold=True, name="from_title")
        y = _address(c, 3, y, 58, origin, size=2.6, name_size=2.8, name_lines=1, max_street=2, prefix="from_")
    c.box(63, 3, 35.6, 18, thickness=0, fill=True, name="marker_box")
    msize = fit_size(doc.marker, 33, 9, 4, bold=True)
    c.text(64.3, 3 + (18 - msize * LINE_GAP) / 2, 33, doc.marker, msize, bold=True, align="C", reverse=True,
           name="marker")
    c.text(63, 22.5, 35.6, f"{doc.carrier} {doc.service}", 2.6, bold=True, max_lines=2, align="C", name="service")
    c.hline(31)
    y = c.text(3, 33, 40, "SHIP TO:", 2.4, bold=True, name="to_title")
    for scale in (1.3, 1.15, 1.0):  # the largest ship-to block that fits above the zone row
        trial = Canvas(W, H)
        if _address(trial, 8, y, 90, doc.ship_to, size=3.6 * scale, name_size=4.2 * scale, bold_city=True,
                    prefix="to_") <= 74.5 or scale == 1.0:
            c.elements += trial.elements
            break
    c.hline(76)
    if show("zone") and (doc.zone or doc.route):
        c.box(3, 78, 34, 20, thickness=0, fill=True, name="zone_box")
        zsize = fit_size(doc.zone or doc.route, 32, 9, 3, bold=True)
        c.text(4, 79, 32, doc.zone or doc.route, zsize, bold=True, align="C", reverse=True, name="zone")
        if doc.zone and doc.route:
            c.text(4, 91.5, 32, f"ROUTE {doc.route}", 3.4, bold=True, align="C", reverse=True, name="route")
    y = 78.0
    rows = [
        ("date", "SHIP DATE", date_text(doc.ship_date), False),
        ("weight", "WEIGHT", weight_text(doc.weight_g), False),
        ("carton", "CARTON", doc.carton, False),
        ("order_ref", "ORDER", doc.order_ref, True),
        ("shipment_ref", "SHIPMENT", doc.shipment_ref, False),
    ]
    for key, label, value, bold in rows:
        if value and show(key):
            y = c.text(40, y, 58.6, f"{label}: {value}", 3.0, bold=bold, keep=True, name=key)
    c.hline(100)
    c.text(3, 102, 60, f"{doc.carrier.upper()} TRACKING #", 2.4, bold=True, name="tracking_title")
    c.barcode(3, 106, W - 6, 26, doc.tracking_number, hri=doc.tracking_number, name="tracking_barcode")
    c.text(3, 133.5, W - 6, _group(doc.tracking_number), 3.6, bold=True, align="C", min_size=2.4,
           name="tracking_hri")
    c.hline(140)
    footer = f"Shipped by {t.brand_name}" if t.brand_name else ""
    c.text(3, 142.5, W - 6, footer, 2.6, align="C", name="footer")
    return Layout("label", f"Shipping label {doc.tracking_number}", (c.page(),))


def sscc_label(doc: SsccLabel, t: Template) -> Layout:
    W, H = LABEL_4X6
    c = Canvas(W, H)
    show = lambda name: t.shows("sscc_label", name)  # noqa: E731
    if show("ship_from"):
        y = c.text(3, 3, 46, "FROM", 2.2, bold=True, name="from_title")
        _address(c, 3, y, 46, t.return_address or doc.ship_from, size=2.5, name_lines=1, max_street=2, prefix="from_")
    y = c.text(52, 3, 46.6, "TO", 2.2, bold=True, name="to_title")
    _address(c, 52, y, 46.6, doc.ship_to, size=2.6, name_size=3.0, name_lines=1, max_street=2, prefix="to_")
    c.hline(33)
    y = 35.0
    if doc.carrier and show("carrier"):
        y = c.text(3, y, 60, f"CARRIER: {doc.carrier}", 3.0, bold=True, name="carrier")
    if doc.po_number:
        y = c.text(3, y, 60, f"PO: {doc.po_number}", 3.0, keep=True, name="po")
    if doc.carton_of and show("carton_of"):
        c.text(64, 35, 34.6, doc.carton_of, 5, bold=True, align="R", min_size=3, name="carton_of")
    c.hline(47)
    if doc.ship_to_postal:
        data, hri = gs1.element_string([("420", doc.ship_to_postal)])
        c.text(3, 49, 60, "SHIP TO POSTAL CODE", 2.2, bold=True, name="postal_title")
        c.barcode(3, 52.5, W - 6, 15, data, gs1_data=True, hri=hri, name="postal_barcode")
        c.text(3, 68.5, W - 6, hri, 3.0, align="C", name="postal_hri")
    c.hline(74)
    pairs = doc.content_pairs
    if pairs:
        y = 76.0
        labels = {"02": "CONTENT GTIN", "37": "COUNT", "400": "PO"}
        for ai, value in pairs:
            y = c.text(3, y, W - 6, f"{labels[ai]} ({ai}): {value}", 2.8, name=f"ai{ai}")
        data, hri = gs1.element_string(pairs)
        c.barcode(3, 87.5, W - 6, 15, data, gs1_data=True, hri=hri, name="content_barcode")
        c.text(3, 103.5, W - 6, hri, 2.8, align="C", min_size=2, name="content_hri")
    c.hline(109)
    c.text(3, 111, 40, "SSCC", 2.4, bold=True, name="sscc_title")
    c.text(3, 115, W - 6, gs1.sscc_hri(doc.sscc), 4.2, bold=True, align="C", name="sscc_hri")
    data, hri = gs1.element_string([("00", doc.sscc)])
    c.barcode(3, 121.5, W - 6, 27, data, gs1_data=True, hri=hri, name="sscc_barcode")
    return Layout("label", f"SSCC {doc.sscc}", (c.page(),))


def bin_label(doc: BinLabel, t: Template) -> Layout:
    W, H = LABEL_4X2
    c = Canvas(W, H)
    c.text(3, 2.5, W - 6, doc.location, 14, bold=True, align="C", keep=True, name="location")
    parts = [f"{k} {v}" for k, v in (("ZONE", doc.zone), ("AISLE", doc.aisle), ("BAY", doc.bay),
                                     ("LEVEL", doc.level), ("POS", doc.position)) if v]
    c.text(3, 20.5, W - 6, " \u00b7 ".join(parts), 3.0, align="C", min_size=2.2, name="parts")
    c.barcode(3, 25.5, W - 6, 22, doc.location, hri=doc.location, name="location_barcode")
    return Layout("label", f"Bin {doc.location}", (c.page(),))


def sku_label(doc: SkuLabel, t: Template) -> Layout:
    W, H = LABEL_SKU
    c = Canvas(W, H)
    c.text(2, 1.5, W - 4, doc.description, 2.4, max_lines=2, name="description")
    try:
        c.barcode(2, 8, W - 4, 11.5, doc.sku, hri=doc.sku, name="sku_barcode")
        c.text(2, 20.2, W - 4, doc.sku, 3.2, bold=True, align="C", keep=True, name="sku")
    except LayoutError:  # too long for a linear symbol on 2.25 in: a QR code beside the text
        c.matrix(2, 8, 16, doc.sku, name="sku_qr")
        c.text(20, 9, W - 22, doc.sku, 3.2, bold=True, max_lines=3, name="sku")
    extra = "  ".join(p for p in (f"GTIN {doc.gtin}" if doc.gtin else "", f"LOT {doc.lot}" if doc.lot else "",
                                  f"EXP {doc.expiry}" if doc.expiry else "") if p)
    c.text(2, 25, W - 4, extra, 2.1, align="C", min_size=1.6, name="extra")
    return Layout("label", f"SKU {doc.sku}", (c.page(),))


def tote_label(doc: ToteLabel, t: Template) -> Layout:
    W, H = LABEL_4X2
    c = Canvas(W, H)
    c.text(3, 2, W - 6, "TOTE", 3.0, bold=True, name="title")
    c.text(3, 6, 74, doc.tote_id, 15, bold=True, align="C", keep=True, name="tote_id")
    c.matrix(81.5, 5.5, 17, doc.tote_id, name="tote_qr")  # omnidirectional for conveyor scanners
    c.text(3, 24.5, W - 6, "  ".join(p for p in (doc.zone and f"ZONE {doc.zone}", doc.color.upper()) if p), 3.5,
           align="C", name="zone")
    c.barcode(3, 30, W - 6, 18, doc.tote_id, hri=doc.tote_id, name="tote_barcode")
    return Layout("label", f"Tote {doc.tote_id}", (c.page(),))


def cn22_label(doc: Cn22, t: Template) -> Layout:
    W, H = LABEL_CN22
    c = Canvas(W, H)
    c.box(2, 2, W - 4, 8, thickness=0, fill=True)
    c.text(3, 3.2, W - 6, "CUSTOMS DECLARATION   CN 22", 3.6, bold=True, reverse=True, align="C", min_size=2.5,
           name="title")
    c.text(3, 11, W - 6, "May be opened officially", 2.2, name="notice")
    cats = [("gift", "Gift"), ("documents", "Documents"), ("commercial_sample", "Commercial sample"),
            ("returned_goods", "Returned goods"), ("sale_of_goods", "Sale of goods"), ("other", "Other")]
    for i, (key, label) in enumerate(cats):
        x, y = 3 + (i % 2) * 35, 15 + (i // 2) * 4.4
        c.box(x, y, 3, 3, thickness=0.3)
        if doc.category == key:
            c.box(x + 0.6, y + 0.6, 1.8, 1.8, thickness=0, fill=True, name=f"checked_{key}")
        c.text(x + 4, y + 0.1, 30, label, 2.4, name=f"cat_{key}")
    c.hline(29, 2, W - 4, 0.3)
    cols = [(3, 32, "Description"), (36, 8, "Qty"), (45, 11, "kg"), (57, 14, f"Value {doc.currency}")]
    for x, w, title in cols:
        c.text(x, 30, w, title, 2.2, bold=True, name="col_" + title.split()[0].lower())
    y = 33.5
    for i, item in enumerate(doc.items):
        c.text(3, y, 32, item.description, 2.2, name=f"item{i}_desc")
        c.text(36, y, 8, str(item.quantity), 2.2, keep=True, name=f"item{i}_qty")
        c.text(45, y, 11, f"{item.weight_g / 1000:.3f}", 2.2, keep=True, name=f"item{i}_kg")
        c.text(57, y, 14, f"{item.value:.2f}", 2.2, align="R", keep=True, name=f"item{i}_value")
        c.text(3, y + 2.8, 68, f"HS {item.hs_code}  Origin {item.country_of_origin}", 1.9, name=f"item{i}_hs")
        y += 6.0
    y = max(y, 63.5)
    c.hline(y, 2, W - 4, 0.3)
    total_kg = sum(i.weight_g for i in doc.items) / 1000
    c.text(3, y + 1, 40, f"Total gross weight {total_kg:.3f} kg", 2.4, bold=True, keep=True, name="total_weight")
    c.text(45, y + 1, 26, f"{doc.total_value:.2f} {doc.currency}", 2.4, bold=True, align="R", keep=True,
           name="total_value")
    y += 5
    y = c.text(3, y, W - 6, "I certify that the particulars given in this declaration are correct and that this "
               "item does not contain any dangerous article prohibited by legislation or by postal regulations.",
               1.9, max_lines=4, name="certify")
    c.text(3, y + 0.5, W - 6, f"Date: {date_text(doc.date)}   Signature: {doc.sender.name}", 2.2, name="signature")
    if doc.tracking_number:
        c.barcode(3, 86, W - 6, 12, doc.tracking_number, hri=doc.tracking_number, name="tracking_barcode")
        c.text(3, 99, W - 6, doc.tracking_number, 2.4, align="C", keep=True, name="tracking_hri")
    return Layout("label", "CN22", (c.page(),))


# ---------------------------------------------------------------- sheets (PDF letter / A4)

class Sheet:
    """Paginating builder for letter/A4 documents with a repeated header and a page footer."""

    MARGIN = 15.0

    def __init__(self, paper: str, title: str, header):
        self.W, self.H = PAPER[paper]
        self.title = title
        self.header = header  # fn(canvas, first_page: bool) -> y
        self.pages: list[Canvas] = []
        self.c: Canvas
        self.y = 0.0
        self.new_page()

    def new_page(self) -> None:
        self.c = Canvas(self.W, self.H)
        self.pages.append(self.c)
        self.y = self.header(self.c, len(self.pages) == 1)

    def need(self, h: float) -> None:
        if self.y + h > self.H - 18:
            self.new_page()

    def finish(self) -> tuple[Page, ...]:
        n = len(self.pages)
        for i, c in enumerate(self.pages, 1):
            c.text(self.MARGIN, self.H - 12, self.W - 2 * self.MARGIN, f"{self.title} - page {i} of {n}", 2.6,
                   align="R", color="#555555", name="footer")
        return tuple(c.page() for c in self.pages)

    def table_header(self, cols, color="#000000") -> None:
        self.c.box(self.MARGIN, self.y, self.W - 2 * self.MARGIN, 6.5, thickness=0, fill=True, color=color)
        for x, w, title, align in cols:
            self.c.text(x, self.y + 1.4, w, title, 3.0, bold=True, reverse=True, align=align, name="th")
        self.y += 8


def _header_block(c: Canvas, W: float, title: str, facts: list[str], code: str, t: Template) -> float:
    m = Sheet.MARGIN
    y = c.text(m, m, W - 2 * m - 75, title, 6.0, bold=True, min_size=4, color=t.primary_color, name="title")
    for i, fact in enumerate(facts):
        y = c.text(m, y + 0.5, W - 2 * m - 75, fact, 3.4, keep=True, name=f"fact{i}")
    c.barcode(W - m - 72, m, 72, 13, code, hri=code, name="doc_barcode")
    c.text(W - m - 72, m + 14, 72, code, 3.0, align="C", keep=True, name="doc_barcode_hri")
    return max(y, m + 19) + 4


def packing_slip_sheet(doc: PackingSlip, t: Template) -> Layout:
    show = lambda name: t.shows("packing_slip", name)  # noqa: E731
    m = Sheet.MARGIN

    def header(c: Canvas, first: bool) -> float:
        W = c.width
        y = 15.0
        if t.brand_name or (t.logo and show("logo")):
            c.box(0, 0, W, 24, thickness=0, fill=True, color=t.primary_color, name="brand_bar")
            if t.logo and show("logo"):
                c.image(W - m - 40, 3, 40, 18, t.logo, name="logo")
            c.text(m, 7, W - 2 * m - 45, t.brand_name, 7, bold=True, reverse=True, min_size=4, name="brand")
            y = 29.0
        facts = [f"Order {doc.order_ref}", f"Order date {date_text(doc.order_date)}"]
        if doc.shipment_ref:
            facts.append(f"Shipment {doc.shipment_ref}")
        c.text(m, y, 90, "PACKING SLIP" + ("" if first else " (continued)"), 5, bold=True,
               color=t.primary_color, name="title")
        for i, f in enumerate(facts):
            c.text(m, y + 7.5 + i * 4.6, 90, f, 3.4, keep=True, name=f"fact{i}")
        if show("order_barcode"):
            c.barcode(W - m - 72, y, 72, 13, doc.order_ref, hri=doc.order_ref, name="order_barcode")
            c.text(W - m - 72, y + 14, 72, doc.order_ref, 3.0, align="C", keep=True, name="order_barcode_hri")
        return y + 7.5 + len(facts) * 4.6 + 4

    sheet = Sheet(t.paper, f"Packing slip {doc.order_ref}", header)
    W = sheet.W
    c = sheet.c
    y0 = sheet.y
    y1 = y0
    if show("ship_to"):
        y = c.text(m, y0, 85, "SHIP TO", 3.0, bold=True, color=t.accent_color, name="ship_to_title")
        y1 = _address(c, m, y, 85, doc.ship_to, size=3.6, prefix="to_")
    if t.return_address and show("return_address"):
        y = c.text(110, y0, W - 110 - m, "RETURNS", 3.0, bold=True, color=t.accent_color, name="return_title")
        y1 = max(y1, _address(c, 110, y, W - 110 - m, t.return_address, size=3.4, prefix="ret_"))
    sheet.y = y1 + 6
    qty_x, desc_x = W - m - 22, m + 48
    cols = [(m + 2, 44, "SKU", "L"), (desc_x, qty_x - desc_x - 4, "DESCRIPTION", "L"), (qty_x, 20, "QTY", "R")]
    if not show("sku"):
        cols = cols[1:]
    sheet.table_header(cols, t.primary_color)
    for i, line in enumerate(doc.lines):
        dlines = wrap(line.description, qty_x - desc_x - 4, 3.4, max_lines=3) or ("",)
        h = len(dlines) * 3.4 * LINE_GAP + 2.5
        if sheet.y + h > sheet.H - 18:
            sheet.new_page()
            sheet.table_header(cols, t.primary_color)
        c = sheet.c
        if show("sku"):
            c.text(m + 2, sheet.y, 44, line.sku, 3.4, bold=True, keep=True, name=f"line{i}_sku")
        c.text(desc_x, sheet.y, qty_x - desc_x - 4, line.description, 3.4, max_lines=3, name=f"line{i}_desc")
        c.text(qty_x, sheet.y, 20, str(line.quantity), 3.4, bold=True, align="R", keep=True, name=f"line{i}_qty")
        sheet.y += h
        c.hline(sheet.y - 1.2, m, W - 2 * m, 0.2)
    sheet.need(8)
    total = sum(ln.quantity for ln in doc.lines)
    sheet.y = sheet.c.text(m, sheet.y + 1, W - 2 * m - 2, f"Total items: {total}", 3.6, bold=True, align="R",
                           name="total") + 6
    if doc.customer_note and show("customer_note"):
        sheet.need(16)
        sheet.y = sheet.c.text(m, sheet.y, W - 2 * m, f"Note: {doc.customer_note}", 3.4, max_lines=3,
                               name="customer_note") + 4
    if t.message and show("message"):
        sheet.need(30)
        c = sheet.c
        lines = wrap(t.message, W - 2 * m - 12, 4.4, max_lines=4)
        h = len(lines) * 4.4 * LINE_GAP + 8
        c.box(m, sheet.y, W - 2 * m, h, thickness=0.8, color=t.accent_color, name="message_box")
        c.text(m + 6, sheet.y + 4, W - 2 * m - 12, t.message, 4.4, max_lines=4, align="C", color=t.primary_color,
               name="message")
    return Layout("sheet", f"Packing slip {doc.order_ref}", sheet.finish(), dpi_hint=150)


def packing_slip_receipt(doc: PackingSlip, t: Template) -> Layout:
    show = lambda name: t.shows("packing_slip", name)  # noqa: E731
    W = RECEIPT_WIDTH
    s, big = RECEIPT_SIZE, RECEIPT_SIZE * 2
    c = Canvas(W, 0)
    y = 0.0
    if t.logo and show("logo"):
        c.image(W / 2 - 20, y, 40, 16, t.logo, name="logo")
        y += 18
    y = c.text(0, y, W, t.brand_name or "PACKING SLIP", big, bold=True, mono=True, align="C", max_lines=2,
               name="brand")
    if t.brand_name:
        y = c.text(0, y, W, "PACKING SLIP", s, bold=True, mono=True, align="C", name="title")
    y += s * LINE_GAP
    order = f"Order {doc.order_ref}"
    if len(order) + 12 <= W / RECEIPT_CHAR:  # order left, date right on one row
        c.text(0, y, W - 11 * RECEIPT_CHAR, order, s, bold=True, mono=True, name="order")
    else:
        y = c.text(0, y, W, order, s, bold=True, mono=True, name="order")
    y = c.text(W - 10 * RECEIPT_CHAR, y, 10 * RECEIPT_CHAR, date_text(doc.order_date), s, mono=True, align="R",
               name="date")
    if doc.shipment_ref:
        y = c.text(0, y, W, f"Shipment {doc.shipment_ref}", s, mono=True, name="shipment")
    if show("ship_to"):
        y += s * LINE_GAP
        y = c.text(0, y, W, "Ship to:", s, bold=True, mono=True, name="ship_to_title")
        a = doc.ship_to
        for i, part in enumerate([a.name, *a.lines(), a.city_line(), a.country]):
            y = c.text(0, y, W, part, s, mono=True, max_lines=2, name=f"to_{i}")
    c.hline(y + 1, 0, W, 0.3)
    y += 2.5
    for i, line in enumerate(doc.lines):
        c.text(0, y, 8 * RECEIPT_CHAR, f"{line.quantity} x", s, bold=True, mono=True, name=f"line{i}_qty")
        sku = line.sku if show("sku") else ""
        y = c.text(8 * RECEIPT_CHAR, y, W - 8 * RECEIPT_CHAR, sku or line.description, s, bold=True, mono=True,
                   name=f"line{i}_sku")
        if sku:
            y = c.text(8 * RECEIPT_CHAR, y, W - 8 * RECEIPT_CHAR, line.description, s, mono=True, max_lines=3,
                       name=f"line{i}_desc")
    c.hline(y + 1, 0, W, 0.3)
    y += 2.5
    y = c.text(0, y, W, f"Items: {sum(ln.quantity for ln in doc.lines)}", s, bold=True, mono=True, align="R",
               name="total")
    if doc.customer_note and show("customer_note"):
        y = c.text(0, y + 1, W, f"Note: {doc.customer_note}", s, mono=True, max_lines=4, name="customer_note")
    if t.message and show("message"):
        y += s * LINE_GAP
        y = c.text(0, y, W, t.message, s, mono=True, max_lines=6, align="C", name="message")
    if show("order_barcode"):
        y += s
        y = c.barcode(4, y, W - 8, 12, doc.order_ref, hri=doc.order_ref, name="order_barcode") + 1
        y = c.text(0, y, W, doc.order_ref, s, mono=True, align="C", name="order_barcode_hri")
    page = Page(W, y + 6, tuple(c.elements))
    return Layout("receipt", f"Packing slip {doc.order_ref}", (page,))


def pick_list_sheet(doc: PickList, t: Template) -> Layout:
    m = Sheet.MARGIN
    lines = doc.in_pick_path_order()

    def header(c: Canvas, first: bool) -> float:
        facts = [f"Site {doc.site_id}   Lines {len(lines)}   Units {sum(ln.quantity for ln in lines)}"]
        if doc.picker:
            facts.append(f"Picker {doc.picker}")
        if doc.created_at:
            facts.append(f"Created {doc.created_at}")
        return _header_block(c, c.width, f"PICK LIST {doc.pick_list_id}" + ("" if first else " (continued)"),
                             facts, doc.pick_list_id, t)

    sheet = Sheet(t.paper, f"Pick list {doc.pick_list_id}", header)
    W = sheet.W
    x_loc, x_sku, x_desc, x_qty, x_chk = m + 9, m + 59, m + 117, W - m - 26, W - m - 9
    cols = [(m + 1, 7, "#", "L"), (x_loc, 48, "LOCATION", "L"), (x_sku, 56, "SKU", "L"),
            (x_desc, x_qty - x_desc - 2, "DESCRIPTION", "L"), (x_qty, 14, "QTY", "R"), (x_chk, 8, "OK", "L")]
    sheet.table_header(cols)
    row_h = 20.0
    for i, ln in enumerate(lines, 1):
        if sheet.y + row_h > sheet.H - 18:
            sheet.new_page()
            sheet.table_header(cols)
        c, y = sheet.c, sheet.y
        c.text(m + 1, y, 7, str(i), 3.4, bold=True, name=f"row{i}_seq")
        c.text(x_loc, y, 48, ln.location, 3.8, bold=True, keep=True, name=f"row{i}_location")
        c.barcode(x_loc, y + 5, 48, 10, ln.location, hri=ln.location, name=f"row{i}_location_barcode")
        c.text(x_sku, y, 56, ln.sku, 3.4, keep=True, name=f"row{i}_sku")
        c.barcode(x_sku, y + 5, 56, 10, ln.sku, hri=ln.sku, name=f"row{i}_sku_barcode")
        c.text(x_desc, y, x_qty - x_desc - 2, ln.description, 3.2, max_lines=3, name=f"row{i}_desc")
        if ln.order_ref:
            c.text(x_desc, y + 12.5, x_qty - x_desc - 2, f"Order {ln.order_ref}", 2.8, color="#555555",
                   keep=True, name=f"row{i}_order")
        c.text(x_qty, y, 14, str(ln.quantity), 5, bold=True, align="R", keep=True, name=f"row{i}_qty")
        c.box(x_chk + 1, y + 0.5, 5, 5, thickness=0.4)
        sheet.y += row_h
        c.hline(sheet.y - 2, m, W - 2 * m, 0.2)
    return Layout("sheet", f"Pick list {doc.pick_list_id}", sheet.finish(), dpi_hint=150)


def manifest_sheet(doc: Manifest, t: Template) -> Layout:
    m = Sheet.MARGIN

    def header(c: Canvas, first: bool) -> float:
        facts = [f"Carrier {doc.carrier}", f"Site {doc.site_id} {doc.site_name}".strip(),
                 f"Ship date {date_text(doc.ship_date)}"]
        return _header_block(c, c.width, "CARRIER MANIFEST" + ("" if first else " (continued)"), facts,
                             doc.manifest_id, t)

    sheet = Sheet(t.paper, f"Manifest {doc.manifest_id}", header)
    W = sheet.W
    xs = [m + 1, m + 12, m + 72, m + 112, W - m - 50, W - m - 30]
    cols = [(xs[0], 10, "#", "L"), (xs[1], 58, "TRACKING", "L"), (xs[2], 38, "ORDER", "L"),
            (xs[3], xs[4] - xs[3] - 2, "SERVICE", "L"), (xs[4], 18, "CARTONS", "R"), (xs[5], 29, "KG", "R")]
    sheet.table_header(cols)
    for i, s in enumerate(doc.shipments, 1):
        if sheet.y + 5.5 > sheet.H - 18:
            sheet.new_page()
            sheet.table_header(cols)
        c, y = sheet.c, sheet.y
        c.text(xs[0], y, 10, str(i), 3.2, name=f"row{i}_n")
        c.text(xs[1], y, 58, s.tracking_number, 3.2, bold=True, keep=True, name=f"row{i}_tracking")
        c.text(xs[2], y, 38, s.order_ref, 3.2, keep=True, name=f"row{i}_order")
        c.text(xs[3], y, xs[4] - xs[3] - 2, s.service, 3.2, name=f"row{i}_service")
        c.text(xs[4], y, 18, str(s.cartons), 3.2, align="R", keep=True, name=f"row{i}_cartons")
        c.text(xs[5], y, 29, f"{s.weight_g / 1000:.2f}", 3.2, align="R", keep=True, name=f"row{i}_kg")
        sheet.y += 5.5
    sheet.need(45)
    c = sheet.c
    c.hline(sheet.y, m, W - 2 * m, 0.6)
    y = sheet.y + 2
    c.text(m, y, 100, f"TOTAL  {len(doc.shipments)} shipments", 4, bold=True, name="total_shipments")
    c.text(xs[4] - 10, y, 28, str(doc.total_cartons), 4, bold=True, align="R", keep=True, name="total_cartons")
    c.text(xs[5], y, 29, f"{doc.total_weight_g / 1000:.2f}", 4, bold=True, align="R", keep=True, name="total_kg")
    y += 16
    slot = (W - 2 * m) / 3
    for k, label in enumerate(("Driver signature", "Printed name", "Date / time")):
        c.hline(y, m + k * slot, slot - 8, 0.3)
        c.text(m + k * slot, y + 1, slot - 8, label, 2.8, name="sign_" + label.split()[0].lower())
    return Layout("sheet", f"Manifest {doc.manifest_id}", sheet.finish(), dpi_hint=150)


def commercial_invoice_sheet(doc: CommercialInvoice, t: Template) -> Layout:
    m = Sheet.MARGIN

    def header(c: Canvas, first: bool) -> float:
        facts = [f"Invoice {doc.invoice_no}   Date {date_text(doc.date)}",
                 f"Incoterms {doc.incoterms}   Reason {doc.reason.replace('_', ' ')}   Currency {doc.currency}"]
        if doc.order_ref:
            facts.append(f"Order {doc.order_ref}")
        code = doc.tracking_number or doc.invoice_no
        return _header_block(c, c.width, "COMMERCIAL INVOICE", facts, code, t)

    sheet = Sheet(t.paper, f"Commercial invoice {doc.invoice_no}", header)
    W, c = sheet.W, sheet.c
    half = (W - 2 * m - 10) / 2
    y = c.text(m, sheet.y, half, "SHIPPER / EXPORTER", 3.0, bold=True, name="shipper_title")
    y1 = _address(c, m, y, half, doc.shipper, size=3.4, prefix="shipper_")
    y = c.text(m + half + 10, sheet.y, half, "CONSIGNEE", 3.0, bold=True, name="consignee_title")
    y2 = _address(c, m + half + 10, y, half, doc.consignee, size=3.4, prefix="consignee_")
    sheet.y = max(y1, y2) + 6
    xs = [m + 1, m + 63, m + 87, m + 101, m + 115, m + 141, m + 165]
    ws = [60, 22, 12, 12, 24, 22, W - m - 1 - xs[6]]
    cols = [(xs[0], ws[0], "DESCRIPTION", "L"), (xs[1], ws[1], "HS CODE", "L"), (xs[2], ws[2], "ORIGIN", "L"),
            (xs[3], ws[3], "QTY", "R"), (xs[4], ws[4], f"UNIT {doc.currency}", "R"),
            (xs[5], ws[5], "TOTAL", "R"), (xs[6], ws[6], "KG", "R")]
    sheet.table_header(cols)
    for i, it in enumerate(doc.items):
        dl = wrap(it.description, ws[0], 3.2, max_lines=3) or ("",)
        h = len(dl) * 3.2 * LINE_GAP + 2
        if sheet.y + h > sheet.H - 18:
            sheet.new_page()
            sheet.table_header(cols)
        c, y = sheet.c, sheet.y
        c.text(xs[0], y, ws[0], it.description, 3.2, max_lines=3, name=f"item{i}_desc")
        cells = [it.hs_code, it.country_of_origin, str(it.quantity), f"{it.unit_value:.2f}", f"{it.value:.2f}",
                 f"{it.weight_g / 1000:.3f}"]
        for k, (cell, key) in enumerate(zip(cells, ("hs", "origin", "qty", "unit", "total", "kg")), start=1):
            c.text(xs[k], y, ws[k], cell, 3.2, align=cols[k][3], keep=True, name=f"item{i}_{key}")
        sheet.y += h
    sheet.need(50)
    c = sheet.c
    c.hline(sheet.y, m, W - 2 * m, 0.6)
    y = sheet.y + 2
    kg = sum(i.weight_g for i in doc.items) / 1000
    c.text(m, y, 120, f"TOTAL VALUE {doc.total_value:.2f} {doc.currency}", 4, bold=True, keep=True,
           name="total_value")
    c.text(xs[5], y, W - m - xs[5], f"{kg:.3f} kg", 4, bold=True, align="R", keep=True, name="total_kg")
    y = c.text(m, y + 10, W - 2 * m, "I declare that the information on this invoice is true and correct and "
               "that the contents of this shipment are as stated above.", 3.2, max_lines=3, name="declaration")
    c.hline(y + 14, m, 80, 0.3)
    c.text(m, y + 15, 80, f"Signature ({doc.shipper.name})", 2.8, name="signature")
    return Layout("sheet", f"Commercial invoice {doc.invoice_no}", sheet.finish(), dpi_hint=150)


_LAYOUTS = {
    ShippingLabel: {"label": shipping_label},
    SsccLabel: {"label": sscc_label},
    BinLabel: {"label": bin_label},
    SkuLabel: {"label": sku_label},
    ToteLabel: {"label": tote_label},
    Cn22: {"label": cn22_label},
    PackingSlip: {"sheet": packing_slip_sheet, "receipt": packing_slip_receipt},
    PickList: {"sheet": pick_list_sheet},
    Manifest: {"sheet": manifest_sheet},
    CommercialInvoice: {"sheet": commercial_invoice_sheet},
}


def forms(doc) -> tuple[str, ...]:
    try:
        return tuple(_LAYOUTS[type(doc)])
    except KeyError:
        raise UnsupportedFormat(f"not a labels document: {type(doc).__name__}") from None


def layout(doc, template: Template | None = None, form: str | None = None) -> Layout:
    """Lay ``doc`` out on ``form`` (default: its first form) using the merchant ``template``."""
    available = forms(doc)
    form = form or available[0]
    if form not in available:
        raise UnsupportedFormat(f"{type(doc).__name__} has no {form} form (has: {', '.join(available)})")
    return _LAYOUTS[type(doc)][form](doc, template or DEFAULT_TEMPLATE)


def overflow(lay: Layout) -> list[str]:
    """Elements that leave their page or whose text is wider than its box (empty = all inside)."""
    problems = []
    for n, page in enumerate(lay.pages):
        for el in page.elements:
            if isinstance(el, Text):
                for line in el.lines:
                    if text_width(line, el.size, el.bold, el.mono) > el.w + 1e-6:
                        problems.append(f"page {n}: {el.name} line {line!r} wider than {el.w} mm")
            x2, y2 = el.x + el.w, el.y + el.h
            if el.x < -1e-6 or el.y < -1e-6 or x2 > page.width + 1e-6 or y2 > page.height + 1e-6:
                problems.append(f"page {n}: {getattr(el, 'name', '')} {type(el).__name__} outside the page "
                                f"({el.x:.1f},{el.y:.1f})-({x2:.1f},{y2:.1f})")
    return problems
