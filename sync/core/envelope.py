"""The versioned envelope every sync event travels in (pure: no I/O)."""
from __future__ import annotations

import datetime as _dt
import json
import re
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sync.core.events import BodyError, stream_of, validate_body

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Envelope:
    schema: int
    event_id: str
    merchant_id: str
    site_id: str
    stream: str  # "up" (edge -> central) or "down" (central -> edge)
    seq: int     # per (site, stream), strictly increasing, never reused
    epoch: str   # changes when an edge database is rebuilt or restored
    type: str
    occurred_at: str
    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def wire(self) -> dict[str, Any]:
        """``to_dict()`` without the deep copy (the body is shared): for serialising at once."""
        return {"schema": self.schema, "event_id": self.event_id, "merchant_id": self.merchant_id,
                "site_id": self.site_id, "stream": self.stream, "seq": self.seq, "epoch": self.epoch,
                "type": self.type, "occurred_at": self.occurred_at, "body": self.body}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)


def new_event_id() -> str:
    return str(uuid.uuid4())


def utc_now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------- wire format
# One MQTT message carries a *batch*: a small header naming the sender's site, stream and epoch,
# and a list of envelopes. Each envelope is still self-contained and checked on its own, so one bad
# envelope is refused without losing the good ones beside it.

BATCH_VERSION = 1
MAX_SEQ = 2 ** 53
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,79}")
_SITE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,15}")
_TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")
FIELDS = ("schema", "event_id", "merchant_id", "site_id", "stream", "seq", "epoch", "type", "occurred_at", "body")
_FIELD_SET = frozenset(FIELDS)

# Why a message or envelope was refused (the sync dashboards count these by name).
REJECT_REASONS = (
    "too_large", "malformed_json", "bad_batch", "missing_field", "wrong_type", "unknown_field", "bad_value",
    "invalid_body", "wrong_stream", "wrong_site", "wrong_merchant", "old_epoch", "unknown_epoch",
    "seq_far_future", "schema_unsupported", "forbidden",
)


class EnvelopeError(ValueError):
    """A message or envelope was refused; ``reason`` is one of REJECT_REASONS, ``field`` names what."""

    def __init__(self, reason: str, message: str, field: str = ""):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class Parked:
    """An envelope written by a newer protocol version: kept, reported, never applied or dropped."""

    schema: int
    seq: int | None
    event_id: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    error: EnvelopeError
    seq: int | None
    raw: Any


@dataclass(frozen=True)
class Batch:
    site_id: str
    stream: str
    epoch: str
    epoch_base: int
    items: tuple  # Envelope | Parked | Rejected, in message order


def _need(d: dict, key: str, typ: type, where: str = "") -> Any:
    if key not in d:
        raise EnvelopeError("missing_field", f"{where}{key} is missing", key)
    value = d[key]
    if typ is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, typ)
    if not ok:
        raise EnvelopeError("wrong_type", f"{where}{key} must be {typ.__name__}", key)
    return value


def _match(regex: re.Pattern, value: str, key: str, seen: set | None = None) -> str:
    """``value`` if it matches ``regex``; ``seen`` remembers (regex, value) pairs already checked (the
    site, merchant and epoch repeat in every envelope of a batch)."""
    if seen is not None and (regex, value) in seen:
        return value
    if not regex.fullmatch(value):
        raise EnvelopeError("bad_value", f"{key} has an invalid format {value[:40]!r}", key)
    if seen is not None and len(seen) < 64:
        seen.add((regex, value))
    return value


_new_object = object.__new__


def _envelope(*values) -> Envelope:
    """``Envelope(*values)`` without the frozen dataclass's per-field ``object.__setattr__`` (the hot
    path builds one per received event); same fields, same equality, still frozen."""
    env = _new_object(Envelope)
    env.__dict__.update(zip(FIELDS, values))
    return env


