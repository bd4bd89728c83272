"""Control messages beside the event batches (pure): hello, ack/resend, presence, heartbeat,
plus the drift comparison and the catch-up progress estimate.

Every control payload is a small JSON object with a ``kind``; ``parse_control`` checks each field's
type and bounds and raises :class:`~sync.core.envelope.EnvelopeError` so bad input is refused
with a reason, exactly like a bad envelope.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from sync.core.envelope import EnvelopeError

CONTROL_VERSION = 1
_MAX_CONTROL_BYTES = 65_536

# kind -> {field: (type, required)}
_SPECS: dict[str, dict[str, tuple[type | tuple, bool]]] = {
    # edge -> central on (re)connect: its epoch and where it starts, its down cursor
    "hello": {"epoch": (str, True), "epoch_base": (int, True), "session": (int, True),
              "down_epoch": (str, False), "down_applied": (int, True)},
    # receiver -> sender: applied cursor of a stream, optional resend request
    "ack": {"stream": (str, True), "epoch": (str, True), "seq": (int, True), "resend_from": (int, False),
            # central -> edge: the head of the site's down stream (what a reconnected edge must apply first)
            "down_head": (int, False)},
    # edge presence (retained) and its last will
    "presence": {"state": (str, True), "session": (int, True), "at": (str, False)},
    # edge heartbeat
    "heartbeat": {"session": (int, True), "at": (str, True), "outbox_depth": (int, True),
                  "outbox_oldest_age_s": ((int, float), True), "down_applied": (int, True),
                  "up_last_seq": (int, True), "devices": (dict, True), "interval_s": ((int, float), True),
                  # set while the edge sees central ask for events it already confirmed (central lost data)
                  "alert": (str, False)},
}


_MAX_STR = {"alert": 500}  # free text shown to people; every other string is an id or a timestamp


def _dump(kind: str, **fields: Any) -> bytes:
    return json.dumps({"v": CONTROL_VERSION, "kind": kind, **fields}, separators=(",", ":")).encode()


def hello(*, epoch: str, epoch_base: int, session: int, down_epoch: str | None, down_applied: int) -> bytes:
    return _dump("hello", epoch=epoch, epoch_base=epoch_base, session=session, down_epoch=down_epoch,
                 down_applied=down_applied)


def ack(*, stream: str, epoch: str, seq: int, resend_from: int | None = None, down_head: int | None = None) -> bytes:
    extra = {"down_head": down_head} if down_head is not None else {}
    return _dump("ack", stream=stream, epoch=epoch, seq=seq, resend_from=resend_from, **extra)


def catchup_gate(gate_until: float | None, now: float, target: int | None, applied: int) -> str | None:
    """Why new floor work must wait right after a reconnect, or None. Central's holds and cancels
    queued during the outage must apply before any new pick or label; the wait is bounded
    (``gate_until``) so a slow or absent central never stops the floor."""
    if gate_until is None or now >= gate_until:
        return None
    if target is None:
        return "reconnected: waiting for central's queued commands"
    if applied >= target:
        return None
    return f"reconnected: applying central's queued commands ({target - applied} to go)"


def presence(state: str, session: int, at: str | None = None) -> bytes:
    return _dump("presence", state=state, session=session, at=at)


def heartbeat(*, session: int, at: str, outbox_depth: int, outbox_oldest_age_s: float, down_applied: int,
              up_last_seq: int, devices: Mapping[str, Any], interval_s: float, alert: str | None = None) -> bytes:
    extra = {"alert": alert[:500]} if alert else {}
    return _dump("heartbeat", session=session, at=at, outbox_depth=outbox_depth,
                 outbox_oldest_age_s=round(outbox_oldest_age_s, 3), down_applied=down_applied,
                 up_last_seq=up_last_seq, devices=dict(devices), interval_s=interval_s, **extra)


def parse_control(payload: bytes, expect_kind: str) -> dict[str, Any]:
    if len(payload) > _MAX_CONTROL_BYTES:
        raise EnvelopeError("too_large", f"control message of {len(payload)} bytes")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise EnvelopeError("malformed_json", "control message is not JSON") from None
    if not isinstance(doc, dict) or doc.get("kind") != expect_kind:
        raise EnvelopeError("bad_batch", f"expected a {expect_kind} message")
    if doc.get("v") != CONTROL_VERSION:
        raise EnvelopeError("schema_unsupported", f"control version {str(doc.get('v'))[:10]}")
    spec = _SPECS[expect_kind]
    for key, (typ, required) in spec.items():
        value = doc.get(key)
        if value is None:
            if required:
                raise EnvelopeError("missing_field", f"{expect_kind}.{key} is missing", key)
            continue
        if isinstance(value, bool) and typ is not bool or not isinstance(value, typ):
            raise EnvelopeError("wrong_type", f"{expect_kind}.{key} has the wrong type", key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise EnvelopeError("bad_value", f"{expect_kind}.{key} must be >= 0", key)
        if isinstance(value, str) and len(value) > _MAX_STR.get(key, 80):
            raise EnvelopeError("bad_value", f"{expect_kind}.{key} is too long", key)
    if expect_kind == "ack" and doc["stream"] not in ("up", "down"):
        raise EnvelopeError("bad_value", "ack.stream must be up or down", "stream")
    if expect_kind == "presence" and doc["state"] not in ("online", "offline"):
        raise EnvelopeError("bad_value", "presence.state must be online or offline", "state")
    return doc


# ---------------------------------------------------------------------------- drift

def drift(expected: Mapping[str, int], reported: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """SKUs whose edge-reported balance differs from central's expectation (missing counts as 0)."""
    out = {}
    for sku in sorted(set(expected) | set(reported)):
        e, r = int(expected.get(sku, 0)), int(reported.get(sku, 0))
        if e != r:
            out[sku] = {"edge": r, "central": e, "diff": r - e}
    return out


