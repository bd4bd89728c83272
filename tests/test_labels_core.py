"""Pure core: GS1 check digits, Code 128 encoding, text fitting, document and template validation."""
from __future__ import annotations


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labels.core import code128, gs1, layouts, samples
from labels.core.documents import from_dict
from labels.core.template import parse_template
from labels.core.textfit import ELLIPSIS, text_width, wrap
from labels.documents import (
    Address, CustomsItem, PackingSlip, PickLine, PickList, SlipLine, SsccLabel,
)
from labels.errors import BarcodeDataError, DocumentError, TemplateError


# ------------------------------------------------------------------ GS1

@pytest.mark.parametrize("body,check", [("00614141123456789", 0), ("10614141123456789", 7),
                                        ("400638133393", 1), ("03600029145", 2), ("1061414100041", 5)])
def test_gs1_check_digit(body, check):
    assert gs1.check_digit(body) == check


def test_sscc_check_digit_computed_and_verified():
    assert gs1.sscc("10614141123456789") == "106141411234567897"
    assert gs1.sscc("106141411234567897") == "106141411234567897"
    with pytest.raises(BarcodeDataError, match="has check digit 3, expected 7"):
        gs1.sscc("106141411234567893")
    with pytest.raises(BarcodeDataError, match="17 or 18 digits"):
        gs1.sscc("12345")
    assert SsccLabel(sscc="10614141123456789", ship_from=samples.SITE, ship_to=samples.CUSTOMER).sscc == \
        "106141411234567897"


def test_gtin_and_element_strings():
    assert gs1.gtin14("036000291452") == "00036000291452"
    with pytest.raises(BarcodeDataError, match="bad check digit"):
        gs1.gtin14("036000291453")
    data, hri = gs1.element_string([("02", "10614141000415"), ("37", "24"), ("400", "PO1")])
    assert data == "0210614141000415" "3724" "\x1d" "400PO1"
    assert hri == "(02)10614141000415(37)24(400)PO1"
    with pytest.raises(BarcodeDataError, match=r"AI \(400\) value contains '#'"):
        gs1.element_string([("400", "PO#1")])
    with pytest.raises(BarcodeDataError, match=r"AI \(37\) value '123456789' must be at most 8"):
        gs1.element_string([("37", "123456789")])


# ------------------------------------------------------------------ Code 128

def test_code128_values_and_check():
    values, zpl = code128.encode("1234")
    assert values == (105, 12, 34, (105 + 12 + 2 * 34) % 103)
    assert zpl == ">;1234"
    values, zpl = code128.encode("AB")
    assert values == (104, 33, 34, (104 + 33 + 2 * 34) % 103) and zpl == ">:AB"


printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=80)


@settings(max_examples=300, deadline=None)
@given(printable)
def test_code128_round_trips_through_symbol_values(data):
    values, zpl = code128.encode(data)
    assert code128.decode_values(values) == data
    assert values[-1] == (values[0] + sum(i * v for i, v in enumerate(values[1:-1], 1))) % 103
    assert "^" not in zpl and "~" not in zpl


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["00", "37", "400", "420"]), min_size=1, max_size=3, unique=True),
       st.text(st.sampled_from("0123456789"), min_size=1, max_size=8), st.text(st.sampled_from("AB12-/"), min_size=1, max_size=12))
def test_gs1_round_trips_with_fnc1_separators(ais, digits, alnum):
    pairs = []
    for ai in ais:
        pairs.append((ai, {"00": "106141411234567897", "37": digits, "400": alnum, "420": alnum}[ai]))
    data, _ = gs1.element_string(pairs)
    values, _ = code128.encode(data, gs1=True)
    assert values[1] == code128.FNC1
    assert code128.decode_values(values) == data


# ------------------------------------------------------------------ text fitting

@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.floats(5, 120), st.floats(1.5, 8), st.integers(1, 4), st.booleans(), st.booleans())
def test_wrap_always_fits_its_box(text, width, size, max_lines, bold, mono):
    lines = wrap(text, width, size, bold=bold, mono=mono, max_lines=max_lines)
    assert len(lines) <= max_lines
    for line in lines:
        assert text_width(line, size, bold, mono) <= width + 1e-9
        assert line == line.strip() or line.endswith(ELLIPSIS)


