"""Fixed sample documents (CLI ``--sample``, golden tests, benchmarks, previews)."""
from __future__ import annotations

import datetime as dt

from .documents import (
    Address, BinLabel, Cn22, CommercialInvoice, CustomsItem, Manifest, ManifestShipment, PackingSlip, PickLine,
    PickList, ShippingLabel, SkuLabel, SlipLine, SsccLabel, ToteLabel,
)

SITE = Address(name="FloorSync FC Reno", company="", line1="1200 Logistics Way", line2="Dock 4", city="Reno",
               region="NV", postal_code="89502", country="US")
CUSTOMER = Address(name="Jane Q. Customer", line1="742 Evergreen Terrace", line2="Apt 3B", city="Springfield",
                   region="IL", postal_code="62704", country="US", phone="+1 217 555 0100")
DAY = dt.date(2026, 11, 23)


def shipping(**changes) -> ShippingLabel:
    base = dict(ship_from=SITE, ship_to=CUSTOMER, carrier="UPS", service="2nd Day Air", service_level="2day",
                tracking_number="1Z999AA10123456784", order_ref="SO-100234", shipment_ref="FO-100234-1",
                weight_g=2350, carton="BOX-M", zone="Z5", route="R12", ship_date=DAY, merchant_id="acme")
    base.update(changes)
    return ShippingLabel(**base)


def sscc(**changes) -> SsccLabel:
    base = dict(sscc="00614141123456789", ship_from=SITE,
                ship_to=Address(name="Big Retail DC 7", line1="55 Distribution Pkwy", city="Columbus", region="OH",
                                postal_code="43215", country="US"),
                gtin="10614141000415", count=24, po_number="PO778899", ship_to_postal="43215", carrier="XPO LTL",
                carton_of="2 of 5", merchant_id="acme")
    base.update(changes)
    return SsccLabel(**base)


def bin_label() -> BinLabel:
    return BinLabel(location="A-03-12-2", zone="A", aisle="03", bay="12", level="2", site_id="reno")


def sku_label() -> SkuLabel:
    return SkuLabel(sku="TSHIRT-BLK-M", description="Organic cotton T-shirt, black, size M", gtin="00614141000418",
                    lot="L2311", expiry="2028-11-30", merchant_id="acme")


def tote() -> ToteLabel:
    return ToteLabel(tote_id="T-0042", zone="PACK-2", color="blue")


def packing(**changes) -> PackingSlip:
    base = dict(order_ref="SO-100234", ship_to=CUSTOMER, order_date=DAY, shipment_ref="FO-100234-1",
                lines=(SlipLine("TSHIRT-BLK-M", "Organic cotton T-shirt, black, size M", 2),
                       SlipLine("MUG-12OZ", "Stoneware mug 12 oz", 1),
                       SlipLine("STICKER-PK", "Sticker pack (5)", 3)),
                customer_note="Leave at the side door, please.", merchant_id="acme")
    base.update(changes)
    return PackingSlip(**base)


def pick_list(n: int = 6) -> PickList:
    items = [("C-01-04-1", 30, "MUG-12OZ", "Stoneware mug 12 oz"),
             ("A-03-12-2", 10, "TSHIRT-BLK-M", "Organic cotton T-shirt, black, size M"),
             ("B-07-01-3", 20, "STICKER-PK", "Sticker pack (5)"),
             ("A-01-02-1", 5, "SOCKS-L", "Merino socks, large"),
             ("D-02-09-4", 40, "POSTER-A2", "Art print poster A2, rolled"),
             ("B-02-05-1", 15, "CAP-RED", "Baseball cap, red")]
    lines = [PickLine(loc, seq + 100 * (k // len(items)), sku, desc, 1 + k % 3, f"SO-1002{k % 4:02d}")
             for k, (loc, seq, sku, desc) in ((k, items[k % len(items)]) for k in range(n))]
    return PickList(pick_list_id="PL-20261123-007", site_id="reno", lines=tuple(lines),
                    created_at="2026-11-23 09:15", picker="maria")


def manifest(n: int = 8) -> Manifest:
    ships = tuple(ManifestShipment(f"1Z999AA1012345{6780 + k:04d}", f"SO-10{k:04d}",
                                   "2nd Day Air" if k % 2 else "Ground", 500 + 125 * k, 1 + k % 2) for k in range(n))
    return Manifest(manifest_id="MF-UPS-20261123", carrier="UPS", site_id="reno", site_name="FC Reno",
                    ship_date=DAY, shipments=ships)


ITEMS = (CustomsItem("Organic cotton T-shirt", "610910", "PT", 2, 12.5, 400),
         CustomsItem("Stoneware mug", "691200", "CN", 1, 9.0, 450))
INTL = Address(name="Émilie Durand", line1="12 Rue de la Paix", city="Paris", postal_code="75002", country="FR")


def invoice() -> CommercialInvoice:
    return CommercialInvoice(invoice_no="CI-100234", shipper=SITE, consignee=INTL, items=ITEMS, date=DAY,
                             tracking_number="1Z999AA10123456784", order_ref="SO-100234")


def cn22() -> Cn22:
    return Cn22(sender=SITE, recipient=INTL, items=ITEMS, category="sale_of_goods", date=DAY,
                tracking_number="LX123456785US")


SAMPLES = {
    "shipping": shipping, "sscc": sscc, "bin": bin_label, "sku": sku_label, "tote": tote, "packing": packing,
    "picklist": pick_list, "manifest": manifest, "invoice": invoice, "cn22": cn22,
}


def sample(kind: str):
    return SAMPLES[kind]()
