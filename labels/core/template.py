"""Per-merchant template: branding, white-label return address, message, fields to hide.

``parse_template(data, source)`` validates a dict (from TOML) and returns a frozen
:class:`Template`; every problem raises :class:`TemplateError` naming the source and key.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .documents import Address
from .errors import DocumentError, TemplateError

HIDEABLE = {
    "shipping_label": ("ship_from", "order_ref", "shipment_ref", "weight", "carton", "zone", "date"),
    "packing_slip": ("logo", "message", "return_address", "order_barcode", "ship_to", "customer_note", "sku"),
    "sscc_label": ("ship_from", "carrier", "carton_of"),
}
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_TOP = {"merchant_id", "brand_name", "logo", "primary_color", "accent_color", "message", "paper",
        "return_address", *HIDEABLE}
_ADDRESS_KEYS = {"name", "line1", "line2", "city", "region", "postal_code", "country", "company", "phone"}


@dataclass(frozen=True)
class Template:
    merchant_id: str = ""
    brand_name: str = ""
    logo: str = ""  # absolute path, checked by the loader
    primary_color: str = "#000000"
    accent_color: str = "#555555"
    message: str = ""
    paper: str = "letter"  # letter or a4 (packing slips, pick lists, manifests, invoices)
    return_address: Address | None = None
    hidden: dict = field(default_factory=dict)  # document -> frozenset of hidden field names

    def shows(self, document: str, name: str) -> bool:
        return name not in self.hidden.get(document, frozenset())


DEFAULT_TEMPLATE = Template()


def _fail(source: str, key: str, problem: str) -> TemplateError:
    return TemplateError(f"{source}: {key}: {problem}")


def _text(source: str, key: str, value, max_len: int) -> str:
    if not isinstance(value, str):
        raise _fail(source, key, f"must be a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise _fail(source, key, f"must be at most {max_len} characters (got {len(value)})")
    return value


def parse_template(data: dict, source: str = "<template>") -> Template:
    if not isinstance(data, dict):
        raise _fail(source, "(root)", "must be a table")
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise _fail(source, unknown[0], f"unknown key (allowed: {', '.join(sorted(_TOP))})")
    merchant_id = _text(source, "merchant_id", data.get("merchant_id", ""), 64)
    if not re.match(r"^[A-Za-z0-9_.-]{1,64}$", merchant_id):
        raise _fail(source, "merchant_id", "is required: 1-64 letters, digits, '_', '.', '-'")
    colors = {}
    for key, default in (("primary_color", "#000000"), ("accent_color", "#555555")):
        value = _text(source, key, data.get(key, default), 7)
        if not _COLOR.match(value):
            raise _fail(source, key, f"must be a colour like '#1A73E8', got {value!r}")
        colors[key] = value.upper()
    paper = _text(source, "paper", data.get("paper", "letter"), 10).lower()
    if paper not in ("letter", "a4"):
        raise _fail(source, "paper", f"must be 'letter' or 'a4', got {paper!r}")
    return_address = None
    if "return_address" in data:
        raw = data["return_address"]
        if not isinstance(raw, dict):
            raise _fail(source, "return_address", "must be a table")
        bad = sorted(set(raw) - _ADDRESS_KEYS)
        if bad:
            raise _fail(source, f"return_address.{bad[0]}", f"unknown key (allowed: {', '.join(sorted(_ADDRESS_KEYS))})")
        if not raw.get("name"):
            raise _fail(source, "return_address.name", "is required")
        for k, v in raw.items():
            _text(source, f"return_address.{k}", v, 120)
        try:
            return_address = Address(**raw)
        except DocumentError as exc:
            raise _fail(source, "return_address", str(exc)) from exc
    hidden = {}
    for doc, names in HIDEABLE.items():
        if doc not in data:
            continue
        section = data[doc]
        if not isinstance(section, dict):
            raise _fail(source, doc, "must be a table")
        extra = sorted(set(section) - {"hide"})
        if extra:
            raise _fail(source, f"{doc}.{extra[0]}", "unknown key (allowed: hide)")
        hide = section.get("hide", [])
        if not isinstance(hide, list) or not all(isinstance(h, str) for h in hide):
            raise _fail(source, f"{doc}.hide", "must be a list of field names")
        for h in hide:
            if h not in names:
                raise _fail(source, f"{doc}.hide", f"unknown field {h!r} (allowed: {', '.join(names)})")
        hidden[doc] = frozenset(hide)
    return Template(
        merchant_id=merchant_id,
        brand_name=_text(source, "brand_name", data.get("brand_name", ""), 80),
        logo=_text(source, "logo", data.get("logo", ""), 400),
        message=_text(source, "message", data.get("message", ""), 400),
        paper=paper,
        return_address=return_address,
        hidden=hidden,
        **colors,
    )