# ---------------------------------------------------------------------------- presence state

@dataclass
class SitePresence:
    """Central's view of one site: online/offline by session, stale after missed heartbeats."""

    session: int = -1
    online: bool = False
    last_heartbeat: float | None = None   # monotonic seconds
    interval_s: float = 10.0
    heartbeat: dict[str, Any] = field(default_factory=dict)

    def on_presence(self, state: str, session: int) -> bool:
        """Apply an online/offline message; a stale last will (older session) is ignored."""
        if session < self.session:
            return False
        if state == "offline" and session == self.session and not self.online:
            return False
        self.session = session
        self.online = state == "online"
        return True

    def on_heartbeat(self, hb: Mapping[str, Any], now: float) -> None:
        self.last_heartbeat = now
        self.interval_s = float(hb.get("interval_s") or self.interval_s)
        self.heartbeat = dict(hb)
        if hb.get("session", -1) >= self.session:
            self.session = hb["session"]
            self.online = True

    def is_stale(self, now: float, missed: int) -> bool:
        if self.last_heartbeat is None:
            return True
        return now - self.last_heartbeat > missed * self.interval_s


# ---------------------------------------------------------------------------- catch-up progress

@dataclass
class Progress:
    """Events behind, smoothed apply rate and ETA for a draining stream."""

    behind: int = 0
    rate: float = 0.0          # events/s, exponentially smoothed
    applied_total: int = 0
    peak_behind: int = 0
    _last_t: float | None = None
    _acc: int = 0

    def on_applied(self, n: int, now: float) -> None:
        self.applied_total += n
        self._acc += n
        if self._last_t is None:
            self._last_t = now
            return
        dt = now - self._last_t
        if dt >= 0.5:
            inst = self._acc / dt
            self.rate = inst if self.rate == 0 else 0.5 * self.rate + 0.5 * inst
            self._acc = 0
            self._last_t = now

    def set_behind(self, behind: int, now: float) -> None:
        self.behind = max(0, behind)
        if self.behind == 0:
            self.peak_behind = 0
        self.peak_behind = max(self.peak_behind, self.behind)
        if self._last_t is not None and now - self._last_t > 5:
            self.rate = 0.0  # idle: no stale rate
            self._last_t = now
            self._acc = 0

    @property
    def eta_s(self) -> float | None:
        if self.behind == 0:
            return 0.0
        return self.behind / self.rate if self.rate > 0 else None

    @property
    def done_fraction(self) -> float:
        if self.peak_behind <= 0:
            return 1.0
        return max(0.0, min(1.0, 1 - self.behind / self.peak_behind))

    def as_dict(self) -> dict[str, Any]:
        eta = self.eta_s
        return {"behind": self.behind, "rate_per_s": round(self.rate, 1), "eta_s": None if eta is None else round(eta, 1),
                "done_fraction": round(self.done_fraction, 4), "applied_total": self.applied_total}
