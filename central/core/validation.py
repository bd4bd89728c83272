"""Validation of API payloads (orders, SKUs, sites, transfers, webhooks). Pure.

Every validator collects ALL problems and raises :class:`Invalid` with ``fields`` mapping each
offending path (``ship_to.country``, ``lines[2].qty``) to a message; it returns a normalised copy.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Mapping

# ISO 3166-1 alpha-2
COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split())

POSTAL_PATTERNS = {
    "US": r"\d{5}(-\d{4})?", "CA": r"[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d", "GB": r"[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}",
    "DE": r"\d{5}", "FR": r"\d{5}", "IT": r"\d{5}", "ES": r"\d{5}", "NL": r"\d{4} ?[A-Za-z]{2}", "AU": r"\d{4}",
    "JP": r"\d{3}-?\d{4}", "MX": r"\d{5}", "BR": r"\d{5}-?\d{3}", "IN": r"\d{6}", "CH": r"\d{4}", "AT": r"\d{4}",
    "BE": r"\d{4}", "SE": r"\d{3} ?\d{2}", "PL": r"\d{2}-\d{3}", "DK": r"\d{4}", "NO": r"\d{4}", "IE": r"[A-Za-z0-9]{3} ?[A-Za-z0-9]{4}",
}
POSTAL_REQUIRED = frozenset(POSTAL_PATTERNS) - {"IE"}

SERVICES = ("ground", "two_day", "overnight")
SCOPES = ("read", "write", "admin")
WEBHOOK_EVENTS = ("order.shipped", "order.cancelled", "order.exception", "inventory.low_stock", "inventory.updated")

MAX_LINES = 200
MAX_LINE_QTY = 10_000

_SKU_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}")
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,79}")
_CHANNEL_RE = re.compile(r"[a-z0-9][a-z0-9_\-]{0,39}")
_SITE_RE = re.compile(r"[A-Z0-9]{2,12}")
_GTIN_RE = re.compile(r"\d{8}|\d{12,14}")
_HHMM_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class Invalid(ValueError):
    """Raised by validators; ``fields`` maps field paths to messages."""

    def __init__(self, fields: dict[str, str]):
        first = next(iter(fields.items()))
        super().__init__(f"{len(fields)} invalid field(s), first {first[0]}: {first[1]}")
        self.fields = dict(fields)


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, path: str, msg: str) -> None:
        self.fields.setdefault(path, msg)

    def raise_if_any(self) -> None:
        if self.fields:
            raise Invalid(self.fields)


def _text(errs: _Errors, obj: Mapping, path: str, key: str, *, required: bool = True, max_len: int = 200,
          pattern: re.Pattern | None = None, choices: tuple[str, ...] | None = None, default: Any = None) -> Any:
    full = f"{path}{key}"
    if key not in obj or obj[key] is None:
        if required:
            errs.add(full, "is required")
        return default
    value = obj[key]
    if not isinstance(value, str):
        errs.add(full, "must be a string")
        return default
    value = value.strip()
    if required and not value:
        errs.add(full, "must not be empty")
        return default
    if len(value) > max_len:
        errs.add(full, f"must be at most {max_len} characters")
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        errs.add(full, "must not contain control characters")
        return default
    if pattern is not None and value and not pattern.fullmatch(value):
        errs.add(full, "has an invalid format")
        return default
    if choices is not None and value not in choices:
        errs.add(full, f"must be one of {', '.join(choices)}")
        return default
    return value


def _int(errs: _Errors, obj: Mapping, path: str, key: str, *, required: bool = True, lo: int = 0,
         hi: int = 1_000_000_000, default: Any = None) -> Any:
    full = f"{path}{key}"
    if key not in obj or obj[key] is None:
        if required:
            errs.add(full, "is required")
        return default
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        errs.add(full, "must be an integer")
        return default
    if value < lo:
        errs.add(full, f"must be >= {lo}")
        return default
    if value > hi:
        errs.add(full, f"must be <= {hi}")
        return default
    return value


def _bool(errs: _Errors, obj: Mapping, path: str, key: str, default: bool = False) -> bool:
    if key not in obj or obj[key] is None:
        return default
    if not isinstance(obj[key], bool):
        errs.add(f"{path}{key}", "must be true or false")
        return default
    return obj[key]


def _unknown(errs: _Errors, obj: Mapping, path: str, allowed: set[str]) -> None:
    for key in sorted(set(obj) - allowed):
        errs.add(f"{path}{key}", "unknown field")


def _object(errs: _Errors, value: Any, path: str) -> Mapping | None:
    if not isinstance(value, Mapping):
        errs.add(path or "body", "must be a JSON object")
        return None
    return value


ADDRESS_FIELDS = {"name", "company", "line1", "line2", "city", "region", "postal_code", "country", "phone", "email"}


def validate_address(errs: _Errors, value: Any, path: str) -> dict | None:
    obj = _object(errs, value, path)
    if obj is None:
        return None
    p = f"{path}."
    _unknown(errs, obj, p, ADDRESS_FIELDS)
    out = {
        "name": _text(errs, obj, p, "name", max_len=200),
        "company": _text(errs, obj, p, "company", required=False, max_len=200),
        "line1": _text(errs, obj, p, "line1", max_len=200),
        "line2": _text(errs, obj, p, "line2", required=False, max_len=200),
        "city": _text(errs, obj, p, "city", max_len=100),
        "region": _text(errs, obj, p, "region", required=False, max_len=100),
        "postal_code": _text(errs, obj, p, "postal_code", required=False, max_len=20),
        "country": _text(errs, obj, p, "country", max_len=2),
        "phone": _text(errs, obj, p, "phone", required=False, max_len=40),
    }
    if "email" in obj:
        out["email"] = _text(errs, obj, p, "email", required=False, max_len=254,
                             pattern=re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"))
    country = out["country"]
    if country is not None and country not in COUNTRIES:
        errs.add(f"{p}country", "must be an ISO 3166-1 alpha-2 country code (e.g. US)")
        country = None
    postal = out["postal_code"]
    if country is not None:
        pat = POSTAL_PATTERNS.get(country)
        if postal is None and country in POSTAL_REQUIRED and f"{p}postal_code" not in errs.fields:
            errs.add(f"{p}postal_code", f"is required for {country}")
        elif postal is not None and pat is not None and not re.fullmatch(pat, postal):
            errs.add(f"{p}postal_code", f"is not a valid {country} postal code")
    return {k: v for k, v in out.items() if v is not None}


ORDER_FIELDS = {"channel", "channel_order_id", "service", "ship_to", "lines", "gift_message", "urgent", "hold",
                "note", "replacement_of"}
LINE_FIELDS = {"line_id", "sku", "qty"}


def validate_lines(errs: _Errors, value: Any, path: str = "lines") -> list[dict]:
    if value is None:
        errs.add(path, "is required")
        return []
    if not isinstance(value, list):
        errs.add(path, "must be a list")
        return []
    if not value:
        errs.add(path, "must contain at least one line")
        return []
    if len(value) > MAX_LINES:
        errs.add(path, f"must contain at most {MAX_LINES} lines")
        return []
    out = []
    seen_skus: dict[str, int] = {}
    seen_ids: set[str] = set()
    for i, raw in enumerate(value):
        lp = f"{path}[{i}]"
        line = _object(errs, raw, lp)
        if line is None:
            continue
        _unknown(errs, line, f"{lp}.", LINE_FIELDS)
        sku = _text(errs, line, f"{lp}.", "sku", max_len=64, pattern=_SKU_RE)
        qty = _int(errs, line, f"{lp}.", "qty", lo=1, hi=MAX_LINE_QTY)
        line_id = _text(errs, line, f"{lp}.", "line_id", required=False, max_len=80, pattern=_ID_RE)
        if line_id is None and f"{lp}.line_id" not in errs.fields:
            line_id = str(i + 1)
        if sku is not None:
            if sku in seen_skus:
                errs.add(f"{lp}.sku", f"duplicate line: SKU {sku} already on line {seen_skus[sku]}")
            seen_skus.setdefault(sku, i)
        if line_id is not None:
            if line_id in seen_ids:
                errs.add(f"{lp}.line_id", f"duplicate line_id {line_id}")
            seen_ids.add(line_id)
        out.append({"line_id": line_id, "sku": sku, "qty": qty})
    return out


def validate_order(payload: Any, known_skus: set[str] | frozenset[str] | None = None) -> dict:
    """Validate an order payload; return the normalised order. ``known_skus``: the merchant's SKUs."""
    errs = _Errors()
    obj = _object(errs, payload, "body")
    errs.raise_if_any()
    assert obj is not None
    _unknown(errs, obj, "", ORDER_FIELDS)
    order = {
        "channel": _text(errs, obj, "", "channel", required=False, max_len=40, pattern=_CHANNEL_RE, default="api"),
        "channel_order_id": _text(errs, obj, "", "channel_order_id", max_len=120, pattern=_ID_RE),
        "service": _text(errs, obj, "", "service", required=False, choices=SERVICES, default="ground"),
        "ship_to": validate_address(errs, obj.get("ship_to"), "ship_to") if "ship_to" in obj else None,
        "lines": validate_lines(errs, obj.get("lines")),
        "gift_message": _text(errs, obj, "", "gift_message", required=False, max_len=500),
        "note": _text(errs, obj, "", "note", required=False, max_len=500),
        "urgent": _bool(errs, obj, "", "urgent"),
        "hold": _bool(errs, obj, "", "hold"),
        "replacement_of": _text(errs, obj, "", "replacement_of", required=False, max_len=80, pattern=_ID_RE),
    }
    if "ship_to" not in obj:
        errs.add("ship_to", "is required")
    if known_skus is not None:
        for i, line in enumerate(order["lines"]):
            if line["sku"] is not None and line["sku"] not in known_skus:
                errs.add(f"lines[{i}].sku", f"unknown SKU {line['sku']}")
    errs.raise_if_any()
    return order


