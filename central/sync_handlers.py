"""Central's side of the sync contract: apply one up event inside the caller's transaction.

The sync runtime (``sync.central_node``) dedups and orders envelopes, then calls
:func:`apply_up_event` in the same transaction that records the envelope in its inbox. Quantity
semantics follow ``sync/core/events.py`` exactly (deltas, never overwrites; physical facts win).
"""
from __future__ import annotations

import logging

from sqlalchemy.engine import Connection

from central.errors import Forbidden, NotFound, ValidationFailed
from central.ops import FloorOps
from floorsync.log import log_event
from sync.core.envelope import Envelope
from sync.core.events import UP, BodyError, stream_of, validate_body

logger = logging.getLogger("central.sync")
_state: dict[str, FloorOps] = {}


def configure(ops: FloorOps) -> None:
    """Share the service's routing/allocation object (called by ``central serve``)."""
    _state["ops"] = ops


def _ops() -> FloorOps:
    if "ops" not in _state:
        _state["ops"] = FloorOps()
    return _state["ops"]


def apply_up_event(conn: Connection, envelope: Envelope) -> dict:
    """Apply one up event. Raises ``ValidationFailed`` (bad body), ``NotFound`` (unknown FO/transfer),
    ``Forbidden`` (the event touches another site's or merchant's data). Returns a small summary."""
    try:
        if stream_of(envelope.type) != UP:
            raise ValidationFailed(f"{envelope.type} is not an up event", {"type": "not an up-stream event"})
        validate_body(envelope.type, envelope.body)
    except BodyError as exc:
        raise ValidationFailed(str(exc), {exc.field: str(exc)}) from exc
    ops = _ops()
    q = ops.q
    body = envelope.body
    site = envelope.site_id
    merchant = envelope.merchant_id
    actor = f"edge:{site}"
    kind = envelope.type
    ref = f"{site}/{envelope.seq}"

    def fo_check(fo_id: str) -> dict:
        fo = q.get_fo(conn, fo_id)
        if fo is None:
            raise NotFound(f"unknown fulfillment order {fo_id}")
        if fo["site_id"] != site or fo["merchant_id"] != merchant:
            log_event(logger, "security_foreign_fo", level=logging.WARNING, site_id=site, fo_id=fo_id)
            raise Forbidden(f"fulfillment order {fo_id} does not belong to site {site}")
        return fo

    def site_check() -> None:
        if merchant not in q.site_merchants(conn, site):
            raise Forbidden(f"site {site} is not in merchant {merchant}'s network")

    if kind == "inventory.received":
        site_check()
        if body["quarantine"]:
            ops.stock_delta(conn, merchant, body["sku"], site, cause="receipt", actor=actor, ref=ref,
                            d_quarantine=body["qty"])
        else:
            ops.stock_delta(conn, merchant, body["sku"], site, cause="receipt", actor=actor, ref=ref,
                            d_on_hand=body["qty"])
    elif kind == "inventory.adjusted":
        site_check()
        ops.stock_delta(conn, merchant, body["sku"], site, cause="adjustment", actor=actor,
                        ref=f"{ref} {body['reason']}"[:120], d_on_hand=body["delta"])
    elif kind == "cycle_count.recorded":
        site_check()
        delta = body["counted"] - body["expected"]
        if delta:
            ops.stock_delta(conn, merchant, body["sku"], site, cause="cycle_count", actor=actor,
                            ref=f"{ref} @{body['location']}"[:120], d_on_hand=delta)
    elif kind == "pick.confirmed":
        fo_check(body["fo_id"])
        ops.apply_pick(conn, body, actor=actor)
    elif kind == "pick.short":
        fo_check(body["fo_id"])
        ops.apply_short_pick(conn, body, actor=actor)
    elif kind == "pack.confirmed":
        fo_check(body["fo_id"])
        ops.apply_pack(conn, body, actor=actor)
    elif kind == "shipment.shipped":
        fo_check(body["fo_id"])
        ops.apply_shipment(conn, body, site_id=site, actor=actor)
    elif kind in ("transfer.shipped", "transfer.received"):
        t = q.get_transfer(conn, body["transfer_id"], merchant)
        if t is None:
            raise NotFound(f"unknown transfer {body['transfer_id']}")
        if kind == "transfer.shipped":
            if t["from_site"] != site:
                raise Forbidden(f"transfer {t['transfer_id']} does not ship from {site}")
            ops.transfer_ship(conn, t, body["lines"], actor=actor)
        else:
            if t["to_site"] != site:
                raise Forbidden(f"transfer {t['transfer_id']} is not received at {site}")
            ops.transfer_receive(conn, t, body["lines"], actor=actor)
    elif kind == "return.received":
        site_check()
        ops.stock_delta(conn, merchant, body["sku"], site, cause="return", actor=actor,
                        ref=body.get("rma_id") or body.get("order_id") or ref, d_quarantine=body["qty"])
    elif kind == "return.graded":
        site_check()
        ops.stock_delta(conn, merchant, body["sku"], site, cause="grading", actor=actor,
                        ref=f"{body.get('rma_id') or ref} grade {body['grade']}"[:120], d_quarantine=-body["qty"],
                        d_on_hand=body["qty"] if body["restocked"] else 0)
    elif kind == "inventory.digest":
        return check_digest(conn, envelope)
    return {"applied": kind}


def expected_balances(conn: Connection, site_id: str) -> dict[str, int]:
    """What central believes is on hand at a site, per SKU (all merchants), for drift checks."""
    return {sku: qty for sku, qty in _ops().q.site_on_hand(conn, site_id).items() if qty}


def check_digest(conn: Connection, envelope: Envelope) -> dict:
    """Compare an edge's per-SKU digest with central's expectation; a mismatch raises a drift alert
    (never a silent overwrite)."""
    expected = expected_balances(conn, envelope.site_id)
    reported = {str(k): int(v) for k, v in envelope.body["balances"].items()}
    drift = {sku: {"edge": reported.get(sku, 0), "central": expected.get(sku, 0)}
             for sku in sorted(set(expected) | set(reported)) if reported.get(sku, 0) != expected.get(sku, 0)}
    if drift:
        _ops().q.add_alert(conn, envelope.merchant_id, "drift",
                           f"{envelope.site_id}: {len(drift)} SKU(s) differ from central's expectation",
                           site_id=envelope.site_id, detail={"as_of_seq": envelope.body["as_of_seq"], "drift": drift})
        log_event(logger, "inventory_drift", level=logging.WARNING, site_id=envelope.site_id, skus=len(drift))
    return {"applied": "inventory.digest", "drift": drift}
