"""Receiving QC: what an inspector may decide about quarantined stock, and the reason codes."""
from __future__ import annotations

from dataclasses import dataclass

# reason codes an inspector picks when rejecting received stock
REJECT_REASONS = ("damaged", "defective", "expired", "wrong_item", "failed_spec", "contaminated", "other")
# what happens to rejected units: destroyed on site, or sent back to the supplier (both leave the stock)
DISPOSITIONS = ("scrap", "return_to_vendor")
# the grading disposition (``edge.core.rules.GRADES``) of a customer return that goes to QC (grade C):
# it waits in quarantine as a QC receipt, released to a bin or rejected like received stock
QC_DISPOSITION = "quarantine"


@dataclass(frozen=True)
class QcBalance:
    """One quarantined receipt: ``qty`` received, ``released`` to stock and ``rejected`` so far."""
    qty: int
    released: int
    rejected: int

    @property
    def pending(self) -> int:
        return self.qty - self.released - self.rejected


def check_decision(balance: QcBalance, qty: int) -> str | None:
    """None when ``qty`` units may be released or rejected now, else the reason it may not."""
    if balance.pending <= 0:
        return "nothing left to inspect on this receipt"
    if qty > balance.pending:
        return f"only {balance.pending} unit(s) of this receipt are still in quarantine"
    return None


def check_reject(reason: str, disposition: str) -> str | None:
    if reason not in REJECT_REASONS:
        return f"reason must be one of {', '.join(REJECT_REASONS)}"
    if disposition not in DISPOSITIONS:
        return f"disposition must be one of {', '.join(DISPOSITIONS)}"
    return None


def source_of(asn_id: str | None, transfer_id: str | None, ret: dict | None) -> str:
    """Where a quarantined receipt came from, as the inspector reads it."""
    if ret:
        what = f"return {ret['return_id']}"
        if ret.get("rma_id"):
            what += f" (RMA {ret['rma_id']})"
        return what + f", graded {ret['grade']}" if ret.get("grade") else what
    if asn_id:
        return f"ASN {asn_id}"
    if transfer_id:
        return f"transfer {transfer_id}"
    return "blind receipt"
