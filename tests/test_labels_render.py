"""Rendering: real barcode decoding of the previews, ESC/POS bytes, PDF/PNG output, hard inputs, CLI."""
from __future__ import annotations

import dataclasses
import io
import os

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from labels import pdf, render
from labels.core import gs1, layouts, samples
from labels.core.model import Text
from labels.documents import Address, BinLabel, Cn22, CustomsItem, PackingSlip, SkuLabel, SlipLine, ToteLabel
from labels.errors import TemplateError
from labels.templates import load_template, load_templates

SAMPLE_TEMPLATE = os.path.join(os.path.dirname(render.__file__), "samples", "acme.toml")


def decode(png: bytes) -> list:
    return zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))


EXPECTED = {
    "shipping": {"1Z999AA10123456784"},
    "sscc": {"(420)43215", "(02)10614141000415(37)24(400)PO778899", "(00)006141411234567890"},
    "bin": {"A-03-12-2"}, "sku": {"TSHIRT-BLK-M"}, "tote": {"T-0042"}, "packing": {"SO-100234"},
    "picklist": {"PL-20261123-007", "A-01-02-1", "SOCKS-L", "A-03-12-2", "TSHIRT-BLK-M", "B-02-05-1", "CAP-RED",
                 "B-07-01-3", "STICKER-PK", "C-01-04-1", "MUG-12OZ", "D-02-09-4", "POSTER-A2"},
    "manifest": {"MF-UPS-20261123"}, "invoice": {"1Z999AA10123456784"}, "cn22": {"LX123456785US"},
}


@pytest.mark.parametrize("engine", ["pillow", "pdf"])
@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_barcode_in_the_preview_decodes_to_its_data(kind, engine):
    found = decode(render.preview_png(samples.sample(kind), engine=engine))
    assert {b.text for b in found} == EXPECTED[kind]
    for b in found:
        if kind == "tote" and b.format == zxingcpp.BarcodeFormat.QRCode:
            continue  # the tote's QR carries the same id for omnidirectional conveyor scanners
        assert b.format == zxingcpp.BarcodeFormat.Code128
        assert b.symbology_identifier == ("]C1" if kind == "sscc" else "]C0")
    if kind == "tote":
        assert sorted(b.format.name for b in found) == ["Code128", "QRCode"]


def test_sscc_decodes_as_gs1_with_a_valid_check_digit_at_300_dpi():
    png = render.preview_png(samples.sscc(sscc="10614141123456789"), dpi=300)
    assert Image.open(io.BytesIO(png)).size == (1200, 1800)
    sscc = [b for b in decode(png) if b.text.startswith("(00)")]
    assert len(sscc) == 1 and sscc[0].symbology_identifier == "]C1"
    digits = sscc[0].text[4:]
    assert digits == "106141411234567897" and gs1.check_digit(digits[:17]) == int(digits[17])
    raw = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), text_mode=zxingcpp.TextMode.Plain)
    assert {b.text for b in raw} >= {"00106141411234567897", "4204321" "5", "02106141410004153724\x1d400PO778899"}


@pytest.mark.parametrize("data", ["A>B^C~D_E\\F{G}", "1234567", "A1234B", "12345678901234567890123",
                                  "".join(chr(c) for c in range(33, 73)), "".join(chr(c) for c in range(73, 113)),
                                  "".join(chr(c) for c in range(113, 127)) + "99887766"])
def test_code128_round_trip_of_awkward_data(data):
    found = decode(render.preview_png(BinLabel(location=data)))
    assert [b.text for b in found] == [data]


def test_qr_fallback_for_a_sku_too_long_for_code128():
    found = decode(render.preview_png(SkuLabel(sku="SKU-" + "W" * 36, description="Long SKU")))
    assert [(b.format.name, b.text) for b in found] == [("QRCode", "SKU-" + "W" * 36)]


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_pillow_preview_matches_the_pdf_rendering(kind):
    """The fast preview draws the same picture as the PDF (rasterised by poppler)."""
    from PIL import ImageChops, ImageStat

    doc = samples.sample(kind)
    for form in layouts.forms(doc):
        a = Image.open(io.BytesIO(render.preview_png(doc, form=form))).convert("L")
        b = Image.open(io.BytesIO(render.preview_png(doc, form=form, engine="pdf"))).convert("L")
        assert abs(a.width - b.width) <= 1 and abs(a.height - b.height) <= 1
        size = (min(a.width, b.width), min(a.height, b.height))
        diff = ImageChops.difference(a.crop((0, 0, *size)), b.crop((0, 0, *size)))
        strong = sum(diff.histogram()[129:]) / (size[0] * size[1])
        assert ImageStat.Stat(diff).mean[0] < 12 and strong < 0.05, (form, strong)


