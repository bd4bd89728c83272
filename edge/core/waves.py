"""Wave release by carrier cut-off: which released orders go into the next wave.

A site's carrier pickups have local cut-off times ("ups" 17:00, "fedex:overnight" 15:30, ...).
Each order's *pickup* is the next cut-off of its carrier/service at or after ``now`` (today's if
it has not passed, else the next day's, skipping the site's holidays). The wave takes the orders
of the soonest pickups first, then the earliest ship-by, then urgent, then the oldest release, up
to the wave size, and only orders due (ship-by, site-local date) on or before the lead order's day.
Orders whose cut-off today has already passed are kept out of the wave while any order can still
make today's truck: they roll into a later wave (tomorrow's pickup).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
NO_PICKUP = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class WaveOrder:
    fo_id: str
    carrier: str
    service: str
    ship_by: str        # ISO datetime
    urgent: bool = False
    released_at: str = ""


@dataclass(frozen=True)
class Planned:
    order: WaveOrder
    cutoff_key: str | None      # the cut-off entry that applies ("ups:ground", "ups", "ground") or None
    pickup_at: dt.datetime      # next pickup (aware, UTC); NO_PICKUP when no cut-off is known
    missed_today: bool          # today's cut-off has passed: rolls to the next pickup

    def as_dict(self) -> dict:
        return {"fo_id": self.order.fo_id, "carrier": self.order.carrier, "service": self.order.service,
                "ship_by": self.order.ship_by, "urgent": self.order.urgent, "cutoff": self.cutoff_key,
                "pickup_at": None if self.pickup_at == NO_PICKUP else self.pickup_at.isoformat().replace("+00:00", "Z"),
                "missed_cutoff": self.missed_today}


@dataclass(frozen=True)
class WavePlan:
    wave: list[Planned]
    deferred: list[Planned]     # missed today's cut-off, left for a later wave
    waiting: list[Planned]      # make today's pickup but did not fit this wave


def parse_cutoffs(entries) -> dict[str, dt.time]:
    """``{"ups": "17:00", "fedex:overnight": "15:30"}`` or ``["ups=17:00", ...]`` -> key -> time.
    Keys are lower-cased; raises ValueError naming the bad entry."""
    if isinstance(entries, dict):
        items = list(entries.items())
    else:
        items = []
        for e in entries or ():
            if "=" not in str(e):
                raise ValueError(f"cut-off {e!r}: expected carrier=HH:MM or carrier:service=HH:MM")
            k, v = str(e).split("=", 1)
            items.append((k, v))
    out = {}
    for k, v in items:
        key = str(k).strip().lower()
        m = HHMM.match(str(v).strip())
        if not key or not m:
            raise ValueError(f"cut-off {k}={v!r}: expected HH:MM (24 h)")
        out[key] = dt.time(int(m.group(1)), int(m.group(2)))
    return out


def site_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def cutoff_key(carrier: str, service: str, cutoffs: dict[str, dt.time]) -> str | None:
    """The most specific entry for an order: carrier:service, then carrier, then the service class."""
    for k in (f"{carrier}:{service}".lower(), carrier.lower(), service.lower()):
        if k in cutoffs:
            return k
    return None


def next_pickup(cut: dt.time, tz: ZoneInfo, now: dt.datetime, holidays=frozenset()) -> tuple[dt.datetime, bool]:
    """(next pickup at or after ``now`` in UTC, whether today's cut-off was missed)."""
    local = now.astimezone(tz)
    day = local.date()
    missed = False
    for _ in range(30):
        at = dt.datetime.combine(day, cut, tzinfo=tz)
        if day.isoformat() not in holidays and at > local:
            return at.astimezone(dt.timezone.utc), missed
        missed = True
        day += dt.timedelta(days=1)
    return NO_PICKUP, True


def _ship_by(o: WaveOrder) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(o.ship_by.replace("Z", "+00:00"))
    except ValueError:
        return NO_PICKUP
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def plan_order(o: WaveOrder, cutoffs: dict[str, dt.time], tz: ZoneInfo, now: dt.datetime, holidays=frozenset()) -> Planned:
    key = cutoff_key(o.carrier, o.service, cutoffs)
    if key is None:
        return Planned(o, None, NO_PICKUP, False)
    at, missed = next_pickup(cutoffs[key], tz, now, holidays)
    return Planned(o, key, at, missed)


def release_key(p: Planned) -> tuple:
    """Soonest pickup, then earliest ship-by, then urgent, then oldest release."""
    return (p.pickup_at, _ship_by(p.order), not p.order.urgent, p.order.released_at, p.order.fo_id)


def plan_wave(orders: list[WaveOrder], cutoffs: dict[str, dt.time], tz: ZoneInfo, now: dt.datetime, size: int,
              holidays=frozenset()) -> WavePlan:
    planned = sorted((plan_order(o, cutoffs, tz, now, holidays) for o in orders), key=release_key)
    today = [p for p in planned if not p.missed_today]
    missed = [p for p in planned if p.missed_today]
    pool, deferred = (today, missed) if today else (missed, [])
    if not pool:
        return WavePlan([], [], [])
    # the wave is the lead order's ship-by day: orders due later wait for their own day's wave
    day = _ship_by(pool[0].order).astimezone(tz).date() if _ship_by(pool[0].order) != NO_PICKUP else None
    due = [p for p in pool if day is None or _ship_by(p.order) == NO_PICKUP or _ship_by(p.order).astimezone(tz).date() <= day]
    wave = due[:size]
    chosen = {p.order.fo_id for p in wave}
    return WavePlan(wave, deferred, [p for p in pool if p.order.fo_id not in chosen])
