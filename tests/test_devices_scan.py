"""Scan parsing (GS1, GTIN, plain codes) and duplicate-scan debounce: exact values."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import errors
from devices.core.scan import Debouncer, Scan, normalize_gtin, parse_scan

GS = "\x1d"


def test_gs1_128_with_gs_separators_is_fully_parsed():
    scan = parse_scan("]C1" + "0109506000134352" + "17201231" + "10ABC123" + GS + "2112345" + GS + "3710")
    assert scan == Scan(
        kind="gs1",
        text="01095060001343521720123110ABC123\x1d2112345\x1d3710",
        symbology="]C1",
        gtin="09506000134352",
        lot="ABC123",
        expiry=dt.date(2020, 12, 31),
        serial="12345",
        count=10,
        sscc=None,
        ais=(("01", "09506000134352"), ("17", "201231"), ("10", "ABC123"), ("21", "12345"), ("37", "10")),
    )


def test_datamatrix_expiry_day_00_means_end_of_month():
    scan = parse_scan("]d2010950600013435210LOT1" + GS + "17240200")
    assert (scan.kind, scan.symbology, scan.gtin, scan.lot, scan.expiry) == (
        "gs1", "]d2", "09506000134352", "LOT1", dt.date(2024, 2, 29))


def test_qr_gs1_and_leading_fnc1_as_gs():
    scan = parse_scan("]Q3" + GS + "0109506000134352" + "21SN-9")
    assert (scan.kind, scan.gtin, scan.serial, scan.lot) == ("gs1", "09506000134352", "SN-9", None)


def test_sscc_logistic_label_with_content_gtin_and_count():
    scan = parse_scan("]C1" + "00106141411234567897" + "0209506000134352" + "3724" + GS)
    assert (scan.kind, scan.sscc, scan.gtin, scan.count) == ("sscc", "106141411234567897", "09506000134352", 24)


def test_bare_sscc_and_bare_gs1_without_symbology():
    assert parse_scan("00106141411234567897").sscc == "106141411234567897"
    scan = parse_scan("010950600013435210L7")
    assert (scan.kind, scan.symbology, scan.gtin, scan.lot) == ("gs1", None, "09506000134352", "L7")


def test_human_readable_gs1():
    scan = parse_scan("(01)09506000134352(17)201200(10)AB")
    assert (scan.gtin, scan.expiry, scan.lot) == ("09506000134352", dt.date(2020, 12, 31), "AB")


@pytest.mark.parametrize("raw, gtin", [
    ("96385074", "00000096385074"),          # GTIN-8
    ("012345678905", "00012345678905"),      # UPC-A / GTIN-12
    ("4006381333931", "04006381333931"),     # EAN-13
    ("10614141000415", "10614141000415"),    # GTIN-14
    ("]E04006381333931", "04006381333931"),  # EAN-13 with symbology identifier
    ("4006381333931\r\n", "04006381333931"),  # CRLF terminator stripped
])
def test_plain_gtins_are_verified_and_normalised(raw, gtin):
    scan = parse_scan(raw)
    assert (scan.kind, scan.gtin) == ("gtin", gtin)


@pytest.mark.parametrize("raw, text", [("A-01-02-3", "A-01-02-3"), ("TOTE-0042", "TOTE-0042"),
                                       ("SO-100017", "SO-100017"), ("1234567", "1234567"),
                                       ("]C0HELLO", "HELLO")])
def test_anything_else_is_a_plain_code(raw, text):
    scan = parse_scan(raw)
    assert (scan.kind, scan.text, scan.gtin) == ("code", text, None)


@pytest.mark.parametrize("raw, exc", [
    ("4006381333932", errors.BadCheckDigit),
    ("]C10109506000134353", errors.BadCheckDigit),
    ("]C100106141411234567890", errors.BadCheckDigit),
    ("]E01234", errors.BadCheckDigit),
    ("]C10109506000134352" + "17209999", errors.MalformedGS1),
    ("]C1zzz", errors.MalformedGS1),
    ("AB\x07C", errors.ControlCharacterInScan),
    ("LOC\x1bA1", errors.ControlCharacterInScan),
    ("abc\tdef", errors.ControlCharacterInScan),
    ("x" * 513, errors.ScanTooLong),
    ("9" * 10_000, errors.ScanTooLong),
    ("", errors.EmptyScan),
    ("\r\n", errors.EmptyScan),
])
def test_refused_scans_raise_typed_errors(raw, exc):
    with pytest.raises(exc):
        parse_scan(raw)
    assert issubclass(exc, errors.ScanError) and issubclass(exc, errors.DevicesError)


def test_exactly_512_chars_is_accepted():
    assert parse_scan("L" * 512).kind == "code"


def test_normalize_gtin():
    assert normalize_gtin("012345678905") == "00012345678905"
    with pytest.raises(errors.BadCheckDigit):
        normalize_gtin("012345678906")


def test_debouncer_drops_same_code_within_window_only():
    d = Debouncer(400)
    assert d.seen("A", 1000) is False
    assert d.seen("A", 1399) is True      # duplicate within window
    assert d.seen("B", 1399) is False     # other codes are independent
    assert d.seen("A", 1400) is False     # window measured from the last accepted read
    assert d.seen("A", 1500) is True
    assert d.seen("A", 900) is False      # clock went backwards: treated as fresh
    zero = Debouncer(0)
    assert zero.seen("A", 5) is False and zero.seen("A", 5) is False


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=600),
                 st.builds(lambda p, b: p + b, st.sampled_from(["]C1", "]d2", "]Q3", "]E0", "01", "00", "("]),
                           st.text(alphabet="0123456789()\x1dABCx-", max_size=60))))
def test_any_input_yields_a_scan_or_a_typed_refusal(raw):
    try:
        scan = parse_scan(raw)
    except errors.ScanError:
        return
    assert scan.kind in ("gs1", "gtin", "sscc", "code")
    assert len(scan.text) <= 512
    assert not any(ord(c) < 0x20 and c != GS for c in scan.text)
    if scan.gtin is not None:
        assert len(scan.gtin) == 14 and normalize_gtin(scan.gtin) == scan.gtin