def test_preview_sizes_and_modes():
    label = Image.open(io.BytesIO(render.preview_png(samples.shipping())))
    assert label.size == (812, 1218) and label.mode == "L"
    sheet = Image.open(io.BytesIO(render.preview_png(samples.packing(), template=load_template(SAMPLE_TEMPLATE))))
    assert sheet.size == (1275, 1650) and sheet.mode == "RGB"
    assert sheet.getpixel((5, 5)) == (26, 115, 232)  # brand colour bar
    receipt = Image.open(io.BytesIO(render.preview_png(samples.packing(), form="receipt")))
    assert receipt.size[0] == 576
    multi = Image.open(io.BytesIO(render.preview_png(samples.pick_list(30))))
    assert multi.size == (1275, 3 * 1650 + 2 * 12)


def test_pdf_is_a_real_pdf_with_one_page_per_layout_page():
    data = render.to_pdf(samples.pick_list(30))
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 1
    assert len(layouts.layout(samples.pick_list(30)).pages) == 3


# ------------------------------------------------------------------ ESC/POS

def test_escpos_text_is_stripped_of_control_bytes():
    evil = PackingSlip("SO-1", dataclasses.replace(samples.CUSTOMER, name="Jane\x1b@\x1dV\x00\x10Doe"),
                       (SlipLine("SKU-1", "Mug\x1bp\x00\x19\xfa", 1),), "2026-11-23")
    # control characters become spaces (then runs of spaces collapse), exactly as on every other renderer
    clean = PackingSlip("SO-1", dataclasses.replace(samples.CUSTOMER, name="Jane @ V Doe"),
                        (SlipLine("SKU-1", "Mug p \xfa", 1),), "2026-11-23")
    out = render.to_escpos(evil)
    assert out == render.to_escpos(clean)
    assert b"Jane @ V Doe\n" in out
    assert all(b >= 32 or b in (0x0A,) for b in out.split(b"Jane")[1].split(b"\n")[0])
    assert out.startswith(b"\x1b@") and out.count(b"\x1b@") == 1  # only our INIT
    assert out.endswith(b"\x1dV\x00") or b"\x1dV" in out[-8:]  # ends with the cut


def test_escpos_barcode_and_receipt_columns():
    out = render.to_escpos(samples.packing())
    assert b"Order SO-100234                       2026-11-23\n" in out  # 48 columns, date right-aligned
    assert b"\x1dkI\x0b{BSO-100234" in out  # GS k, CODE128 (73), length 11, code set B
    label = render.to_escpos(samples.shipping())
    assert b"{B1Z999AA10123456784" in label


def test_sheets_have_no_escpos_form():
    from labels.errors import UnsupportedFormat

    with pytest.raises(UnsupportedFormat, match="print as PDF"):
        render.to_escpos(samples.pick_list())


# ------------------------------------------------------------------ hard inputs

LONG = "Maximilian Alexander Bartholomew von Hohenzollern-Sigmaringen III " * 4
CN = Address(name="王小明", company="北京某某科技有限公司物流部收货处", line1="北京市朝阳区建国路88号SOHO现代城A座1203室",
             line2="请在工作日送达，谢谢", city="北京", region="北京市", postal_code="100022", country="CN")
AR = Address(name="محمد بن عبد الله", line1="شارع الملك فهد ١٢٣، حي العليا", city="الرياض", postal_code="12271",
             country="SA")
RU = Address(name="Константин Константинопольский", line1="ул. Большая Никитская, д. 12, кв. 345",
             city="Москва", region="Московская область", postal_code="125009", country="RU")
LONGADDR = Address(name=LONG, company=LONG, line1=LONG, line2=LONG, city=LONG, region=LONG, postal_code="9" * 40,
                   country="DE")
MINIMAL = Address(name="A")

