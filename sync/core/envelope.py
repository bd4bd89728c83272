"""The versioned envelope every sync event travels in (pure: no I/O)."""
from __future__ import annotations

import datetime as _dt
import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

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

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)


def new_event_id() -> str:
    return str(uuid.uuid4())


def utc_now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
