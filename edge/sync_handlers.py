"""Down events from central applied to the edge store (inside the caller's transaction).

``apply_down_event(conn, envelope)`` is called by the sync runtime on the writer connection, in the
same transaction that records the envelope in the inbox. Holds and cancellations take effect at
once: open pick tasks of a cancelled order are cancelled, and every later pick, pack, label or
ship step for a held or cancelled order is refused (see ``edge.services``).
"""
from __future__ import annotations

import json

from sync.core.events import DOWN, BodyError, stream_of, validate_body

from edge import store as db
from edge.errors import InvalidEvent, WrongSite


def _get(env, key):
    return env[key] if isinstance(env, dict) else getattr(env, key)


def apply_down_event(conn, envelope) -> str:
    """Apply one down event; returns a short description of the effect. Raises EdgeError subclasses
    (WrongSite, InvalidEvent) on bad input, changing nothing."""
    site = db.meta_get(conn, "site_id")
    env_site = _get(envelope, "site_id")
    etype = _get(envelope, "type")
    body = _get(envelope, "body")
    merchant = _get(envelope, "merchant_id")
    if env_site != site:
        db.audit(conn, user="central", action="sync.apply", ok=False, subject=f"event:{etype}", code="wrong_site",
                 message=f"event for site {env_site!r} refused at {site}")
        raise WrongSite(f"event for site {env_site!r} refused: this edge is {site}")
    try:
        if stream_of(etype) != DOWN:
            raise InvalidEvent(f"{etype} is not a down-stream event")
        validate_body(etype, body)
    except BodyError as exc:
        raise InvalidEvent(f"{etype}: {exc}") from exc
    handler = HANDLERS[etype]
    effect = handler(conn, body, merchant)
    db.audit(conn, user="central", action=f"sync.{etype}", ok=True, subject=_subject(etype, body),
             detail={"seq": _get(envelope, "seq"), "effect": effect})
    return effect


def _subject(etype: str, body: dict) -> str:
    for key in ("fo_id", "transfer_id", "asn_id", "rma_id", "sku"):
        if key in body:
            return f"{key.split('_')[0] if key != 'fo_id' else 'fo'}:{body[key]}"
    return etype


def _released(conn, body, merchant):
    if db.fo_get(conn, body["fo_id"]) is not None:
        raise InvalidEvent(f"fulfillment order {body['fo_id']} was already released to this site")
    db.fo_insert(conn, body, merchant)
    return "released"


def _fo(conn, body):
    return db.fo_get(conn, body["fo_id"])


def _hold(conn, body, merchant):
    fo = _fo(conn, body)
    if fo is None:
        return "unknown order: ignored"
    if fo["status"] in ("shipped", "cancelled"):
        return f"order already {fo['status']}: hold ignored (physical facts win)"
    if fo["status"] == "on_hold":
        db.fo_set(conn, fo["fo_id"], hold_reason=body["reason"])
        return "already on hold"
    db.fo_set(conn, fo["fo_id"], status="on_hold", status_before_hold=fo["status"], hold_reason=body["reason"])
    return f"held (was {fo['status']})"


def _hold_released(conn, body, merchant):
    fo = _fo(conn, body)
    if fo is None or fo["status"] != "on_hold":
        return "not on hold: ignored"
    db.fo_set(conn, fo["fo_id"], status=fo["status_before_hold"] or "released", status_before_hold=None, hold_reason=None)
    return f"hold released (back to {fo['status_before_hold']})"


def _cancelled(conn, body, merchant):
    fo = _fo(conn, body)
    if fo is None:
        return "unknown order: ignored"
    if fo["status"] == "shipped":
        return "already shipped: cancellation cannot stop it (central marks the order exception)"
    if fo["status"] == "cancelled":
        return "already cancelled"
    n = db.tasks_cancel_open(conn, fo["fo_id"])
    db.fo_set(conn, fo["fo_id"], status="cancelled", cancel_reason=body["reason"], status_before_hold=None)
    back = sorted({t["location"] for t in db.tasks_to_put_back(conn, fo["fo_id"])})
    return f"cancelled; {n} open pick task(s) cancelled" + (f"; return items to {', '.join(back)}" if back else "")


def _address(conn, body, merchant):
    fo = _fo(conn, body)
    if fo is None:
        return "unknown order: ignored"
    if fo["status"] == "shipped":
        return "already shipped: address change too late"
    db.fo_set(conn, fo["fo_id"], ship_to=json.dumps(body["ship_to"]))
    return "address updated" + (" (label must be reprinted)" if fo["status"] == "packed" else "")


def _service(conn, body, merchant):
    fo = _fo(conn, body)
    if fo is None:
        return "unknown order: ignored"
    if fo["status"] == "shipped":
        return "already shipped: service change too late"
    db.fo_set(conn, fo["fo_id"], service=body["service"], carrier=body["carrier"], tracking_number=body["tracking_number"],
              promised_date=body["promised_date"])
    return "service updated"


def _sku(conn, body, merchant):
    db.sku_upsert(conn, dict(body), body["gtins"], merchant)
    return "sku upserted"


def _site_config(conn, body, merchant):
    db.site_config_set(conn, body)
    return "site config stored"


def _transfer(conn, body, merchant):
    site = db.meta_get(conn, "site_id")
    if site not in (body["from_site"], body["to_site"]):
        raise InvalidEvent(f"transfer {body['transfer_id']} does not involve site {site}")
    if db.transfer_get(conn, body["transfer_id"]) is not None:
        raise InvalidEvent(f"transfer {body['transfer_id']} already exists")
    direction = "out" if body["from_site"] == site else "in"
    db.transfer_insert(conn, body["transfer_id"], body["from_site"], body["to_site"], direction, body["lines"])
    return f"transfer {direction}"


def _asn(conn, body, merchant):
    if db.asn_get(conn, body["asn_id"]) is not None:
        raise InvalidEvent(f"expected receipt {body['asn_id']} already exists")
    db.asn_insert(conn, body["asn_id"], body["supplier"], body["lines"])
    return "expected receipt stored"


def _rma(conn, body, merchant):
    if db.rma_get(conn, body["rma_id"]) is not None:
        raise InvalidEvent(f"RMA {body['rma_id']} already exists")
    db.rma_insert(conn, body["rma_id"], body.get("order_id"), body["lines"])
    return "RMA stored"


HANDLERS = {
    "fulfillment_order.released": _released,
    "order.hold": _hold,
    "order.hold_released": _hold_released,
    "order.cancelled": _cancelled,
    "order.address_changed": _address,
    "order.service_changed": _service,
    "sku.upsert": _sku,
    "site.config": _site_config,
    "transfer.created": _transfer,
    "receipt.expected": _asn,
    "rma.created": _rma,
}


def inventory_digest(conn) -> dict[str, int]:
    """sku -> units central should hold as on_hand for this site (bins, dock, picked-unshipped)."""
    return db.on_hand_by_sku(conn)