HARD = {
    "cn": lambda: samples.shipping(ship_to=CN, ship_from=RU, service="Next Day Air Saver " * 5),
    "ar": lambda: samples.shipping(ship_to=AR, ship_from=CN, service_level="overnight"),
    "long": lambda: samples.shipping(ship_to=LONGADDR, ship_from=LONGADDR, carrier=LONG, service=LONG, carton=LONG,
                                     zone=LONG, route=LONG, tracking_number="X" * 40, order_ref="O" * 40,
                                     shipment_ref="S" * 40),
    "minimal": lambda: samples.shipping(ship_to=MINIMAL, ship_from=MINIMAL, shipment_ref="", weight_g=None, carton="",
                                        zone="", route=""),
    "sscc_long": lambda: samples.sscc(ship_to=LONGADDR, ship_from=CN, carrier=LONG, carton_of=LONG,
                                      po_number="P" * 30, ship_to_postal="Z" * 20),
    "sscc_minimal": lambda: samples.sscc(gtin="", count=None, po_number="", ship_to_postal="", carrier="",
                                         carton_of="", ship_to=MINIMAL, ship_from=MINIMAL),
    "bin": lambda: BinLabel(location="B" * 40, zone=LONG, aisle=LONG),
    "sku": lambda: SkuLabel(sku="S" * 40, description=LONG + "中文描述" * 10, lot=LONG),
    "tote": lambda: ToteLabel(tote_id="T" * 40, zone=LONG, color=LONG),
    "cn22": lambda: Cn22(sender=AR, recipient=CN, items=tuple(CustomsItem(LONG, "6109100010", "CN", 999, 99999.99,
                                                                      99999) for _ in range(5))),
    "packing": lambda: samples.packing(ship_to=CN, customer_note=LONG * 3,
                                       lines=tuple(SlipLine(f"SKU-{i}", LONG if i % 2 else "Кружка 杯子 كوب", 99)
                                                   for i in range(60))),
    "receipt": lambda: samples.packing(ship_to=AR, customer_note=LONG, lines=(SlipLine("S" * 40, LONG, 1),)),
    "invoice": lambda: dataclasses.replace(samples.invoice(), consignee=CN, shipper=LONGADDR,
                                           items=tuple(CustomsItem(LONG, "610910", "PT", 1, 1.0, 1) for _ in range(30))),
    "manifest": lambda: samples.manifest(90),
}


def _overlaps(a: Text, b: Text) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


@pytest.mark.parametrize("case", sorted(HARD))
def test_hard_inputs_lay_out_inside_the_label_without_overlap(case):
    doc = HARD[case]()
    for form in layouts.forms(doc):
        lay = layouts.layout(doc, form=form)
        assert layouts.overflow(lay) == [], form
        for page in lay.pages:
            texts = [e for e in page.elements if isinstance(e, Text)]
            bad = [(a.name, b.name) for i, a in enumerate(texts) for b in texts[i + 1:] if _overlaps(a, b)]
            assert bad == [], (form, bad)
        if lay.form == "label":
            render.to_zpl(doc)
        if lay.form != "sheet":
            assert render.to_escpos(doc, form=form).startswith(b"\x1b@")
        assert render.preview_png(doc, form=form).startswith(b"\x89PNG")
    assert render.to_pdf(doc).startswith(b"%PDF-")


def test_shipping_blocks_stay_in_their_bands():
    for case in ("cn", "ar", "long"):
        lay = layouts.layout(HARD[case]())
        for t in lay.texts():
            if t.name.startswith("from_"):
                assert t.y + t.h <= 31, (case, t.name)
            if t.name.startswith("to_"):
                assert 31 < t.y and t.y + t.h <= 76, (case, t.name)


def test_non_latin_text_is_drawn_with_real_glyphs():
    """The CJK font and Arabic shaping are used: PDF text extraction gives the characters back."""
    import subprocess
    import tempfile

    data = render.to_pdf(HARD["cn"]())
    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(data)
        fh.flush()
        text = subprocess.run(["pdftotext", fh.name, "-"], capture_output=True, text=True, check=True).stdout
    assert "王小明" in text and "Константин" in text
    fonts = pdf.fonts()
    assert fonts["fs-sans"] == "fs-sans"  # DejaVu registered, not the base-14 fallback


# ------------------------------------------------------------------ templates and CLI

def test_sample_template_loads_with_resolved_logo():
    t = load_template(SAMPLE_TEMPLATE)
    assert t.merchant_id == "acme" and os.path.isabs(t.logo) and os.path.exists(t.logo)
    zpl = render.to_zpl(samples.shipping(), template=t).decode()
    assert "^FDAcme Outfitters Returns^FS" in zpl and "FloorSync FC Reno" not in zpl
    assert "CARTON" not in zpl and "^FDShipped by Acme Outfitters^FS" in zpl


def test_template_loader_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('merchant_id = "m1"\nlogo = "missing.png"\n')
    with pytest.raises(TemplateError, match=r"bad.toml: logo: file .*missing.png' not found"):
        load_template(str(bad))
    bad.write_text('merchant_id = "m1"\nlogo = "bad.toml"\n')
    with pytest.raises(TemplateError, match="is not a readable image"):
        load_template(str(bad))
    bad.write_text("merchant_id = \n")
    with pytest.raises(TemplateError, match="bad.toml: not valid TOML"):
        load_template(str(bad))
    (tmp_path / "bad.toml").write_text('merchant_id = "m1"\n')
    (tmp_path / "dup.toml").write_text('merchant_id = "m1"\n')
    with pytest.raises(TemplateError, match="merchant_id: 'm1' is also defined"):
        load_templates(str(tmp_path))


