"""GS1 check digits and element strings (AI 00 SSCC, 01/02 GTIN, 37 count, 400 PO, 420 postal)."""
from __future__ import annotations

from .code128 import GS
from .errors import BarcodeDataError

# GS1 AI encodable character set 82
CSET82 = set("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
# (fixed length or None, max length, numeric only)
AIS = {
    "00": (18, 18, True),
    "01": (14, 14, True),
    "02": (14, 14, True),
    "37": (None, 8, True),
    "400": (None, 30, False),
    "420": (None, 20, False),
}


def check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of ``digits`` (the body, without its check digit)."""
    if not digits.isdigit():
        raise BarcodeDataError(f"{digits!r} is not all digits")
    total = 0
    for i, ch in enumerate(reversed(digits)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def sscc(value: str) -> str:
    """An 18-digit SSCC from 17 digits (check digit computed) or 18 digits (check digit verified)."""
    value = str(value).strip()
    if not value.isdigit() or len(value) not in (17, 18):
        raise BarcodeDataError(f"SSCC must be 17 or 18 digits, got {value!r}")
    body = value[:17]
    cd = check_digit(body)
    if len(value) == 18 and int(value[17]) != cd:
        raise BarcodeDataError(f"SSCC {value} has check digit {value[17]}, expected {cd}")
    return body + str(cd)


def gtin14(value: str) -> str:
    """A GTIN-8/12/13/14 padded to 14 digits, check digit verified."""
    value = str(value).strip()
    if not value.isdigit() or len(value) not in (8, 12, 13, 14):
        raise BarcodeDataError(f"GTIN must be 8, 12, 13 or 14 digits, got {value!r}")
    if check_digit(value[:-1]) != int(value[-1]):
        raise BarcodeDataError(f"GTIN {value} has a bad check digit (expected {check_digit(value[:-1])})")
    return value.zfill(14)


def validate_ai(ai: str, value: str) -> str:
    if ai not in AIS:
        raise BarcodeDataError(f"unsupported AI ({ai})")
    fixed, max_len, numeric = AIS[ai]
    value = str(value)
    if not value:
        raise BarcodeDataError(f"AI ({ai}) is empty")
    if fixed and len(value) != fixed or len(value) > max_len:
        raise BarcodeDataError(f"AI ({ai}) value {value!r} must be {'exactly ' + str(fixed) if fixed else 'at most ' + str(max_len)} characters")
    if numeric and not value.isdigit():
        raise BarcodeDataError(f"AI ({ai}) value {value!r} must be digits")
    bad = [c for c in value if c not in CSET82]
    if bad:
        raise BarcodeDataError(f"AI ({ai}) value contains {bad[0]!r}, outside the GS1 character set")
    if ai in ("01", "02"):
        gtin14(value)
    if ai == "00":
        sscc(value)
    return value


def element_string(pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """``(data, hri)`` for GS1-128: data with GS after each variable-length field that is not last."""
    data, hri = [], []
    for idx, (ai, value) in enumerate(pairs):
        value = validate_ai(ai, value)
        data.append(ai + value)
        hri.append(f"({ai}){value}")
        if AIS[ai][0] is None and idx < len(pairs) - 1:
            data.append(GS)
    return "".join(data), "".join(hri)


def sscc_hri(value: str) -> str:
    """SSCC human-readable grouping: (00) ext + company/serial + check."""
    return f"(00) {value[0]} {value[1:8]} {value[8:17]} {value[17]}"
