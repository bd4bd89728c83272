"""The order state machine (DESIGN §2). Pure: callers persist the result and the timeline event."""
from __future__ import annotations

RECEIVED = "received"
ROUTED = "routed"
ALLOCATED = "allocated"
RELEASED = "released"
PICKING = "picking"
PACKED = "packed"
SHIPPED = "shipped"
DELIVERED = "delivered"
ON_HOLD = "on_hold"
CANCELLED = "cancelled"
EXCEPTION = "exception"
BACKORDERED = "backordered"
PARTIALLY_SHIPPED = "partially_shipped"

STATUSES = (RECEIVED, ROUTED, ALLOCATED, RELEASED, PICKING, PACKED, SHIPPED, DELIVERED, ON_HOLD,
            CANCELLED, EXCEPTION, BACKORDERED, PARTIALLY_SHIPPED)

# Everything that has not left the building can be held, cancelled or flagged.
_OPEN = (RECEIVED, ROUTED, ALLOCATED, RELEASED, PICKING, PACKED, BACKORDERED)

TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({ROUTED, BACKORDERED, ON_HOLD, CANCELLED, EXCEPTION}),
    ROUTED: frozenset({ALLOCATED, BACKORDERED, ON_HOLD, CANCELLED, EXCEPTION}),
    ALLOCATED: frozenset({RELEASED, BACKORDERED, ON_HOLD, CANCELLED, EXCEPTION}),
    RELEASED: frozenset({PICKING, PACKED, SHIPPED, PARTIALLY_SHIPPED, ALLOCATED, BACKORDERED, ON_HOLD,
                         CANCELLED, EXCEPTION}),
    PICKING: frozenset({PACKED, SHIPPED, PARTIALLY_SHIPPED, RELEASED, BACKORDERED, ON_HOLD, CANCELLED,
                        EXCEPTION}),
    PACKED: frozenset({SHIPPED, PARTIALLY_SHIPPED, ON_HOLD, CANCELLED, EXCEPTION}),
    PARTIALLY_SHIPPED: frozenset({SHIPPED, PARTIALLY_SHIPPED, DELIVERED, EXCEPTION, CANCELLED, PICKING, PACKED,
                                  RELEASED, BACKORDERED}),
    SHIPPED: frozenset({DELIVERED, EXCEPTION}),
    DELIVERED: frozenset({EXCEPTION}),
    BACKORDERED: frozenset({ALLOCATED, RELEASED, ROUTED, BACKORDERED, ON_HOLD, CANCELLED, EXCEPTION}),
    ON_HOLD: frozenset(set(_OPEN) | {CANCELLED, EXCEPTION}),
    CANCELLED: frozenset({EXCEPTION}),  # a shipment that happened offline after the cancel
    EXCEPTION: frozenset({SHIPPED, PARTIALLY_SHIPPED, DELIVERED, CANCELLED, RELEASED, ON_HOLD}),
}

CANCELLABLE = frozenset(_OPEN) | {ON_HOLD, EXCEPTION}
HOLDABLE = frozenset(_OPEN)
EDITABLE = frozenset({RECEIVED, ROUTED, ALLOCATED, RELEASED, PICKING, BACKORDERED, ON_HOLD})  # address / service


class TransitionRefused(ValueError):
    """``current -> target`` is not a legal move of the order lifecycle."""

    def __init__(self, current: str, target: str):
        super().__init__(f"order cannot go from {current!r} to {target!r}")
        self.current = current
        self.target = target


def ops_actions(current: str) -> tuple[str, ...]:
    """What the order page offers an ops user for an order in ``current`` (the service still decides)."""
    out = []
    if current in HOLDABLE:
        out.append("hold")
    if current == ON_HOLD:
        out.append("release")
    if current in CANCELLABLE or current == PARTIALLY_SHIPPED:   # a partial shipment cancels the remainder
        out.append("cancel")
    return tuple(out)


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str) -> str:
    """Return ``target`` when the move is legal, else raise :class:`TransitionRefused`."""
    if target not in STATUSES:
        raise TransitionRefused(current, target)
    if not can_transition(current, target):
        raise TransitionRefused(current, target)
    return target


def allocation_path(current: str, allocated: int, backordered: int) -> list[tuple[str, str, str]]:
    """Timeline steps after an allocation pass: [(status, kind, reason)]; kind == status for a
    status change, else a note (e.g. ``backordered_lines``) that leaves the status alone."""
    steps: list[tuple[str, str, str]] = []
    status = current
    if allocated > 0:
        walk = (ROUTED, ALLOCATED, RELEASED) if status in (RECEIVED, ROUTED, ALLOCATED, BACKORDERED) else ()
        for step in walk:
            if status != step and can_transition(status, step):
                steps.append((step, step, "released to site" if step == RELEASED else ""))
                status = step
        if backordered:
            steps.append((status, "backordered_lines", f"{backordered} unit(s) backordered"))
    elif backordered:
        if status != BACKORDERED and can_transition(status, BACKORDERED):
            steps.append((BACKORDERED, BACKORDERED, "no site can fill it now"))
        else:
            steps.append((status, "backordered_lines", f"{backordered} unit(s) backordered"))
    return steps


def status_after_allocation(allocated_units: int, backordered_units: int) -> str:
    """Order status once routing/allocation is done: released when anything could ship."""
    if allocated_units > 0:
        return RELEASED
    return BACKORDERED if backordered_units > 0 else RELEASED


def status_after_shipment(ordered: int, shipped: int, cancelled_before: bool) -> str:
    """Status after a shipment is applied (physical facts win: shipping a cancelled order -> exception)."""
    if cancelled_before:
        return EXCEPTION
    return SHIPPED if shipped >= ordered else PARTIALLY_SHIPPED


class NothingToCancel(TransitionRefused):
    """Every unit of the order has shipped (or is cancelled already): a cancel has nothing left to act on."""

    def __init__(self, current: str, shipped_units: int):
        ValueError.__init__(self, f"order is {current} and its {shipped_units} unit(s) have shipped: nothing left "
                                  f"to cancel (shipped units cannot be cancelled; return them instead)")
        self.current = current
        self.target = CANCELLED
        self.shipped_units = shipped_units


def cancel_outcome(current: str, open_units: int, shipped_units: int) -> str:
    """Status an order ends in when it is cancelled.

    Nothing shipped yet: ``cancelled``. Some units shipped (``partially_shipped``, or picking/packed/
    released/backordered/held/exception again after a partial shipment): the unshipped remainder is
    cancelled, the shipped units stay shipped, and the order ends ``shipped`` (everything still on it
    has left the building; it can still be delivered). Raises :class:`NothingToCancel` when no unit is
    open (shipped or delivered in full) and :class:`TransitionRefused` for cancelled orders."""
    if current == CANCELLED:
        raise TransitionRefused(current, CANCELLED)
    if open_units <= 0 and shipped_units > 0:
        raise NothingToCancel(current, shipped_units)
    if current not in CANCELLABLE and current != PARTIALLY_SHIPPED:
        raise TransitionRefused(current, CANCELLED)
    return CANCELLED if shipped_units == 0 else SHIPPED