def _cli(*args, env=None):
    from floorsync.cli import build

    return CliRunner().invoke(build(), list(args), env=env or {}, catch_exceptions=False)


def test_cli_render_zpl_matches_the_library():
    result = _cli("labels", "render", "--doc", "shipping", "--format", "zpl", "--sample")
    assert result.exit_code == 0
    assert result.stdout_bytes == render.to_zpl(samples.shipping())


def test_cli_preview_writes_a_png_and_reports_layout(tmp_path):
    out = tmp_path / "p.png"
    result = _cli("labels", "preview", "--doc", "sscc", "--sample", "-o", str(out))
    assert result.exit_code == 0 and "SSCC 006141411234567890, 1 page(s), layout OK" in result.output
    assert {b.text for b in decode(out.read_bytes())} == EXPECTED["sscc"]


def test_cli_merchant_template_and_errors(tmp_path):
    env = {"FLOORSYNC_LABELS_TEMPLATES_DIR": os.path.dirname(SAMPLE_TEMPLATE)}
    out = tmp_path / "slip.pdf"
    result = _cli("labels", "render", "--doc", "packing", "--sample", "--merchant", "acme", "--format", "pdf",
                  "-o", str(out), env=env)
    assert result.exit_code == 0 and out.read_bytes().startswith(b"%PDF-")
    result = _cli("labels", "check-templates", env=env)
    assert result.exit_code == 0 and "acme: OK" in result.output and "1 template(s) valid" in result.output
    (tmp_path / "x.toml").write_text('merchant_id = "x"\nprimary_color = "red"\n')
    result = _cli("labels", "check-templates", str(tmp_path))
    assert result.exit_code == 1
    assert "x.toml: primary_color: must be a colour like '#1A73E8', got 'red'" in result.output
    result = _cli("labels", "render", "--doc", "picklist", "--sample", "--format", "zpl")
    assert result.exit_code == 1 and "PickList has no label form" in result.output
    doc = tmp_path / "bin.json"
    doc.write_text('{"location": "Z-99-01-1", "zone": "Z"}')
    result = _cli("labels", "render", "--doc", "bin", "--input", str(doc))
    assert result.exit_code == 0 and b"^FH^FD>:Z-99-01-1^FS" in result.stdout_bytes


def test_identifiers_are_shrunk_never_cut():
    by = {t.name: t for t in layouts.layout(HARD["long"]()).texts()}
    assert by["order_ref"].lines == ("ORDER: " + "O" * 40,)
    assert by["shipment_ref"].lines == ("SHIPMENT: " + "S" * 40,)
    assert by["tracking_hri"].lines == (" ".join(["XXXX"] * 10),)
    assert by["order_ref"].size < 3.0
    slip = samples.packing(order_ref="R" * 40)
    receipt = {t.name: t.lines for t in layouts.layout(slip, form="receipt").texts()}
    assert receipt["order"] == ("Order " + "R" * 40,) and receipt["order_barcode_hri"] == ("R" * 40,)
    sheet = {t.name: t.lines for t in layouts.layout(slip).texts()}
    assert sheet["fact0"] == ("Order " + "R" * 40,) and sheet["order_barcode_hri"] == ("R" * 40,)
    out = render.to_escpos(slip)
    assert b"Order " + b"R" * 40 + b"\n" in out


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_sample_documents_print_every_value_in_full(kind):
    """Nothing on a normal document is cut with an ellipsis, with or without the merchant template."""
    doc = samples.sample(kind)
    for tpl in (None, load_template(SAMPLE_TEMPLATE)):
        for form in layouts.forms(doc):
            lay = layouts.layout(doc, tpl, form)
            cut = [(t.name, line) for t in lay.texts() for line in t.lines if line.endswith("\u2026")]
            assert cut == [], (form, cut)
            assert layouts.overflow(lay) == []


def test_cli_gallery_writes_every_document(tmp_path):
    result = _cli("labels", "gallery", str(tmp_path / "g"), "--template", SAMPLE_TEMPLATE)
    assert result.exit_code == 0 and "11 documents written" in result.output
    names = sorted(os.listdir(tmp_path / "g"))
    assert "index.html" in names and "shipping-label.zpl" in names and "packing-receipt.escpos" in names
    assert len([n for n in names if n.endswith(".png")]) == 11
    page = (tmp_path / "g" / "index.html").read_text()
    assert page.count("<figure>") == 11 and 'src="sscc-label.png"' in page
    assert (tmp_path / "g" / "shipping-label.zpl").read_bytes() == \
        render.to_zpl(samples.shipping(), template=load_template(SAMPLE_TEMPLATE))