def validate_address_change(payload: Any) -> dict:
    errs = _Errors()
    obj = _object(errs, payload, "body")
    errs.raise_if_any()
    _unknown(errs, obj, "", {"ship_to"})
    if "ship_to" not in obj:
        errs.add("ship_to", "is required")
    addr = validate_address(errs, obj.get("ship_to"), "ship_to") if "ship_to" in obj else None
    errs.raise_if_any()
    return addr  # type: ignore[return-value]


def validate_reason(payload: Any, *, required: bool = False, extra: set[str] | None = None) -> dict:
    errs = _Errors()
    obj = _object(errs, payload if payload is not None else {}, "body")
    errs.raise_if_any()
    _unknown(errs, obj, "", {"reason"} | (extra or set()))
    reason = _text(errs, obj, "", "reason", required=required, max_len=500)
    errs.raise_if_any()
    return {"reason": reason or "", **{k: obj[k] for k in (extra or set()) if k in obj}}


def validate_service_change(payload: Any) -> str:
    errs = _Errors()
    obj = _object(errs, payload, "body")
    errs.raise_if_any()
    _unknown(errs, obj, "", {"service"})
    service = _text(errs, obj, "", "service", choices=SERVICES)
    errs.raise_if_any()
    return service


def validate_split(payload: Any) -> list[str]:
    errs = _Errors()
    obj = _object(errs, payload, "body")
    errs.raise_if_any()
    _unknown(errs, obj, "", {"line_ids"})
    ids = obj.get("line_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(x, str) and x for x in ids):
        errs.add("line_ids", "must be a non-empty list of line ids")
    elif len(set(ids)) != len(ids):
        errs.add("line_ids", "must not repeat a line id")
    errs.raise_if_any()
    return list(ids)


SKU_FIELDS = {"sku", "description", "gtins", "weight_g", "length_mm", "width_mm", "height_mm", "lot_tracked",
              "expiry_tracked", "hazmat", "requires_qc", "safety_stock"}


def validate_sku(payload: Any, path: str = "", *, sku_from_path: str | None = None) -> dict:
    errs = _Errors()
    out = _validate_sku_into(errs, payload, path, sku_from_path)
    errs.raise_if_any()
    return out


def _validate_sku_into(errs: _Errors, payload: Any, path: str, sku_from_path: str | None) -> dict:
    obj = _object(errs, payload, path.rstrip(".") or "body")
    if obj is None:
        return {}
    _unknown(errs, obj, path, SKU_FIELDS)
    if sku_from_path is not None:
        if "sku" in obj and obj["sku"] != sku_from_path:
            errs.add(f"{path}sku", "does not match the SKU in the URL")
        sku = sku_from_path if _SKU_RE.fullmatch(sku_from_path) else None
        if sku is None:
            errs.add(f"{path}sku", "has an invalid format")
    else:
        sku = _text(errs, obj, path, "sku", max_len=64, pattern=_SKU_RE)
    gtins = obj.get("gtins", [])
    if not isinstance(gtins, list) or len(gtins) > 20:
        errs.add(f"{path}gtins", "must be a list of at most 20 GTINs")
        gtins = []
    else:
        for i, g in enumerate(gtins):
            if not isinstance(g, str) or not _GTIN_RE.fullmatch(g) or not gtin_check_ok(g):
                errs.add(f"{path}gtins[{i}]", "must be a GTIN-8/12/13/14 with a valid check digit")
        if len(set(g for g in gtins if isinstance(g, str))) != len(gtins):
            errs.add(f"{path}gtins", "must not repeat a GTIN")
    return {
        "sku": sku,
        "description": _text(errs, obj, path, "description", required=False, max_len=300, default="") or "",
        "gtins": [g for g in gtins if isinstance(g, str)],
        "weight_g": _int(errs, obj, path, "weight_g", required=False, hi=1_000_000, default=0),
        "length_mm": _int(errs, obj, path, "length_mm", required=False, hi=100_000, default=0),
        "width_mm": _int(errs, obj, path, "width_mm", required=False, hi=100_000, default=0),
        "height_mm": _int(errs, obj, path, "height_mm", required=False, hi=100_000, default=0),
        "lot_tracked": _bool(errs, obj, path, "lot_tracked"),
        "expiry_tracked": _bool(errs, obj, path, "expiry_tracked"),
        "hazmat": _bool(errs, obj, path, "hazmat"),
        "requires_qc": _bool(errs, obj, path, "requires_qc"),
        "safety_stock": _int(errs, obj, path, "safety_stock", required=False, hi=1_000_000, default=None),
    }


def validate_sku_bulk(payload: Any) -> list[dict]:
    errs = _Errors()
    obj = _object(errs, payload, "body")
    errs.raise_if_any()
    _unknown(errs, obj, "", {"skus"})
    items = obj.get("skus")
    if not isinstance(items, list) or not items or len(items) > 1000:
        errs.add("skus", "must be a list of 1-1000 SKUs")
        errs.raise_if_any()
    out = [_validate_sku_into(errs, item, f"skus[{i}].", None) for i, item in enumerate(items)]
    seen: set[str] = set()
    for i, item in enumerate(out):
        if item.get("sku") in seen:
            errs.add(f"skus[{i}].sku", "duplicate SKU")
        seen.add(item.get("sku"))
    errs.raise_if_any()
    return out


def gtin_check_ok(code: str) -> bool:
    digits = [int(c) for c in code]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


SITE_FIELDS = {"site_id", "name", "line1", "city", "region", "postal_code", "country", "lat", "lon", "timezone",
               "cutoffs", "holiday_country", "holiday_subdivision", "capabilities", "capacity_per_day", "active",
               "service_regions", "closures"}


def validate_site(payload: Any, path: str = "") -> dict:
    errs = _Errors()
    obj = _object(errs, payload, path.rstrip(".") or "body")
    errs.raise_if_any()
    _unknown(errs, obj, path, SITE_FIELDS)
    out = {
        "site_id": _text(errs, obj, path, "site_id", max_len=12, pattern=_SITE_RE),
        "name": _text(errs, obj, path, "name", max_len=120),
        "line1": _text(errs, obj, path, "line1", required=False, max_len=200, default="") or "",
        "city": _text(errs, obj, path, "city", required=False, max_len=100, default="") or "",
        "region": _text(errs, obj, path, "region", required=False, max_len=100, default="") or "",
        "postal_code": _text(errs, obj, path, "postal_code", required=False, max_len=20, default="") or "",
        "country": _text(errs, obj, path, "country", max_len=2),
        "timezone": _text(errs, obj, path, "timezone", max_len=64),
        "holiday_country": _text(errs, obj, path, "holiday_country", required=False, max_len=2, default=None),
        "holiday_subdivision": _text(errs, obj, path, "holiday_subdivision", required=False, max_len=10, default=None),
        "capacity_per_day": _int(errs, obj, path, "capacity_per_day", required=False, hi=10_000_000, default=0),
        "active": _bool(errs, obj, path, "active", default=True),
    }
    if out["country"] is not None and out["country"] not in COUNTRIES:
        errs.add(f"{path}country", "must be an ISO 3166-1 alpha-2 country code")
    for key in ("lat", "lon"):
        v = obj.get(key)
        lim = 90 if key == "lat" else 180
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not -lim <= v <= lim:
            errs.add(f"{path}{key}", f"must be a number between -{lim} and {lim}")
        else:
            out[key] = float(v)
    cutoffs = obj.get("cutoffs", {})
    if not isinstance(cutoffs, Mapping):
        errs.add(f"{path}cutoffs", "must be an object of service -> HH:MM")
        cutoffs = {}
    for svc, hhmm in cutoffs.items():
        if svc not in SERVICES:
            errs.add(f"{path}cutoffs.{svc}", f"unknown service (known: {', '.join(SERVICES)})")
        elif not isinstance(hhmm, str) or not _HHMM_RE.fullmatch(hhmm):
            errs.add(f"{path}cutoffs.{svc}", "must be HH:MM")
    out["cutoffs"] = dict(cutoffs)
    for key in ("capabilities", "service_regions"):
        v = obj.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) and 0 < len(x) <= 40 for x in v) or len(v) > 100:
            errs.add(f"{path}{key}", "must be a list of short strings")
            v = []
        out[key] = list(v)
    if "closures" in obj:   # [{date, reason}]; given = the site's complete list (seeds set it as-is)
        out["closures"] = _closure_list(errs, obj["closures"], f"{path}closures", None)
    errs.raise_if_any()
    return out


