"""Document dataclasses: what a label or sheet says, independent of how it is drawn.

Every class validates in ``__post_init__`` and raises :class:`DocumentError` naming the field.
Free text (names, addresses, descriptions) may be any Unicode; renderers escape it.
Identifiers that become barcodes are printable ASCII.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from . import gs1
from .errors import DocumentError

SERVICE_MARKERS = {
    "overnight": "OVERNIGHT", "next_day": "OVERNIGHT", "2day": "2-DAY", "two_day": "2-DAY",
    "3day": "3-DAY", "ground": "GROUND", "standard": "STANDARD", "economy": "ECONOMY",
    "international": "INTL", "freight": "FREIGHT",
}
_ID = re.compile(r"^[\x21-\x7e]{1,40}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_HS = re.compile(r"^\d{6,10}$")


def _id(cls: str, name: str, value: str, *, optional: bool = False) -> None:
    if optional and value == "":
        return
    if not isinstance(value, str) or not _ID.match(value):
        raise DocumentError(f"{cls}.{name} must be 1-40 printable ASCII characters without spaces, got {value!r}")


def _str(cls: str, name: str, value) -> None:
    if not isinstance(value, str):
        raise DocumentError(f"{cls}.{name} must be a string, got {type(value).__name__}")


def _date(cls: str, name: str, value) -> None:
    if isinstance(value, _dt.date):
        return
    try:
        _dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise DocumentError(f"{cls}.{name} must be an ISO date (YYYY-MM-DD), got {value!r}") from exc


def _nonneg(cls: str, name: str, value, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise DocumentError(f"{cls}.{name} must be a number >= 0, got {value!r}")


def date_text(value) -> str:
    return value.isoformat() if isinstance(value, _dt.date) else str(value)[:10]


def weight_text(grams: int | None) -> str:
    if grams is None:
        return ""
    return f"{grams / 1000:.2f} kg ({grams / 453.59237:.1f} lb)"


@dataclass(frozen=True)
class Address:
    name: str
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = "US"
    company: str = ""
    phone: str = ""

    def __post_init__(self) -> None:
        for f in ("name", "line1", "line2", "city", "region", "postal_code", "country", "company", "phone"):
            _str("Address", f, getattr(self, f))
        if self.country and not _COUNTRY.match(self.country):
            raise DocumentError(f"Address.country must be an ISO 3166 alpha-2 code, got {self.country!r}")

    def city_line(self) -> str:
        parts = [self.city + ("," if self.city and self.region else ""), self.region, self.postal_code]
        return " ".join(p for p in parts if p)

    def lines(self) -> list[str]:
        """Street lines (company, line1, line2) without the name and city line."""
        return [p for p in (self.company, self.line1, self.line2) if p]


@dataclass(frozen=True)
class ShippingLabel:
    """4x6 in carrier label."""

    ship_from: Address
    ship_to: Address
    carrier: str
    service: str
    service_level: str
    tracking_number: str
    order_ref: str
    ship_date: _dt.date | str
    shipment_ref: str = ""
    weight_g: int | None = None
    carton: str = ""
    zone: str = ""
    route: str = ""
    merchant_id: str = ""

    def __post_init__(self) -> None:
        c = "ShippingLabel"
        for f in ("carrier", "service", "service_level", "carton", "zone", "route", "merchant_id"):
            _str(c, f, getattr(self, f))
        if self.service_level not in SERVICE_MARKERS:
            raise DocumentError(f"{c}.service_level must be one of {sorted(SERVICE_MARKERS)}, got {self.service_level!r}")
        _id(c, "tracking_number", self.tracking_number)
        _id(c, "order_ref", self.order_ref)
        _id(c, "shipment_ref", self.shipment_ref, optional=True)
        _nonneg(c, "weight_g", self.weight_g, optional=True)
        _date(c, "ship_date", self.ship_date)

    @property
    def marker(self) -> str:
        return SERVICE_MARKERS[self.service_level]


@dataclass(frozen=True)
class SsccLabel:
    """GS1 logistic label for a carton or pallet: AI 00 plus optional 02/37/400/420."""

    sscc: str  # 17 digits (check digit computed) or 18 (verified)
    ship_from: Address
    ship_to: Address
    gtin: str = ""  # AI 02: GTIN of the contained trade items
    count: int | None = None  # AI 37
    po_number: str = ""  # AI 400
    ship_to_postal: str = ""  # AI 420
    carrier: str = ""
    carton_of: str = ""  # e.g. "2 of 5"
    merchant_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "sscc", gs1.sscc(self.sscc))
        if self.gtin:
            object.__setattr__(self, "gtin", gs1.gtin14(self.gtin))
        if self.count is not None:
            if isinstance(self.count, bool) or not isinstance(self.count, int) or not 0 < self.count < 10**8:
                raise DocumentError(f"SsccLabel.count must be 1..99999999, got {self.count!r}")
        if self.po_number:
            gs1.validate_ai("400", self.po_number)
        if self.ship_to_postal:
            gs1.validate_ai("420", self.ship_to_postal)
        for f in ("carrier", "carton_of", "merchant_id"):
            _str("SsccLabel", f, getattr(self, f))

    @property
    def content_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        if self.gtin:
            pairs.append(("02", self.gtin))
        if self.count is not None:
            pairs.append(("37", str(self.count)))
        if self.po_number:
            pairs.append(("400", self.po_number))
        return pairs


@dataclass(frozen=True)
class BinLabel:
    """Location label (4x2 in): the location code large, as Code 128, and its parts."""

    location: str
    zone: str = ""
    aisle: str = ""
    bay: str = ""
    level: str = ""
    position: str = ""
    site_id: str = ""

    def __post_init__(self) -> None:
        _id("BinLabel", "location", self.location)
        for f in ("zone", "aisle", "bay", "level", "position", "site_id"):
            _str("BinLabel", f, getattr(self, f))


@dataclass(frozen=True)
class SkuLabel:
    """Item label (2.25x1.25 in): SKU as Code 128, description, optional GTIN/lot/expiry."""

    sku: str
    description: str = ""
    gtin: str = ""
    lot: str = ""
    expiry: str = ""
    merchant_id: str = ""

    def __post_init__(self) -> None:
        _id("SkuLabel", "sku", self.sku)
        for f in ("description", "lot", "expiry", "merchant_id"):
            _str("SkuLabel", f, getattr(self, f))
        if self.gtin:
            object.__setattr__(self, "gtin", gs1.gtin14(self.gtin))
        if self.expiry:
            _date("SkuLabel", "expiry", self.expiry)


@dataclass(frozen=True)
class ToteLabel:
    """Tote label (4x2 in): tote id huge, Code 128, zone and colour."""

    tote_id: str
    zone: str = ""
    color: str = ""

    def __post_init__(self) -> None:
        _id("ToteLabel", "tote_id", self.tote_id)
        _str("ToteLabel", "zone", self.zone)
        _str("ToteLabel", "color", self.color)


@dataclass(frozen=True)
class SlipLine:
    sku: str
    description: str
    quantity: int

    def __post_init__(self) -> None:
        _id("SlipLine", "sku", self.sku)
        _str("SlipLine", "description", self.description)
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity < 1:
            raise DocumentError(f"SlipLine.quantity must be an integer >= 1, got {self.quantity!r}")


@dataclass(frozen=True)
class PackingSlip:
    order_ref: str
    ship_to: Address
    lines: tuple[SlipLine, ...]
    order_date: _dt.date | str
    shipment_ref: str = ""
    customer_note: str = ""
    merchant_id: str = ""

    def __post_init__(self) -> None:
        _id("PackingSlip", "order_ref", self.order_ref)
        _id("PackingSlip", "shipment_ref", self.shipment_ref, optional=True)
        _date("PackingSlip", "order_date", self.order_date)
        object.__setattr__(self, "lines", tuple(self.lines))
        if not self.lines:
            raise DocumentError("PackingSlip.lines must not be empty")


@dataclass(frozen=True)
class PickLine:
    location: str
    walk_seq: int
    sku: str
    description: str
    quantity: int
    order_ref: str = ""

    def __post_init__(self) -> None:
        _id("PickLine", "location", self.location)
        _id("PickLine", "sku", self.sku)
        _id("PickLine", "order_ref", self.order_ref, optional=True)
        _str("PickLine", "description", self.description)
        _nonneg("PickLine", "walk_seq", self.walk_seq)
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity < 1:
            raise DocumentError(f"PickLine.quantity must be an integer >= 1, got {self.quantity!r}")


@dataclass(frozen=True)
class PickList:
    pick_list_id: str
    site_id: str
    lines: tuple[PickLine, ...]
    created_at: str = ""
    picker: str = ""

    def __post_init__(self) -> None:
        _id("PickList", "pick_list_id", self.pick_list_id)
        object.__setattr__(self, "lines", tuple(self.lines))
        if not self.lines:
            raise DocumentError("PickList.lines must not be empty")

    def in_pick_path_order(self) -> list[PickLine]:
        return sorted(self.lines, key=lambda ln: (ln.walk_seq, ln.location, ln.sku))


@dataclass(frozen=True)
class ManifestShipment:
    tracking_number: str
    order_ref: str
    service: str
    weight_g: int
    cartons: int = 1

    def __post_init__(self) -> None:
        _id("ManifestShipment", "tracking_number", self.tracking_number)
        _id("ManifestShipment", "order_ref", self.order_ref)
        _nonneg("ManifestShipment", "weight_g", self.weight_g)
        _nonneg("ManifestShipment", "cartons", self.cartons)


@dataclass(frozen=True)
class Manifest:
    """End-of-day manifest per carrier."""

    manifest_id: str
    carrier: str
    site_id: str
    ship_date: _dt.date | str
    shipments: tuple[ManifestShipment, ...]
    site_name: str = ""

    def __post_init__(self) -> None:
        _id("Manifest", "manifest_id", self.manifest_id)
        _date("Manifest", "ship_date", self.ship_date)
        object.__setattr__(self, "shipments", tuple(self.shipments))

    @property
    def total_weight_g(self) -> int:
        return sum(s.weight_g for s in self.shipments)

    @property
    def total_cartons(self) -> int:
        return sum(s.cartons for s in self.shipments)


@dataclass(frozen=True)
class CustomsItem:
    description: str
    hs_code: str
    country_of_origin: str
    quantity: int
    unit_value: float
    weight_g: int

    def __post_init__(self) -> None:
        _str("CustomsItem", "description", self.description)
        if not _HS.match(str(self.hs_code)):
            raise DocumentError(f"CustomsItem.hs_code must be 6-10 digits, got {self.hs_code!r}")
        if not _COUNTRY.match(str(self.country_of_origin)):
            raise DocumentError(f"CustomsItem.country_of_origin must be ISO alpha-2, got {self.country_of_origin!r}")
        _nonneg("CustomsItem", "unit_value", self.unit_value)
        _nonneg("CustomsItem", "weight_g", self.weight_g)
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity < 1:
            raise DocumentError(f"CustomsItem.quantity must be an integer >= 1, got {self.quantity!r}")

    @property
    def value(self) -> float:
        return round(self.quantity * self.unit_value, 2)


CN22_CATEGORIES = ("gift", "documents", "commercial_sample", "returned_goods", "sale_of_goods", "other")


@dataclass(frozen=True)
class CommercialInvoice:
    invoice_no: str
    shipper: Address
    consignee: Address
    items: tuple[CustomsItem, ...]
    date: _dt.date | str
    currency: str = "USD"
    incoterms: str = "DAP"
    reason: str = "sale_of_goods"
    tracking_number: str = ""
    order_ref: str = ""

    def __post_init__(self) -> None:
        _id("CommercialInvoice", "invoice_no", self.invoice_no)
        _id("CommercialInvoice", "tracking_number", self.tracking_number, optional=True)
        _date("CommercialInvoice", "date", self.date)
        object.__setattr__(self, "items", tuple(self.items))
        if not self.items:
            raise DocumentError("CommercialInvoice.items must not be empty")
        if not re.match(r"^[A-Z]{3}$", self.currency):
            raise DocumentError(f"CommercialInvoice.currency must be ISO 4217, got {self.currency!r}")

    @property
    def total_value(self) -> float:
        return round(sum(i.value for i in self.items), 2)


@dataclass(frozen=True)
class Cn22:
    """CN22 customs declaration label (74x105 mm) for low-value international parcels."""

    sender: Address
    recipient: Address
    items: tuple[CustomsItem, ...]
    category: str = "sale_of_goods"
    currency: str = "USD"
    date: _dt.date | str = ""
    tracking_number: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        if not 1 <= len(self.items) <= 5:
            raise DocumentError("Cn22.items must hold 1 to 5 items (use a commercial invoice for more)")
        if self.category not in CN22_CATEGORIES:
            raise DocumentError(f"Cn22.category must be one of {CN22_CATEGORIES}, got {self.category!r}")
        _id("Cn22", "tracking_number", self.tracking_number, optional=True)
        if self.date:
            _date("Cn22", "date", self.date)

    @property
    def total_value(self) -> float:
        return round(sum(i.value for i in self.items), 2)


DOCUMENT_TYPES = {
    "shipping": ShippingLabel, "sscc": SsccLabel, "bin": BinLabel, "sku": SkuLabel, "tote": ToteLabel,
    "packing": PackingSlip, "picklist": PickList, "manifest": Manifest, "invoice": CommercialInvoice,
    "cn22": Cn22,
}


_NESTED = {"Address": Address, "SlipLine": SlipLine, "PickLine": PickLine, "ManifestShipment": ManifestShipment,
           "CustomsItem": CustomsItem}


def from_dict(kind: str, data: dict):
    """Build a document of ``kind`` (a key of DOCUMENT_TYPES) from plain JSON-like data."""
    import dataclasses

    if kind not in DOCUMENT_TYPES:
        raise DocumentError(f"unknown document kind {kind!r} (one of {', '.join(DOCUMENT_TYPES)})")
    cls = DOCUMENT_TYPES[kind]
    if not isinstance(data, dict):
        raise DocumentError(f"{cls.__name__}: expected an object")
    names = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise DocumentError(f"{cls.__name__}: unknown field {unknown[0]!r}")
    kwargs = {}
    for name, value in data.items():
        ann = names[name]
        nested = next((c for n, c in _NESTED.items() if n in ann), None)
        try:
            if nested is not None and ann.startswith("tuple"):
                value = tuple(nested(**v) for v in value)
            elif nested is not None and isinstance(value, dict):
                value = nested(**value)
        except TypeError as exc:
            raise DocumentError(f"{cls.__name__}.{name}: {exc}") from exc
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise DocumentError(f"{cls.__name__}: {exc}") from exc
