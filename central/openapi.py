"""The OpenAPI 3.1 document served at /api/v1/openapi.json (tests validate responses against it)."""
from __future__ import annotations

from central.core import lifecycle as lc
from central.core import validation as v

S = {"type": "string"}
NS = {"type": ["string", "null"]}
I = {"type": "integer"}
B = {"type": "boolean"}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict, required: list[str] | None = None, extra: bool = True) -> dict:
    out = {"type": "object", "properties": props, "required": required if required is not None else list(props)}
    if not extra:
        out["additionalProperties"] = False
    return out


def listing(item: str) -> dict:
    return obj({"items": {"type": "array", "items": ref(item)}})


ERRORS = {
    "401": {"description": "missing, unknown or revoked API key", "content": {"application/json": {"schema": ref("Error")}}},
    "403": {"description": "the key's scope is too small", "content": {"application/json": {"schema": ref("Error")}}},
    "404": {"description": "not found (or another merchant's)", "content": {"application/json": {"schema": ref("Error")}}},
    "409": {"description": "conflict (idempotency key reused, invalid transition)",
            "content": {"application/json": {"schema": ref("Error")}}},
    "413": {"description": "request body too large", "content": {"application/json": {"schema": ref("Error")}}},
    "422": {"description": "invalid input; `fields` names every offending field",
            "content": {"application/json": {"schema": ref("Error")}}},
}


def ok(schema: str | dict, code: str = "200", desc: str = "OK", *, extra_codes: tuple[str, ...] = (),
       errors: tuple[str, ...] = ("401", "403", "404", "422")) -> dict:
    sch = ref(schema) if isinstance(schema, str) else schema
    out = {code: {"description": desc, "content": {"application/json": {"schema": sch}}}}
    for c in extra_codes:
        out[c] = {"description": "OK (existing resource)", "content": {"application/json": {"schema": sch}}}
    for e in errors:
        out[e] = ERRORS[e]
    return out


def body(schema: str | dict, required: bool = True, media: str = "application/json") -> dict:
    sch = ref(schema) if isinstance(schema, str) else schema
    return {"required": required, "content": {media: {"schema": sch}}}


def path_param(name: str, desc: str = "") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 80}, "description": desc}


def q(name: str, schema: dict, desc: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}