def test_wrap_keeps_words_and_marks_truncation():
    assert wrap("Organic cotton T-shirt, black, size M", 60, 3.4, max_lines=3) == \
        ("Organic cotton T-shirt, black,", "size M")
    cut = wrap("word " * 50, 40, 3.4, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith(ELLIPSIS)
    assert wrap("  \x00\x1b  ", 40, 3) == ()


# ------------------------------------------------------------------ documents

@pytest.mark.parametrize("build,message", [
    (lambda: samples.shipping(service_level="teleport"), "ShippingLabel.service_level must be one of"),
    (lambda: samples.shipping(tracking_number="1Z 999"), "ShippingLabel.tracking_number must be 1-40 printable ASCII"),
    (lambda: samples.shipping(weight_g=-5), "ShippingLabel.weight_g must be a number >= 0"),
    (lambda: samples.shipping(ship_date="23/11/2026"), "ShippingLabel.ship_date must be an ISO date"),
    (lambda: SlipLine("SKU", "x", 0), "SlipLine.quantity must be an integer >= 1"),
    (lambda: Address(name="x", country="USA"), "Address.country must be an ISO 3166 alpha-2 code"),
    (lambda: CustomsItem("x", "12", "US", 1, 1.0, 1), "CustomsItem.hs_code must be 6-10 digits"),
    (lambda: PackingSlip("SO-1", samples.CUSTOMER, (), "2026-11-23"), "PackingSlip.lines must not be empty"),
    (lambda: samples.sscc(count=0), "SsccLabel.count must be 1..99999999"),
])
def test_bad_documents_raise_clear_errors(build, message):
    with pytest.raises(DocumentError, match=message.replace(".", r"\.").replace("(", r"\(")):
        build()


def test_from_dict_builds_nested_documents():
    doc = from_dict("packing", {
        "order_ref": "SO-9", "order_date": "2026-11-23",
        "ship_to": {"name": "A B", "line1": "1 Main", "city": "X", "postal_code": "1", "country": "US"},
        "lines": [{"sku": "S1", "description": "Thing", "quantity": 2}],
    })
    assert doc.lines == (SlipLine("S1", "Thing", 2),) and doc.ship_to.name == "A B"
    with pytest.raises(DocumentError, match="PackingSlip: unknown field 'colour'"):
        from_dict("packing", {"colour": 1})


def test_pick_list_is_ordered_by_pick_path_across_pages():
    lines = [PickLine(f"L-{i:03d}", (i * 37) % 101, f"SKU{i}", "Item", 1) for i in range(40)]
    lay = layouts.layout(PickList("PL-1", "reno", tuple(lines)))
    assert len(lay.pages) == 4  # 12 rows per letter page
    locs = [t.lines[0] for t in lay.texts() if t.name.endswith("_location")]
    assert locs == [ln.location for ln in sorted(lines, key=lambda ln: (ln.walk_seq, ln.location))]
    footers = [t.lines[0] for t in lay.texts() if t.name == "footer"]
    assert footers == [f"Pick list PL-1 - page {i} of 4" for i in range(1, 5)]


# ------------------------------------------------------------------ templates

GOOD = {"merchant_id": "acme", "brand_name": "Acme", "primary_color": "#1a73e8", "message": "Hi",
        "return_address": {"name": "Acme Returns", "line1": "PO Box 1", "city": "Portland", "country": "US"},
        "shipping_label": {"hide": ["carton", "weight"]}}


def test_template_parses_and_normalises():
    t = parse_template(GOOD, "acme.toml")
    assert t.primary_color == "#1A73E8" and t.paper == "letter" and t.return_address.name == "Acme Returns"
    assert not t.shows("shipping_label", "carton") and t.shows("shipping_label", "order_ref")


@pytest.mark.parametrize("change,message", [
    ({"colour": "red"}, "acme.toml: colour: unknown key"),
    ({"primary_color": "blue"}, "acme.toml: primary_color: must be a colour like '#1A73E8', got 'blue'"),
    ({"merchant_id": ""}, "acme.toml: merchant_id: is required"),
    ({"paper": "legal"}, "acme.toml: paper: must be 'letter' or 'a4', got 'legal'"),
    ({"shipping_label": {"hide": ["tracking_number"]}}, "acme.toml: shipping_label.hide: unknown field 'tracking_number'"),
    ({"shipping_label": {"show": []}}, "acme.toml: shipping_label.show: unknown key (allowed: hide)"),
    ({"return_address": {"line1": "x"}}, "acme.toml: return_address.name: is required"),
    ({"return_address": {"name": "x", "country": "USA"}}, "acme.toml: return_address: Address.country must be"),
    ({"message": "x" * 401}, "acme.toml: message: must be at most 400 characters"),
    ({"brand_name": 5}, "acme.toml: brand_name: must be a string, got int"),
])
def test_bad_templates_name_the_key(change, message):
    with pytest.raises(TemplateError) as err:
        parse_template({**GOOD, **change}, "acme.toml")
    assert str(err.value).startswith(message)


def test_template_changes_the_layout():
    t = parse_template(GOOD, "acme.toml")
    lay = layouts.layout(samples.shipping(), t)
    names = {x.name for x in lay.texts()}
    assert "carton" not in names and "weight" not in names and "order_ref" in names
    from_lines = [x.lines[0] for x in lay.texts() if x.name.startswith("from_")]
    assert from_lines == ["FROM:", "Acme Returns", "PO Box 1", "Portland", "US"]  # white-label ship-from
    assert [x.lines for x in lay.texts() if x.name == "footer"] == [("Shipped by Acme",)]
