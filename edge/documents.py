"""Order documents for the print queue: the shipping label (label printer) and the packing slip
(receipt printer when the label printer is ESC/POS, else a PDF sheet), built with ``labels``."""
from __future__ import annotations

import datetime as _dt

from labels import render
from labels.documents import SERVICE_MARKERS, Address, Manifest, ManifestShipment, PackingSlip, ShippingLabel, SlipLine


def _address(d: dict) -> Address:
    return Address(name=d.get("name") or "", line1=d.get("line1") or "", line2=d.get("line2") or "", city=d.get("city") or "",
                   region=d.get("region") or "", postal_code=d.get("postal_code") or "", country=d.get("country") or "US",
                   company=d.get("company") or "", phone=d.get("phone") or "")


def ship_from(site: str, site_config: dict) -> Address:
    addr = site_config.get("address") if isinstance(site_config.get("address"), dict) else {}
    return _address({"name": site_config.get("name") or f"floorsync {site}", **addr})


def order_documents(fo: dict, lines: list[dict], skus: dict, site: str, printer_kind: str,
                    site_config: dict | None = None) -> list[tuple[str, str, bytes]]:
    """[(kind, printer, payload)] for one packed order."""
    today = _dt.datetime.now(_dt.timezone.utc).date()
    level = fo["service"] if fo["service"] in SERVICE_MARKERS else "standard"
    label = ShippingLabel(ship_from=ship_from(site, site_config or {}), ship_to=_address(fo["ship_to"]), carrier=fo["carrier"],
                          service=fo["service"], service_level=level, tracking_number=fo["tracking_number"],
                          order_ref=fo["order_id"], ship_date=today, shipment_ref=fo["fo_id"], weight_g=fo["weight_g"],
                          carton=fo["carton"] or "", merchant_id=fo["merchant_id"])
    slip_lines = [SlipLine(ln["sku"], (skus.get(ln["sku"]) or {}).get("description", ""), ln["picked"])
                  for ln in lines if ln["picked"] > 0]
    slip = PackingSlip(order_ref=fo["order_id"], ship_to=_address(fo["ship_to"]), lines=slip_lines,
                       order_date=fo["released_at"][:10], shipment_ref=fo["fo_id"],
                       customer_note=fo.get("gift_message") or "", merchant_id=fo["merchant_id"])
    if printer_kind == "escpos":
        return [("shipping_label", "label", render.to_escpos(label)),
                ("packing_slip", "label", render.to_escpos(slip, form="receipt"))]
    if printer_kind == "pdf":
        return [("shipping_label", "label", render.to_pdf(label)), ("packing_slip", "sheet", render.to_pdf(slip))]
    return [("shipping_label", "label", render.to_zpl(label)), ("packing_slip", "sheet", render.to_pdf(slip))]


def manifest_document(manifest: dict, site: str) -> bytes:
    doc = Manifest(manifest_id=manifest["manifest_id"], carrier=manifest["carrier"], site_id=site, ship_date=manifest["day"],
                   shipments=[ManifestShipment(s["tracking_number"], s["order_id"], s["service"], int(s["weight_g"] or 0))
                              for s in manifest["shipments"]])
    return render.to_pdf(doc)