def envelope_from_dict(d: Any, seen: set | None = None) -> Envelope:
    """Check every field of one envelope (types, formats, the body contract); raise EnvelopeError.
    ``seen``: a set shared by the envelopes of one batch (see ``_match``)."""
    if not isinstance(d, dict):
        raise EnvelopeError("wrong_type", "an envelope must be an object")
    schema = _need(d, "schema", int)
    if schema != SCHEMA_VERSION:
        raise EnvelopeError("schema_unsupported", f"schema {schema} is not supported (this node speaks {SCHEMA_VERSION})",
                            "schema")
    unknown = [] if _FIELD_SET.issuperset(d) else sorted(set(d) - _FIELD_SET)
    if unknown:
        raise EnvelopeError("unknown_field", f"unknown envelope field {unknown[0]!r}", unknown[0])
    event_id = _match(_ID_RE, _need(d, "event_id", str), "event_id")
    merchant_id = _match(_ID_RE, _need(d, "merchant_id", str), "merchant_id", seen)
    site_id = _match(_SITE_RE, _need(d, "site_id", str), "site_id", seen)
    stream = _need(d, "stream", str)
    if stream not in ("up", "down"):
        raise EnvelopeError("bad_value", f"stream must be up or down, got {stream[:10]!r}", "stream")
    seq = _need(d, "seq", int)
    if not 1 <= seq <= MAX_SEQ:
        raise EnvelopeError("bad_value", f"seq {seq} out of range", "seq")
    epoch = _match(_ID_RE, _need(d, "epoch", str), "epoch", seen)
    etype = _need(d, "type", str)
    occurred_at = _match(_TS_RE, _need(d, "occurred_at", str), "occurred_at")
    body = _need(d, "body", dict)
    try:
        if stream_of(etype) != stream:
            raise EnvelopeError("wrong_stream", f"{etype} does not travel on the {stream} stream", "type")
        validate_body(etype, body)
    except BodyError as exc:
        raise EnvelopeError("invalid_body", str(exc), exc.field) from exc
    return _envelope(schema, event_id, merchant_id, site_id, stream, seq, epoch, etype, occurred_at, body)


def encode_batch(envelopes: list[Envelope], *, epoch_base: int = 0) -> bytes:
    """One MQTT payload for envelopes of one site, stream and epoch (in seq order)."""
    if not envelopes:
        raise ValueError("empty batch")
    first = envelopes[0]
    header = {"v": BATCH_VERSION, "site_id": first.site_id, "stream": first.stream, "epoch": first.epoch,
              "epoch_base": epoch_base, "envelopes": [e.wire() for e in envelopes]}
    return json.dumps(header, separators=(",", ":")).encode("utf-8")


def decode_batch(payload: bytes, *, max_bytes: int, expect_stream: str, expect_site: str) -> Batch:
    """Decode and check one batch message from an authenticated sender.

    ``expect_site`` is the site the sender is authenticated as (its topic subtree, which the broker's
    ACL confines it to). A message-level problem raises EnvelopeError (nothing in it is used);
    per-envelope problems come back as Rejected/Parked items so the good envelopes still count.
    """
    if len(payload) > max_bytes:
        raise EnvelopeError("too_large", f"payload of {len(payload)} bytes exceeds the limit of {max_bytes}")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError("malformed_json", f"not JSON: {str(exc)[:80]}") from None
    if not isinstance(doc, dict):
        raise EnvelopeError("bad_batch", "a batch must be a JSON object")
    if doc.get("v") != BATCH_VERSION:
        raise EnvelopeError("schema_unsupported", f"batch version {str(doc.get('v'))[:10]} is not supported", "v")
    site_id = _need(doc, "site_id", str, "batch.")
    stream = _need(doc, "stream", str, "batch.")
    epoch = _match(_ID_RE, _need(doc, "epoch", str, "batch."), "epoch")
    epoch_base = _need(doc, "epoch_base", int, "batch.")
    items = _need(doc, "envelopes", list, "batch.")
    if site_id != expect_site:
        raise EnvelopeError("wrong_site", f"batch claims site {site_id[:20]!r} but the sender is {expect_site}", "site_id")
    if stream != expect_stream:
        raise EnvelopeError("wrong_stream", f"batch stream {stream[:10]!r} on the {expect_stream} topic", "stream")
    if epoch_base < 0:
        raise EnvelopeError("bad_value", "epoch_base must be >= 0", "epoch_base")
    out: list = []
    seen: set = set()
    for raw in items:
        seq = raw.get("seq") if isinstance(raw, dict) else None
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        if isinstance(raw, dict) and isinstance(raw.get("schema"), int) and not isinstance(raw.get("schema"), bool) \
                and raw["schema"] > SCHEMA_VERSION:
            eid = raw.get("event_id") if isinstance(raw.get("event_id"), str) else None
            out.append(Parked(raw["schema"], seq, eid, raw))
            continue
        try:
            env = envelope_from_dict(raw, seen)
            if env.site_id != expect_site:
                raise EnvelopeError("wrong_site", f"envelope claims site {env.site_id!r} but the sender is {expect_site}",
                                    "site_id")
            if env.stream != expect_stream or env.epoch != epoch:
                raise EnvelopeError("bad_batch", "envelope stream/epoch differ from its batch header", "epoch")
            out.append(env)
        except EnvelopeError as exc:
            out.append(Rejected(exc, seq, raw))
    return Batch(site_id, stream, epoch, epoch_base, tuple(out))
