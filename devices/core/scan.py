"""Barcode scan parsing and duplicate-scan debounce (pure: no I/O, the clock is passed in).

``parse_scan(raw)`` turns what a scanner (serial or keyboard wedge) delivered into a
:class:`Scan`:

* an optional AIM symbology identifier is split off (``]C1`` GS1-128, ``]d2`` GS1 DataMatrix,
  ``]Q3`` GS1 QR, ``]e0`` GS1 DataBar, ``]E0``/``]E4`` EAN-13/UPC-A/EAN-8, anything else kept
  in ``symbology`` and treated as plain text);
* GS1 element strings (FNC1 transmitted as GS ``\\x1d``, or human-readable ``(01)...(10)...``)
  are parsed with ``biip``; the GTIN (AI 01, or 02 on logistic labels) and SSCC (AI 00) check
  digits are verified, expiry (AI 17, ``DD=00`` = end of month) becomes a ``date``, lot (10),
  serial (21) and count (37) are extracted;
* a bare all-digit string of 8, 12, 13 or 14 digits is a GTIN and its check digit is verified
  (so location/tote/order barcodes must not be all-digit strings of exactly those lengths);
* a bare ``00`` + 18 digits (SSCC) or ``01`` + 14 digits followed by more AIs is GS1 even
  without a symbology identifier (wedge scanners often strip it);
* anything else printable is a plain ``code`` (location, tote, order barcodes).

Refused (``devices.errors.ScanError`` subclasses, nothing is returned): empty input, more than
512 characters, any control character except GS inside GS1 data, a wrong check digit, and a
scan announced as GS1 that does not parse. One trailing terminator (CR, LF or CRLF) and
surrounding spaces are stripped before checking.

GTINs are returned normalised to 14 digits (left zero-padded), the GS1 canonical form; use
:func:`normalize_gtin` on SKU aliases before comparing.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from biip.checksums import gs1_standard_check_digit
from biip.gs1_messages import GS1Message

from devices.core.errors import (
    BadCheckDigit,
    ControlCharacterInScan,
    EmptyScan,
    MalformedGS1,
    ScanTooLong,
)

MAX_SCAN_LENGTH = 512
GS = "\x1d"
GS1_SYMBOLOGIES = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})
GTIN_SYMBOLOGIES = frozenset({"]E0", "]E1", "]E3", "]E4"})
GTIN_LENGTHS = (8, 12, 13, 14)


@dataclass(frozen=True)
class Scan:
    """One accepted scan. ``kind`` is ``gs1``, ``gtin``, ``sscc`` or ``code``."""

    kind: str
    text: str
    symbology: str | None = None
    gtin: str | None = None
    lot: str | None = None
    expiry: _dt.date | None = None
    serial: str | None = None
    count: int | None = None
    sscc: str | None = None
    ais: tuple[tuple[str, str], ...] = field(default=())

    @property
    def key(self) -> str:
        """The identity used for debounce: the payload without symbology identifier."""
        return self.text


def check_digit_ok(digits: str) -> bool:
    """True when ``digits`` (all digits, >= 2 long) ends with its GS1 mod-10 check digit."""
    if len(digits) < 2 or not digits.isdigit():
        return False
    return gs1_standard_check_digit(digits[:-1]) == int(digits[-1])


def normalize_gtin(value: str) -> str:
    """A GTIN-8/12/13/14 as 14 digits; raises :class:`BadCheckDigit` when it does not verify."""
    value = value.strip()
    if not value.isdigit() or len(value) not in GTIN_LENGTHS:
        raise BadCheckDigit(f"not a GTIN-8/12/13/14: {value!r}")
    if not check_digit_ok(value):
        raise BadCheckDigit(f"GTIN {value} has a wrong check digit (expected {gs1_standard_check_digit(value[:-1])})")
    return value.zfill(14)


def _strip_terminator(raw: str) -> str:
    for suffix in ("\r\n", "\n", "\r"):
        if raw.endswith(suffix):
            raw = raw[: -len(suffix)]
            break
    return raw.strip(" ")


def _split_symbology(text: str) -> tuple[str | None, str]:
    if len(text) >= 3 and text[0] == "]" and text[1].isalpha() and text[2].isalnum():
        return text[:3], text[3:]
    return None, text


def _control_chars(text: str, allow_gs: bool) -> list[str]:
    bad = []
    for ch in text:
        code = ord(ch)
        if ch == GS and allow_gs:
            continue
        if code < 0x20 or code == 0x7F or 0x80 <= code <= 0x9F:
            bad.append(f"0x{code:02x}")
    return bad


def _looks_like_bare_gs1(body: str) -> bool:
    if GS in body or body.startswith("("):
        return True
    if body.isdigit() and len(body) == 20 and body.startswith("00"):
        return True
    return body.startswith("01") and len(body) > 16 and body[2:16].isdigit()


def _parse_gs1(body: str, symbology: str | None) -> Scan:
    body = body.lstrip(GS)  # a leading FNC1 sent as GS
    try:
        if body.startswith("("):
            message = GS1Message.parse_hri(body)
        else:
            message = GS1Message.parse(body)
    except Exception as exc:  # biip raises ParseError (and ValueError on odd input)
        raise MalformedGS1(f"not a valid GS1 element string: {exc}") from exc
    values: dict[str, str] = {}
    ais = []
    expiry = None
    for es in message.element_strings:
        ai = es.ai.ai
        ais.append((ai, es.value))
        values.setdefault(ai, es.value)
        if ai in ("01", "02") and (es.gtin_error or not check_digit_ok(es.value)):
            raise BadCheckDigit(f"GTIN {es.value} (AI {ai}) has a wrong check digit")
        if ai == "00" and (es.sscc_error or not check_digit_ok(es.value)):
            raise BadCheckDigit(f"SSCC {es.value} (AI 00) has a wrong check digit")
        if ai == "17":
            if es.date is None:
                raise MalformedGS1(f"expiry (AI 17) {es.value!r} is not a valid date")
            expiry = expiry or es.date
    count = None
    if "37" in values:
        count = int(values["37"])
    gtin = values.get("01") or values.get("02")
    sscc = values.get("00")
    kind = "sscc" if sscc and "01" not in values else "gs1"
    return Scan(
        kind=kind,
        text=body,
        symbology=symbology,
        gtin=gtin,
        lot=values.get("10"),
        expiry=expiry,
        serial=values.get("21"),
        count=count,
        sscc=sscc,
        ais=tuple(ais),
    )


def parse_scan(raw: str) -> Scan:
    """Parse one scan; raises a :class:`devices.errors.ScanError` subclass when refused."""
    if not isinstance(raw, str):
        raise EmptyScan(f"a scan must be text, got {type(raw).__name__}")
    if len(raw) > MAX_SCAN_LENGTH + 2:
        raise ScanTooLong(f"scan of {len(raw)} characters refused (max {MAX_SCAN_LENGTH})")
    text = _strip_terminator(raw)
    if len(text) > MAX_SCAN_LENGTH:
        raise ScanTooLong(f"scan of {len(text)} characters refused (max {MAX_SCAN_LENGTH})")
    symbology, body = _split_symbology(text)
    gs1 = symbology in GS1_SYMBOLOGIES or (symbology is None and _looks_like_bare_gs1(body))
    bad = _control_chars(text, allow_gs=gs1)
    if bad:
        raise ControlCharacterInScan(f"scan contains control character(s) {', '.join(sorted(set(bad)))}")
    if not body.strip(GS + " "):
        raise EmptyScan("empty scan")
    if gs1:
        return _parse_gs1(body, symbology)
    if (symbology is None or symbology in GTIN_SYMBOLOGIES) and body.isdigit() and len(body) in GTIN_LENGTHS:
        return Scan(kind="gtin", text=body, symbology=symbology, gtin=normalize_gtin(body))
    if symbology in GTIN_SYMBOLOGIES:
        raise BadCheckDigit(f"{symbology} scan {body!r} is not a GTIN-8/12/13/14")
    return Scan(kind="code", text=body, symbology=symbology)


class Debouncer:
    """Drops the same code scanned again within ``window_ms`` of its last *accepted* read.

    ``seen(code, now_ms)`` returns True for a duplicate (ignore it) and False for a fresh scan
    (act on it; it restarts that code's window). Different codes never suppress each other.
    The caller passes a monotonic clock in milliseconds; a clock that goes backwards counts as
    a fresh scan.
    """

    def __init__(self, window_ms: int) -> None:
        if window_ms < 0:
            raise ValueError("window_ms must be >= 0")
        self.window_ms = int(window_ms)
        self._last: dict[str, int] = {}

    def seen(self, code: str, now_ms: int) -> bool:
        last = self._last.get(code)
        if last is not None and 0 <= now_ms - last < self.window_ms:
            return True
        self._last[code] = now_ms
        if len(self._last) > 256:
            self._last = {c: t for c, t in self._last.items() if 0 <= now_ms - t < self.window_ms}
        return False

    def reset(self) -> None:
        self._last.clear()