def validate_transfer(payload: Any) -> dict:
    errs = _Errors()
    obj = _object(errs, payload, "body")
    errs.raise_if_any()
    _unknown(errs, obj, "", {"from_site", "to_site", "lines", "transfer_id"})
    out = {
        "transfer_id": _text(errs, obj, "", "transfer_id", required=False, max_len=80, pattern=_ID_RE),
        "from_site": _text(errs, obj, "", "from_site", max_len=12, pattern=_SITE_RE),
        "to_site": _text(errs, obj, "", "to_site", max_len=12, pattern=_SITE_RE),
    }
    if out["from_site"] and out["from_site"] == out["to_site"]:
        errs.add("to_site", "must differ from from_site")
    lines = validate_lines(errs, obj.get("lines"))
    out["lines"] = [{"sku": ln["sku"], "qty": ln["qty"]} for ln in lines]
    errs.raise_if_any()
    return out


def validate_webhook(payload: Any) -> dict:
    errs = _Errors()
    obj = _object(errs, payload, "body")
    errs.raise_if_any()
    _unknown(errs, obj, "", {"url", "events", "secret"})
    url = _text(errs, obj, "", "url", max_len=500, pattern=re.compile(r"https?://[^\s/$.?#][^\s]*"))
    events = obj.get("events")
    if not isinstance(events, list) or not events:
        errs.add("events", f"must be a non-empty list of: {', '.join(WEBHOOK_EVENTS)}")
        events = []
    for i, e in enumerate(events):
        if e not in WEBHOOK_EVENTS:
            errs.add(f"events[{i}]", f"must be one of {', '.join(WEBHOOK_EVENTS)}")
    secret = _text(errs, obj, "", "secret", required=False, max_len=200)
    if secret is not None and len(secret) < 16:
        errs.add("secret", "must be at least 16 characters")
    errs.raise_if_any()
    return {"url": url, "events": sorted(set(events)), "secret": secret}