def spec() -> dict:
    addr_props = {k: {"type": "string", "maxLength": n} for k, n in (
        ("name", 200), ("company", 200), ("line1", 200), ("line2", 200), ("city", 100), ("region", 100),
        ("postal_code", 20), ("phone", 40))}
    addr_props["country"] = {"type": "string", "minLength": 2, "maxLength": 2, "description": "ISO 3166-1 alpha-2"}
    addr_props["email"] = {"type": "string", "maxLength": 254}
    line_in = obj({"line_id": {"type": "string", "maxLength": 80}, "sku": {"type": "string", "maxLength": 64},
                   "qty": {"type": "integer", "minimum": 1, "maximum": v.MAX_LINE_QTY}}, ["sku", "qty"], extra=False)
    schemas = {
        "Error": obj({"error": obj({"code": S, "message": S,
                                    "fields": {"type": "object", "additionalProperties": S}}, ["code", "message"])}),
        "Address": obj(addr_props, ["name", "line1", "city", "country"], extra=False),
        "AddressOut": {"type": "object", "additionalProperties": S},
        "OrderInput": obj({
            "channel": {"type": "string", "maxLength": 40, "default": "api"},
            "channel_order_id": {"type": "string", "maxLength": 120},
            "service": {"type": "string", "enum": list(v.SERVICES), "default": "ground"},
            "ship_to": ref("Address"),
            "lines": {"type": "array", "items": line_in, "minItems": 1, "maxItems": v.MAX_LINES},
            "gift_message": {"type": "string", "maxLength": 500}, "note": {"type": "string", "maxLength": 500},
            "urgent": B, "hold": {"type": "boolean", "description": "create the order on hold"},
            "replacement_of": {"type": "string", "maxLength": 80},
        }, ["channel_order_id", "ship_to", "lines"], extra=False),
        "OrderLine": obj({"line_id": S, "sku": S, "qty": I, "qty_allocated": I, "qty_backordered": I,
                          "qty_shipped": I, "qty_cancelled": I}),
        "FulfillmentOrder": obj({"fo_id": S, "site_id": S, "service": S, "carrier": S, "carrier_service": S,
                                 "tracking_number": S, "promised_date": S, "ship_by": S, "status": S,
                                 "created_at": S, "updated_at": S,
                                 "lines": {"type": "array", "items": obj({"line_id": S, "sku": S, "qty": I,
                                                                          "qty_reserved": I, "qty_shipped": I})}}),
        "Order": obj({
            "order_id": S, "merchant_id": S, "channel": S, "channel_order_id": S,
            "status": {"type": "string", "enum": list(lc.STATUSES)}, "held_from": NS, "service": S,
            "ship_to": ref("AddressOut"), "gift_message": NS, "note": NS, "urgent": B, "replacement_of": NS,
            "units": I, "promised_date": NS, "sites": S, "routing_log": {"type": "array", "items": {"type": "object"}},
            "created_at": S, "updated_at": S,
            "lines": {"type": "array", "items": ref("OrderLine")},
            "fulfillment_orders": {"type": "array", "items": ref("FulfillmentOrder")},
            "backorders": {"type": "array", "items": obj({"line_id": S, "sku": S, "qty": I, "status": S,
                                                          "created_at": S})},
        }),
        "OrderSummary": obj({"order_id": S, "merchant_id": S, "channel": S, "channel_order_id": S,
                             "status": S, "service": S, "ship_to_name": S, "units": I, "promised_date": NS,
                             "sites": S, "urgent": B, "created_at": S, "updated_at": S}),
        "OrderPage": obj({"items": {"type": "array", "items": ref("OrderSummary")}, "next_cursor": NS}),
        "OrderEvent": obj({"id": I, "order_id": S, "merchant_id": S, "ts": S, "actor": S, "kind": S,
                           "from_status": NS, "to_status": NS, "reason": S, "detail": {"type": "object"}}),
        "Reason": obj({"reason": {"type": "string", "maxLength": 500}}, [], extra=False),
        "AddressChange": obj({"ship_to": ref("Address")}, extra=False),
        "ServiceChange": obj({"service": {"type": "string", "enum": list(v.SERVICES)}}, extra=False),
        "Split": obj({"line_ids": {"type": "array", "items": {"type": "string", "maxLength": 80}, "minItems": 1}},
                     extra=False),
        "Replacement": obj({"reason": {"type": "string", "maxLength": 500, "minLength": 1},
                            "lines": {"type": "array", "items": line_in},
                            "service": {"type": "string", "enum": list(v.SERVICES)},
                            "channel_order_id": {"type": "string", "maxLength": 120}}, ["reason"], extra=False),
        "ImportResult": obj({"imported": I, "replayed": I, "failed": I,
                             "orders": {"type": "array", "items": obj({"channel_order_id": S, "order_id": S,
                                                                       "status": S})},
                             "errors": {"type": "array", "items": obj({"channel_order_id": S, "code": S,
                                                                       "rows": {"type": "array", "items": I},
                                                                       "fields": {"type": "object"}})}}),
        "SiteStock": obj({"site_id": S, "on_hand": I, "reserved": I, "safety_stock": I, "available": I,
                          "in_transit": I, "quarantine": I, "low_stock_threshold": I}),
        "SkuInventory": obj({"sku": S, "totals": obj({"on_hand": I, "reserved": I, "available": I, "in_transit": I,
                                                      "quarantine": I, "backordered": I}),
                             "sites": {"type": "array", "items": ref("SiteStock")}}),
        "InventoryRow": obj({"sku": S, "on_hand": I, "reserved": I, "safety_stock": I, "in_transit": I,
                             "quarantine": I, "available": I, "backordered": I}),
        "LedgerRow": obj({"id": I, "ts": S, "site_id": S, "cause": S, "actor": S, "ref": S, "d_on_hand": I,
                          "d_reserved": I, "d_in_transit": I, "d_quarantine": I, "on_hand_before": I,
                          "on_hand_after": I, "reserved_after": I}),
        "Ledger": obj({"sku": S, "items": {"type": "array", "items": ref("LedgerRow")}}),
        "Adjustment": obj({"delta": {"type": "integer", "minimum": -1_000_000, "maximum": 1_000_000},
                           "reason": {"type": "string", "maxLength": 200},
                           "safety_stock": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                           "low_stock_threshold": {"type": "integer", "minimum": 0, "maximum": 1_000_000}},
                          [], extra=False),
        "Site": {"type": "object", "required": ["site_id", "name", "country", "timezone", "stale", "printers_ok",
                                                "sync_lag_s"],
                 "properties": {"site_id": S, "name": S, "country": S, "timezone": S, "lat": {"type": "number"},
                                "lon": {"type": "number"}, "cutoffs": {"type": "object"},
                                "capabilities": {"type": "array"}, "active": B, "stale": B, "printers_ok": B,
                                "sync_lag_s": {"type": "number"}, "last_heartbeat_at": NS,
                                "closures": {"type": "array", "items": S,
                                             "description": "closed dates YYYY-MM-DD (routing skips them)"},
                                "closure_details": {"type": "array", "items": ref("SiteClosure")}}},
        "SiteClosure": obj({"date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                            "reason": {"type": "string", "minLength": 1, "maxLength": 200}}, extra=False),
        "SiteClosuresInput": obj({"closures": {
            "type": "array", "items": ref("SiteClosure"), "maxItems": v.MAX_CLOSURES,
            "description": "the complete list (replaces the current one; [] reopens every day); dates unique, "
                           f"from {v.CLOSURE_PAST_DAYS} days ago to {v.CLOSURE_FUTURE_DAYS} days ahead"}},
            extra=False),
        "SiteClosures": obj({"site_id": S, "closures": {"type": "array", "items": obj({"date": S, "reason": S})}}),
        "SkuInput": obj({"sku": {"type": "string", "maxLength": 64}, "description": {"type": "string", "maxLength": 300},
                         "gtins": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
                         "weight_g": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                         "length_mm": {"type": "integer", "minimum": 0, "maximum": 100_000},
                         "width_mm": {"type": "integer", "minimum": 0, "maximum": 100_000},
                         "height_mm": {"type": "integer", "minimum": 0, "maximum": 100_000},
                         "lot_tracked": B, "expiry_tracked": B, "hazmat": B, "requires_qc": B,
                         "safety_stock": {"type": "integer", "minimum": 0, "maximum": 1_000_000}}, [], extra=False),
        "Sku": obj({"sku": S, "description": S, "gtins": {"type": "array", "items": S}, "weight_g": I,
                    "length_mm": I, "width_mm": I, "height_mm": I, "lot_tracked": B, "expiry_tracked": B,
                    "hazmat": B, "requires_qc": B, "updated_at": S}),
        "SkuBulk": obj({"skus": {"type": "array", "items": ref("SkuInput"), "minItems": 1, "maxItems": 1000}},
                       extra=False),
        "BulkResult": obj({"created": I, "updated": I}),
        "TransferInput": obj({"transfer_id": {"type": "string", "maxLength": 80}, "from_site": S, "to_site": S,
                              "lines": {"type": "array", "items": line_in, "minItems": 1}},
                             ["from_site", "to_site", "lines"], extra=False),
        "Transfer": obj({"transfer_id": S, "merchant_id": S, "from_site": S, "to_site": S, "status": S,
                         "lines": {"type": "array", "items": obj({"sku": S, "qty": I})}, "created_at": S,
                         "updated_at": S}),
        "WebhookInput": obj({"url": {"type": "string", "maxLength": 500},
                             "events": {"type": "array", "items": {"type": "string", "enum": list(v.WEBHOOK_EVENTS)},
                                        "minItems": 1},
                             "secret": {"type": "string", "minLength": 16, "maxLength": 200}}, ["url", "events"],
                            extra=False),
        "Webhook": obj({"webhook_id": S, "url": S, "events": {"type": "array", "items": S}, "active": B,
                        "created_at": S}),
        "WebhookCreated": obj({"webhook_id": S, "url": S, "events": {"type": "array", "items": S}, "active": B,
                               "created_at": S, "secret": S}),
        "Delivery": obj({"delivery_id": S, "webhook_id": S, "merchant_id": S, "event_type": S,
                         "payload": {"type": "object"}, "status": {"type": "string",
                                                                   "enum": ["pending", "delivered", "failed"]},
                         "attempts": I, "next_attempt_at": {"type": "number"}, "last_status_code": {"type": ["integer", "null"]},
                         "last_error": S, "created_at": S, "delivered_at": NS}),
        "Alert": obj({"id": I, "merchant_id": S, "kind": S, "site_id": NS, "sku": NS, "message": S,
                      "detail": {"type": "object"}, "created_at": S, "resolved_at": NS}),
    }
    # the packages of a shipped fulfillment order (carton 1 carries the master tracking number); also in the
    # ``order.shipped`` webhook
    line_out = obj({"line_id": S, "sku": S, "qty": I})
    schemas["Carton"] = obj({"seq": {"type": "integer", "minimum": 1}, "tracking_number": S,
                             "carton": {"type": ["string", "null"], "description": "carton type (null: not reported)"},
                             "weight_g": {"type": "integer", "minimum": 0},
                             "lines": {"type": "array", "items": line_out}})
    schemas["FulfillmentOrder"]["properties"]["cartons"] = {
        "type": "array", "items": ref("Carton"),
        "description": "packages with their own tracking numbers once shipped (empty before; absent in a create response)"}
    schemas["OrderShippedEvent"] = obj({
        "type": {"const": "order.shipped"}, "merchant_id": S,
        "data": obj({"order_id": S, "channel_order_id": S, "status": S, "fo_id": S, "site_id": S, "carrier": S,
                     "tracking_number": S, "shipped_at": S, "lines": {"type": "array", "items": line_out},
                     "cartons": {"type": "array", "items": ref("Carton"), "minItems": 1}})})
    for name in ("OrderEvent", "Site", "Sku", "Transfer", "Webhook", "Delivery", "Alert", "InventoryRow"):
        schemas[name + "List"] = listing(name)

    oid = path_param("order_id", "central order id")
    r = ("401", "403", "404", "409", "413", "422")
    paths = {
        "/orders": {
            "post": {"summary": "Create an order (idempotent on channel + channel_order_id)", "operationId": "createOrder",
                     "requestBody": body("OrderInput"),
                     "responses": ok("Order", "201", "created", extra_codes=("200",), errors=("401", "403", "409", "413", "422"))},
            "get": {"summary": "List orders (newest first, cursor pagination)", "operationId": "listOrders",
                    "parameters": [q("status", {"type": "string"}, "one status or a comma-separated list"),
                                   q("channel", {"type": "string", "maxLength": 40}),
                                   q("site", {"type": "string", "maxLength": 12}),
                                   q("service", {"type": "string", "enum": list(v.SERVICES)}),
                                   q("created_from", {"type": "string"}, "date or datetime, inclusive"),
                                   q("created_to", {"type": "string"}, "date or datetime, exclusive"),
                                   q("q", {"type": "string", "maxLength": 120}, "order id, channel order id or name prefix"),
                                   q("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
                                   q("cursor", {"type": "string"})],
                    "responses": ok("OrderPage", errors=("401", "403", "422"))},
        },
        "/orders/import": {"post": {"summary": "Bulk import orders from CSV (row-level errors)", "operationId": "importOrders",
                                    "requestBody": body({"type": "string"}, media="text/csv"),
                                    "responses": ok("ImportResult", errors=("401", "403", "413", "422"))}},
        "/orders/{order_id}": {"get": {"summary": "Get an order", "operationId": "getOrder", "parameters": [oid],
                                       "responses": ok("Order", errors=("401", "403", "404"))}},
        "/orders/{order_id}/events": {"get": {"summary": "Order timeline", "operationId": "orderEvents",
                                              "parameters": [oid], "responses": ok("OrderEventList", errors=("401", "403", "404"))}},
    }
    for action, schema, summary, required in (
            ("cancel", "Reason", "Cancel: releases reservations and tells the sites. Nothing shipped yet: the order "
                                 "is cancelled. Partly shipped: the unshipped rest is cancelled, shipped units stay "
                                 "shipped and the order ends shipped. Shipped in full: 409", False),
            ("hold", "Reason", "Put on hold (reason required)", True),
            ("release", "Reason", "Release a hold", False),
            ("address", "AddressChange", "Edit the ship-to address", True),
            ("service", "ServiceChange", "Change the service level", True),
            ("split", "Split", "Move lines into a separate shipment", True)):
        paths[f"/orders/{{order_id}}/{action}"] = {"post": {
            "summary": summary, "operationId": f"{action}Order", "parameters": [oid],
            "requestBody": body(schema, required=required), "responses": ok("Order", errors=r)}}
    paths["/orders/{order_id}/replacement"] = {"post": {
        "summary": "Ship a replacement referencing the original", "operationId": "replacementOrder", "parameters": [oid],
        "requestBody": body("Replacement"), "responses": ok("Order", "201", "created", extra_codes=("200",), errors=r)}}
    sku_p = path_param("sku")
    site_p = path_param("site_id")
    paths.update({
        "/inventory": {"get": {"summary": "Consolidated inventory per SKU", "operationId": "listInventory",
                               "parameters": [q("after", {"type": "string"}), q("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
                               "responses": ok("InventoryRowList", errors=("401", "403", "422"))}},
        "/inventory/{sku}": {"get": {"summary": "One SKU: totals and per site", "operationId": "getInventory",
                                     "parameters": [sku_p], "responses": ok("SkuInventory", errors=("401", "403", "404"))}},
        "/inventory/{sku}/ledger": {"get": {"summary": "Ledger rows (why did the balance change)", "operationId": "getLedger",
                                            "parameters": [sku_p, q("site", {"type": "string"}),
                                                           q("limit", {"type": "integer", "minimum": 1, "maximum": 1000})],
                                            "responses": ok("Ledger", errors=("401", "403", "404", "422"))}},
        "/inventory/{sku}/sites/{site_id}/adjust": {"post": {
            "summary": "Adjust on-hand, safety stock or low-stock threshold", "operationId": "adjustInventory",
            "parameters": [sku_p, site_p], "requestBody": body("Adjustment"),
            "responses": ok("SkuInventory", errors=("401", "403", "404", "413", "422"))}},
        "/sites": {"get": {"summary": "Sites in your network", "operationId": "listSites",
                           "responses": ok("SiteList", errors=("401", "403"))}},
        "/sites/{site_id}": {"get": {"summary": "One site", "operationId": "getSite", "parameters": [site_p],
                                     "responses": ok("Site", errors=("401", "403", "404"))}},
        "/sites/{site_id}/closures": {
            "get": {"summary": "Days the site is closed, with reasons", "operationId": "getSiteClosures",
                    "parameters": [site_p], "responses": ok("SiteClosures", errors=("401", "403", "404"))},
            "put": {"summary": "Replace the site's closure days (admin); routing skips them for ship and promise "
                               "dates from the next order on", "operationId": "putSiteClosures",
                    "parameters": [site_p], "requestBody": body("SiteClosuresInput"),
                    "responses": ok("SiteClosures", errors=("401", "403", "404", "413", "422"))}},
        "/skus": {"get": {"summary": "List SKUs", "operationId": "listSkus",
                          "parameters": [q("after", {"type": "string"}), q("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
                          "responses": ok("SkuList", errors=("401", "403", "422"))},
                  "post": {"summary": "Create or update a SKU", "operationId": "createSku", "requestBody": body("SkuInput"),
                           "responses": ok("Sku", "201", "created", extra_codes=("200",), errors=("401", "403", "413", "422"))}},
        "/skus/bulk": {"post": {"summary": "Create or update up to 1000 SKUs", "operationId": "bulkSkus",
                                "requestBody": body("SkuBulk"), "responses": ok("BulkResult", errors=("401", "403", "413", "422"))}},
        "/skus/{sku}": {"get": {"summary": "One SKU", "operationId": "getSku", "parameters": [sku_p],
                                "responses": ok("Sku", errors=("401", "403", "404"))},
                        "put": {"summary": "Create or update one SKU", "operationId": "putSku", "parameters": [sku_p],
                                "requestBody": body("SkuInput"),
                                "responses": ok("Sku", "201", "created", extra_codes=("200",), errors=("401", "403", "413", "422"))}},
        "/transfers": {"get": {"summary": "List transfers", "operationId": "listTransfers",
                               "responses": ok("TransferList", errors=("401", "403"))},
                       "post": {"summary": "Create a stock transfer", "operationId": "createTransfer",
                                "requestBody": body("TransferInput"),
                                "responses": ok("Transfer", "201", "created", errors=("401", "403", "409", "413", "422"))}},
        "/transfers/{transfer_id}": {"get": {"summary": "One transfer", "operationId": "getTransfer",
                                             "parameters": [path_param("transfer_id")],
                                             "responses": ok("Transfer", errors=("401", "403", "404"))}},
        "/transfers/{transfer_id}/ship": {"post": {"summary": "Mark shipped (source on_hand -> in transit)",
                                                   "operationId": "shipTransfer", "parameters": [path_param("transfer_id")],
                                                   "responses": ok("Transfer", errors=("401", "403", "404", "409"))}},
        "/transfers/{transfer_id}/receive": {"post": {"summary": "Mark received (in transit -> destination on_hand)",
                                                      "operationId": "receiveTransfer",
                                                      "parameters": [path_param("transfer_id")],
                                                      "responses": ok("Transfer", errors=("401", "403", "404", "409"))}},
        "/webhooks": {"get": {"summary": "List webhook subscriptions (admin)", "operationId": "listWebhooks",
                              "responses": ok("WebhookList", errors=("401", "403"))},
                      "post": {"summary": "Subscribe a URL to events (admin); the secret is returned once",
                               "operationId": "createWebhook", "requestBody": body("WebhookInput"),
                               "responses": ok("WebhookCreated", "201", "created", errors=("401", "403", "413", "422"))}},
        "/webhooks/{webhook_id}": {"delete": {"summary": "Unsubscribe", "operationId": "deleteWebhook",
                                              "parameters": [path_param("webhook_id")],
                                              "responses": {"204": {"description": "deleted"}, "401": ERRORS["401"],
                                                            "403": ERRORS["403"], "404": ERRORS["404"]}}},
        "/webhooks/{webhook_id}/deliveries": {"get": {"summary": "Delivery log", "operationId": "listDeliveries",
                                                      "parameters": [path_param("webhook_id")],
                                                      "responses": ok("DeliveryList", errors=("401", "403", "404"))}},
        "/alerts": {"get": {"summary": "Alerts (low stock, drift)", "operationId": "listAlerts",
                            "responses": ok("AlertList", errors=("401", "403"))}},
        "/routing/rates/reload": {"post": {
            "summary": "Re-read the carrier rate file in force (admin); a bad file is refused with 422 and the "
                       "previous rates stay in force for checkout and order routing",
            "operationId": "reloadRoutingRates",
            "responses": ok({"type": "object", "required": ["source", "loaded_at", "levels", "services"],
                             "properties": {"source": {"type": "string"},
                                            "loaded_at": {"type": ["string", "null"]},
                                            "levels": {"type": "array", "items": {"type": "string"}},
                                            "services": {"type": "array", "items": {"type": "string"}}}},
                            errors=("401", "403", "422"))}},
    })
    return {
        "openapi": "3.1.0",
        "info": {"title": "floorsync central API", "version": "1.0.0",
                 "description": "Orders, network inventory, transfers and webhooks. Authenticate with "
                                "`Authorization: Bearer <api key>` (create keys with `floorsync central apikey create`)."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
        "paths": paths,
    }
