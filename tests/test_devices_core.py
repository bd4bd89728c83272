"""Pure device logic: ~HS and DLE EOT status, ZPL stream/labels, scale frames, ESC/POS preview."""
from __future__ import annotations

import pytest

from devices import errors
from devices.core.escpos_text import escpos_preview
from devices.core.printer_status import (
    PrinterStatus,
    format_escpos_status,
    format_hs,
    parse_escpos_status,
    parse_hs,
    split_hs_lines,
)
from devices.core.scale_frames import (
    Reading,
    format_cas,
    format_nci,
    format_sics,
    parse_cas,
    parse_nci,
    parse_nci_status,
    parse_sics,
    to_grams,
)
from devices.core.zpl import Barcode, Box, Text, ZplStream, parse_label

# A real ZT410 reply: paper out + paused in line 1, head open in line 2.
REAL_HS = (b"\x02030,1,1,1245,000,0,0,0,000,0,0,0\x03\r\n"
           b"\x02001,0,1,0,1,2,6,0,00000000,1,000\x03\r\n"
           b"\x021234,0\x03\r\n")


def test_parse_real_hs_reply():
    status = parse_hs(REAL_HS)
    assert (status.paper_out, status.paused, status.head_open, status.ribbon_out, status.buffer_full) == (
        True, True, True, False, False)
    assert status.problems == ("paper out", "head open", "paused")
    assert status.ok is False
    assert status.describe() == "paper out, head open, paused"


def test_hs_round_trip_of_every_flag():
    for flags in ({}, {"paper_out": True}, {"ribbon_out": True}, {"head_open": True}, {"paused": True},
                  {"buffer_full": True}):
        status = PrinterStatus(formats_in_buffer=3, labels_remaining=7, **flags)
        assert parse_hs(format_hs(status)) == status
    assert parse_hs(format_hs(PrinterStatus())).describe() == "ready"


@pytest.mark.parametrize("bad", [REAL_HS[:40], b"\x02030,2,0,1245,000,0,0,0,000,0,0,0\x03\x02001\x03\x02x\x03",
                                 b"\x02a,b\x03\x02c\x03\x02d\x03"])
def test_malformed_hs_is_a_typed_error(bad):
    with pytest.raises(errors.PrinterStatusError):
        parse_hs(bad)


def test_split_hs_waits_for_three_lines():
    assert split_hs_lines(REAL_HS[:60]) is None
    assert len(split_hs_lines(REAL_HS)) == 3


def test_escpos_status_bytes():
    status = PrinterStatus(paper_out=True, head_open=True)
    offline, paper = format_escpos_status(2, status)[0], format_escpos_status(4, status)[0]
    assert (offline, paper) == (0x36, 0x72)
    assert parse_escpos_status(offline, paper).problems == ("paper out", "head open")
    assert parse_escpos_status(0x12, 0x12).ok
    with pytest.raises(errors.PrinterStatusError):
        parse_escpos_status(0xFF, 0x12)


def test_zpl_stream_splits_formats_and_tilde_commands_across_chunks():
    data = b"junk~HS^XA^FO10,20^FDone^FS^XZ\r\n^XA^FDtwo^FS^XZ~JA"
    stream = ZplStream()
    items = []
    for i in range(0, len(data), 5):
        items += stream.feed(data[i:i + 5])
    assert items == [("tilde", "HS"), ("format", b"^XA^FO10,20^FDone^FS^XZ"), ("format", b"^XA^FDtwo^FS^XZ"),
                     ("tilde", "JA")]
    assert stream.pending == 0
    assert stream.feed(b"^XA^FDhalf") == [] and stream.pending == 10


def test_unescaped_tilde_in_field_data_is_a_command_like_on_a_printer():
    assert ZplStream().feed(b"^XA^FDa~HSb^FS^XZ")[0] == ("tilde", "HS")