def validate_adjustment(payload: Any) -> dict:
    errs = _Errors()
    obj = _object(errs, payload, "body")
    errs.raise_if_any()
    _unknown(errs, obj, "", {"delta", "reason", "safety_stock", "low_stock_threshold"})
    out = {
        "delta": _int(errs, obj, "", "delta", required=False, lo=-1_000_000, hi=1_000_000, default=0),
        "reason": _text(errs, obj, "", "reason", required=False, max_len=200, default="adjustment") or "adjustment",
        "safety_stock": _int(errs, obj, "", "safety_stock", required=False, hi=1_000_000),
        "low_stock_threshold": _int(errs, obj, "", "low_stock_threshold", required=False, hi=1_000_000),
    }
    if not out["delta"] and out["safety_stock"] is None and out["low_stock_threshold"] is None:
        errs.add("delta", "give a non-zero delta, safety_stock or low_stock_threshold")
    errs.raise_if_any()
    return out


MAX_CLOSURES = 400
CLOSURE_PAST_DAYS = 366          # a closure may stay listed up to a year after it happened
CLOSURE_FUTURE_DAYS = 3 * 366    # and be planned up to three years ahead


def validate_closures(payload: Any, today: Any) -> list[dict]:
    """Body of ``PUT /sites/{site_id}/closures``: ``{"closures": [{"date": "YYYY-MM-DD", "reason": "..."}]}``
    (the complete list; an empty list reopens every day). ``today`` is a ``datetime.date``. Returns the
    closures sorted by date."""
    errs = _Errors()
    obj = _object(errs, payload, "body")
    errs.raise_if_any()
    _unknown(errs, obj, "", {"closures"})
    out = _closure_list(errs, obj.get("closures"), "closures", today)
    errs.raise_if_any()
    return out


