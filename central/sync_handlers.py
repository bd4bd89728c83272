"""Central's side of the sync contract: apply one up event inside the caller's transaction.

The sync runtime (``sync.central_node``) dedups and orders envelopes, then calls
:func:`apply_up_event` in the same transaction that records the envelope in its inbox. Quantity
semantics follow ``sync/core/events.py`` exactly (deltas, never overwrites; physical facts win).
"""
from __future__ import annotations

import logging

from sqlalchemy.engine import Connection

from central import store
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
    ``Forbidden`` (the event touches another site's or merchant's data). Returns a small summary.

    For envelopes from anywhere: the body is checked against the contract here. The sync runtime uses
    :func:`apply_valid_up_event` / :func:`apply_up_batch` instead, because ``decode_batch`` already
    checked every envelope and body it hands over (one place owns that check on the sync path)."""
    try:
        if stream_of(envelope.type) != UP:
            raise ValidationFailed(f"{envelope.type} is not an up event", {"type": "not an up-stream event"})
        validate_body(envelope.type, envelope.body)
    except BodyError as exc:
        raise ValidationFailed(str(exc), {exc.field: str(exc)}) from exc
    return apply_valid_up_event(conn, envelope)


# Up events whose whole effect on central is a stock delta at the sending site (after a check that the
# site is in the merchant's network): ``stock_change_of`` maps one to its change (None: no change).
STOCK_DELTA_TYPES = frozenset({"inventory.received", "inventory.adjusted", "cycle_count.recorded", "return.received",
                               "return.graded", "stock.qc_released", "stock.qc_rejected"})


def stock_change_of(envelope: Envelope) -> dict | None:
    """The stock change of a STOCK_DELTA_TYPES event, as ``Ops.stock_deltas`` items (quantity semantics of
    ``sync/core/events.py``); None when it changes nothing (a cycle count that matched)."""
    body = envelope.body
    kind = envelope.type
    site = envelope.site_id
    ref = f"{site}/{envelope.seq}"
    ch: dict = {"merchant_id": envelope.merchant_id, "sku": body["sku"], "actor": f"edge:{site}"}
    if kind == "inventory.received":
        ch.update(cause="receipt", ref=ref)
        ch["d_quarantine" if body["quarantine"] else "d_on_hand"] = body["qty"]
    elif kind == "inventory.adjusted":
        ch.update(cause="adjustment", ref=f"{ref} {body['reason']}"[:120], d_on_hand=body["delta"])
    elif kind == "cycle_count.recorded":
        delta = body["counted"] - body["expected"]
        if not delta:
            return None
        ch.update(cause="cycle_count", ref=f"{ref} @{body['location']}"[:120], d_on_hand=delta)
    elif kind == "return.received":
        ch.update(cause="return", ref=body.get("rma_id") or body.get("order_id") or ref, d_quarantine=body["qty"])
    elif kind == "return.graded":
        if body["grade"] == "C":   # stays in quarantine until the site's QC releases or rejects it (stock.qc_*)
            return None
        ch.update(cause="grading", ref=f"{body.get('rma_id') or ref} grade {body['grade']}"[:120],
                  d_quarantine=-body["qty"], d_on_hand=body["qty"] if body["restocked"] else 0)
    elif kind == "stock.qc_released":
        ch.update(cause="grading", ref=f"{ref} qc receipt {body['receipt_id']} released"[:120],
                  d_quarantine=-body["qty"], d_on_hand=body["qty"])
    elif kind == "stock.qc_rejected":
        ch.update(cause="grading",
                  ref=f"{ref} qc receipt {body['receipt_id']} {body['disposition']}: {body['reason']}"[:120],
                  d_quarantine=-body["qty"])
    else:
        raise ValueError(f"{kind} is not a stock-delta event")
    return ch


def _site_check(conn: Connection, site: str, merchant: str, allowed: list[str] | None = None) -> None:
    if merchant not in (allowed if allowed is not None else _ops().q.site_merchants(conn, site)):
        raise Forbidden(f"site {site} is not in merchant {merchant}'s network")


def apply_valid_up_event(conn: Connection, envelope: Envelope) -> dict:
    """:func:`apply_up_event` for an envelope whose body was already checked against the contract
    (``sync.core.envelope.decode_batch`` did)."""
    ops = _ops()
    q = ops.q
    body = envelope.body
    site = envelope.site_id
    merchant = envelope.merchant_id
    actor = f"edge:{site}"
    kind = envelope.type

    def site_check() -> None:
        _site_check(conn, site, merchant)

    def fo_check(fo_id: str) -> dict:
        fo = q.get_fo(conn, fo_id)
        if fo is None:
            raise NotFound(f"unknown fulfillment order {fo_id}")
        if fo["site_id"] != site or fo["merchant_id"] != merchant:
            log_event(logger, "security_foreign_fo", level=logging.WARNING, site_id=site, fo_id=fo_id)
            raise Forbidden(f"fulfillment order {fo_id} does not belong to site {site}")
        return fo

    if kind in STOCK_DELTA_TYPES:   # a new stock-delta event type: add it there and to stock_change_of
        site_check()
        ch = stock_change_of(envelope)
        if ch is not None:
            ops.stock_delta(conn, merchant, ch["sku"], site, cause=ch["cause"], actor=actor, ref=ch["ref"],
                            d_on_hand=ch.get("d_on_hand", 0), d_quarantine=ch.get("d_quarantine", 0))
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
        # every shipment has its cartons: the reported ones, else one parcel under the master tracking number
        body = {**body, "cartons": body.get("cartons") or [{"seq": 1, "tracking_number": body["tracking_number"],
                                                            "carton": "", "weight_g": body["weight_g"],
                                                            "lines": body["lines"]}]}
        store.replace_shipment_cartons(conn, body["fo_id"], body["cartons"], body["shipped_at"])
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
    elif kind == "inventory.digest":
        return check_digest(conn, envelope)
    return {"applied": kind}


def apply_up_batch(conn: Connection, envelopes: list[Envelope]) -> list[dict]:
    """Apply already-checked up envelopes in the given (seq) order inside the caller's transaction, with
    the same effects as :func:`apply_valid_up_event` for each in turn; returns their summaries.

    Runs of consecutive stock-delta events of one site are applied set-based (one site check per
    merchant, ``Ops.stock_deltas``); every other event goes through the one-by-one path. Raises like
    :func:`apply_valid_up_event` (the caller then retries envelope by envelope to find the culprit)."""
    out: list[dict] = []
    run: list[Envelope] = []

    def flush() -> None:
        if not run:
            return
        site = run[0].site_id
        allowed = _ops().q.site_merchants(conn, site)
        changes = []
        for env in run:
            _site_check(conn, site, env.merchant_id, allowed)
            ch = stock_change_of(env)
            if ch is not None:
                changes.append(ch)
        if changes:
            _ops().stock_deltas(conn, site, changes)
        out.extend({"applied": env.type} for env in run)
        run.clear()

    for env in envelopes:
        if env.type in STOCK_DELTA_TYPES:
            if run and run[0].site_id != env.site_id:
                flush()
            run.append(env)
            continue
        flush()
        out.append(apply_valid_up_event(conn, env))
    flush()
    return out


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