def test_parse_label_elements_with_fh_escapes():
    label = parse_label(b"^XA^PW400^LL300^CF0,30^FO10,20^FDHello^FS^FO10,60^A0N,50,40^FH^FDA_5EB_7EC_C3_A9^FS"
                        b"^FO5,5^GB390,290,3^FS^BY2,3,80^FO20,120^BCN,80,Y^FD12345^FS^PQ2^XZ")
    assert (label.width, label.length, label.quantity) == (400, 300, 2)
    assert label.elements == (
        Text(10, 20, 30, 0, "Hello"),
        Text(10, 60, 50, 40, "A^B~Cé"),
        Box(5, 5, 390, 290, 3),
        Barcode(20, 120, "BC", 80, 2, "12345"),
    )
    assert label.texts() == ["Hello", "A^B~Cé"] and label.barcodes() == ["12345"]


@pytest.mark.parametrize("line, expected", [
    ("S S     100.00 g", Reading("stable", 100, "g", "S S     100.00 g")),
    ("S S      1.2345 kg", Reading("stable", 1235, "kg", "S S      1.2345 kg")),
    ("S D       2500 g", Reading("motion", 2500, "g", "S D       2500 g")),
    ("S I", Reading("busy", None, None, "S I")),
    ("S +", Reading("overload", None, None, "S +")),
    ("S -", Reading("underzero", None, None, "S -")),
    ("S S   -12.0 g", Reading("underzero", None, "g", "S S   -12.0 g")),
    ("S S      2.000 lb", Reading("stable", 907, "lb", "S S      2.000 lb")),
])
def test_parse_sics(line, expected):
    assert parse_sics(line) == expected


@pytest.mark.parametrize("frame", ["ES", "S X 12 g", "S S 12 furlongs", "\xfe\x00#@!"])
def test_bad_sics_frames(frame):
    with pytest.raises(errors.ScaleProtocolError):
        parse_sics(frame)


def test_nci_frames():
    assert parse_nci("\n  2.721lb\r\n00\r\x03") == Reading("stable", 1234, "lb", "\n  2.721lb\r\n00\r\x03")
    assert parse_nci("\n  2.721lb\r\n10\r\x03").state == "motion"
    assert parse_nci("\n^^^^^^^lb\r\n02\r\x03").state == "overload"
    assert parse_nci("\n_______lb\r\n01\r\x03").state == "underzero"
    assert parse_nci("\n 12.50kg\r\n00\r\x03").grams == 12500
    assert parse_nci_status("\n10\r\x03") == {"motion": True, "at_zero": False, "under": False, "over": False}
    with pytest.raises(errors.ScaleProtocolError):
        parse_nci("\n  2.721lb\r\n4\x00\r\x03")  # RAM/EEPROM error bits
    with pytest.raises(errors.ScaleProtocolError):
        parse_nci("\n00\r\x03")  # status only, no weight
    assert format_nci("stable", 1234) == "\n  2.721lb\r\n00\r\x03"


def test_cas_frames():
    assert parse_cas("ST,GS,+   1.234kg") == Reading("stable", 1234, "kg", "ST,GS,+   1.234kg")
    assert parse_cas("US,NT,+   0.250kg").state == "motion"
    assert parse_cas("OL,GS,+  ------kg").state == "overload"
    assert parse_cas("ST,GS,-   0.500kg").state == "underzero"
    assert parse_cas("ST,GS,+  12.5 oz").grams == 354
    with pytest.raises(errors.ScaleProtocolError):
        parse_cas("XX,GS,+1.0kg")
    assert format_cas("stable", 1234) == "ST,GS,+   1.234kg"


def test_units_and_sim_formats_round_trip():
    assert to_grams("1", "lb") == 454 and to_grams("1", "oz") == 28 and to_grams("1500", "mg") == 2
    for grams in (0, 1, 999, 1234, 25_000):
        assert parse_sics(format_sics("S", "stable", grams)).grams == grams
        assert parse_cas(format_cas("stable", grams)).grams == grams
    with pytest.raises(errors.ScaleProtocolError):
        to_grams("1", "stone")


def test_escpos_preview_text_cuts_and_barcodes():
    data = (b"\x1b@\x1ba\x01\x1bE\x01ORDER 42\n\x1bE\x00Widget x2\n\x1dk\x04ABC-1\x00"
            b"\x1dkI\x05B-123\x1dVA\x03\x10\x04\x02")
    preview = escpos_preview(data)
    assert preview.text == "ORDER 42\nWidget x2\n"
    assert preview.cuts == 1
    assert preview.barcodes == ("ABC-1", "B-123")