def _closure_list(errs: _Errors, items: Any, where: str, today: Any) -> list[dict]:
    """[{date, reason}] sorted by date; ``today`` None skips the date-range rule (catalog seeds)."""
    if not isinstance(items, list):
        errs.add(where, "is required: a list of {date, reason} (empty to reopen every day)")
        items = []
    if len(items) > MAX_CLOSURES:
        errs.add(where, f"at most {MAX_CLOSURES} closures")
        items = []
    lo = today - _dt.timedelta(days=CLOSURE_PAST_DAYS) if today is not None else _dt.date.min
    hi = today + _dt.timedelta(days=CLOSURE_FUTURE_DAYS) if today is not None else _dt.date.max
    out: list[dict] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = f"{where}[{i}]."
        if not isinstance(item, Mapping):
            errs.add(f"{where}[{i}]", "must be an object {date, reason}")
            continue
        _unknown(errs, item, path, {"date", "reason"})
        raw = _text(errs, item, path, "date", max_len=10)
        reason = _text(errs, item, path, "reason", max_len=200)
        if raw is None:
            continue
        try:
            day = _dt.date.fromisoformat(raw) if len(raw) == 10 else None
        except ValueError:
            day = None
        if day is None:
            errs.add(f"{path}date", "must be a calendar date YYYY-MM-DD")
            continue
        if not lo <= day <= hi:
            errs.add(f"{path}date", f"must be between {lo.isoformat()} and {hi.isoformat()}")
            continue
        if raw in seen:
            errs.add(f"{path}date", f"duplicate of {where}[{seen[raw]}].date")
            continue
        seen[raw] = i
        if reason is not None:
            out.append({"date": raw, "reason": reason})
    return sorted(out, key=lambda c: c["date"])
