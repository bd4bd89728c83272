"""ZPL is injection-proof: customer text prints as text and never changes the format's structure."""
from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labels import render
from labels.core import layouts, samples
from labels.core.textfit import clean
from labels.core.zpl import escape_field
from labels.documents import Address
from labels.errors import BarcodeDataError, UnsupportedFormat

FIELD = re.compile(r"\^FD(.*?)\^FS", re.S)


def structure(zpl: str) -> list[str]:
    """The format's skeleton: ^XA / ^FD / ^FS / ^XZ in order (what a printer would execute)."""
    return re.findall(r"\^XA|\^XZ|\^FD|\^FS", FIELD.sub("^FD^FS", zpl))


def unescape(data: str) -> str:
    raw = re.sub(r"_([0-9A-F]{2})", lambda m: f"\\x{m.group(1)}", data)
    return raw.encode("latin-1").decode("unicode_escape").encode("latin-1").decode("utf-8")


def text_fields(zpl: str) -> list[list[str]]:
    """Printed text of every ^FB text field, unescaped, split into lines."""
    out = []
    for line in zpl.splitlines():
        if "^FB" in line:
            data = FIELD.search(line).group(1)
            out.append([unescape(part) for part in data.split("\\&")])
    return out


@pytest.mark.parametrize("text,expected", [
    ("^XZ^XA~JA", "_5EXZ_5EXA_7EJA"),
    ("a_b\\c", "a_5Fb_5Cc"),
    ("é", "_C3_A9"),
    ("\x00\n\x7f", "_00_0A_7F"),
    ("中", "_E4_B8_AD"),
    ("Plain text 123", "Plain text 123"),
])
def test_escape_field(text, expected):
    assert escape_field(text) == expected


def test_customer_command_text_prints_as_text():
    evil = dataclasses.replace(samples.CUSTOMER, name="^XZ^XA~JA", line1="~JR^FS^FO0,0^GB800,1200,800^FS",
                               city="_x\\&y", region="", postal_code="1")
    zpl = render.to_zpl(samples.shipping(ship_to=evil)).decode("ascii")
    assert zpl.count("^XA") == 1 and zpl.count("^XZ") == 1 and "~JA" not in zpl and "~JR" not in zpl
    assert "^FO64,287^A0N,44,44^FB719,1,9,L,0^FH^FD_5EXZ_5EXA_7EJA^FS" in zpl
    assert structure(zpl) == structure(render.to_zpl(samples.shipping()).decode("ascii"))
    printed = text_fields(zpl)
    assert ["^XZ^XA~JA"] in printed
    assert ["~JR^FS^FO0,0^GB800,1200,800^F", "S"] in printed  # wrapped onto two lines, printed verbatim
    assert ["_x\\&y 1"] in printed


def test_barcode_data_special_characters_use_invocation_codes():
    lay = layouts.layout(samples.bin_label().__class__(location="A>B^C~D_E\\F"))
    bc = lay.barcodes()[0]
    assert bc.zpl == ">:A>0B><C>=D_E\\F"
    zpl = render.to_zpl(samples.bin_label().__class__(location="A>B^C~D_E\\F")).decode()
    assert "^FH^FD>:A>0B><C>=D_5FE_5CF^FS" in zpl


def test_gs1_barcodes_start_with_fnc1_and_separate_variable_fields():
    zpl = render.to_zpl(samples.sscc()).decode()
    fields = [FIELD.search(line).group(1) for line in zpl.splitlines() if "^BC" in line]
    # start C + FNC1; FNC1 after the variable-length AI 37; subset B for "400PO", back to C for digits
    assert fields == [">;>842043215", ">;>802106141410004153724>8>6400PO>5778899", ">;>800006141411234567890"]


def test_sheets_have_no_zpl_form_and_dpi_is_checked():
    with pytest.raises(UnsupportedFormat, match=r"PackingSlip has no label form \(has: sheet, receipt\)"):
        render.to_zpl(samples.packing())
    with pytest.raises(UnsupportedFormat, match="203 or 300"):
        render.to_zpl(samples.shipping(), dpi=600)


def test_barcode_rejects_non_ascii():
    with pytest.raises(BarcodeDataError):
        from labels.core import code128
        code128.encode("abc\u00e9")


def test_non_latin_text_selects_the_unicode_printer_font():
    cn = Address(name="王小明", line1="北京市朝阳区建国路88号", city="北京", postal_code="100022", country="CN")
    zpl = render.to_zpl(samples.shipping(ship_to=cn), unicode_font="E:NOTO.TTF").decode()
    assert zpl.startswith("^XA^CI28^PA0,1,1,0^PW812")
    assert "^A@N,44,44,E:NOTO.TTF^FB719,1,9,L,0^FH^FD_E7_8E_8B_E5_B0_8F_E6_98_8E^FS" in zpl
    assert ["王小明"] in text_fields(zpl)


unicode_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=unicode_text, company=unicode_text, line1=unicode_text, city=unicode_text, carrier=unicode_text,
       service=unicode_text, carton=unicode_text, zone=unicode_text, route=unicode_text,
       dpi=st.sampled_from([203, 300]))
def test_arbitrary_unicode_fields_keep_the_template_structure(name, company, line1, city, carrier, service, carton,
                                                              zone, route, dpi):
    values = dict(name=name, company=company, line1=line1, city=city)
    label_values = dict(carrier=carrier, service=service, carton=carton, zone=zone, route=route)
    doc = samples.shipping(ship_to=dataclasses.replace(samples.CUSTOMER, **values), **label_values)
    # the template skeleton: same fields present, every present value replaced by plain "X"
    plain = lambda v: "X" if clean(v) else v  # noqa: E731
    skeleton_doc = samples.shipping(ship_to=dataclasses.replace(samples.CUSTOMER, **{k: plain(v) for k, v in values.items()}),
                                    **{k: plain(v) for k, v in label_values.items()})
    zpl = render.to_zpl(doc, dpi=dpi).decode("ascii")
    assert structure(zpl) == structure(render.to_zpl(skeleton_doc, dpi=dpi).decode("ascii"))
    assert zpl.count("^XA") == 1 and zpl.count("^XZ") == 1 and zpl.count("^CI28") == 1
    for data in FIELD.findall(zpl):
        assert "^" not in data and "~" not in data
        assert all(32 <= ord(ch) < 127 for ch in data)
        assert "\\" not in data.replace("\\&", "")
    # what the printer prints is exactly what the layout laid out
    lay = layouts.layout(doc)
    assert text_fields(zpl) == [list(t.lines) for t in lay.texts()]
    assert layouts.overflow(lay) == []
