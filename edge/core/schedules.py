"""Scheduled cycle counts: count classes by pick velocity (ABC), and which bins fall due when.

A schedule covers the stocked bins of one zone (``scope = "zone"``, target ``"A"``) or of one
ABC class (``scope = "abc"``, target ``"A"``/``"B"``/``"C"``) and counts each of them every
``every_days`` days. A bin counted before is due ``every_days`` after its last accepted count.
A bin never counted is due on a staggered first date: the schedule's bins in walk order are
spread evenly over the first cycle (bin i of n is due ``floor(i * every_days / n)`` days after the
schedule was created), so a site counts about 1/every_days of the scope per day instead of
everything on day one. One open count task per bin at a time; a bin in several schedules is
counted for the one with the shortest cycle (then the lowest id).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

SCOPES = ("zone", "abc")
CLASSES = ("A", "B", "C")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


@dataclass(frozen=True)
class Schedule:
    schedule_id: str
    scope: str
    target: str
    every_days: int
    created_at: dt.datetime


@dataclass(frozen=True)
class BinInfo:
    code: str
    zone: str
    skus: tuple[str, ...]


@dataclass(frozen=True)
class DueCount:
    schedule_id: str
    location: str
    abc_class: str | None
    due_at: dt.datetime


def check_schedule(schedule_id: str, scope: str, target: str, every_days, zones: Iterable[str]) -> str | None:
    """None if the schedule is valid, else why not."""
    if not ID_RE.match(schedule_id or ""):
        return "schedule id: 1-40 letters, digits, '.', '_' or '-'"
    if scope not in SCOPES:
        return f"scope must be one of {', '.join(SCOPES)}"
    if scope == "zone" and target not in set(zones):
        return f"zone {target!r} has no storage bins at this site"
    if scope == "abc" and target not in CLASSES:
        return f"ABC class must be one of {', '.join(CLASSES)}"
    if isinstance(every_days, bool) or not isinstance(every_days, int) or not 1 <= every_days <= 365:
        return "every_days must be a whole number of days 1-365"
    return None


def classify_abc(velocity: Mapping[str, int], skus: Iterable[str], a_pct: float, b_pct: float) -> dict[str, str]:
    """Rank SKUs by units picked (most first, then SKU code): the first ceil(a_pct % of them) are A,
    up to ceil((a_pct + b_pct) %) B, the rest C; a SKU never picked in the window is always C."""
    ranked = sorted(set(skus), key=lambda s: (-velocity.get(s, 0), s))
    n = len(ranked)
    n_a = math.ceil(n * a_pct / 100.0)
    n_ab = math.ceil(n * (a_pct + b_pct) / 100.0)
    out = {}
    for i, s in enumerate(ranked):
        if velocity.get(s, 0) <= 0:
            out[s] = "C"
        else:
            out[s] = "A" if i < n_a else "B" if i < n_ab else "C"
    return out


def bin_class(skus: Iterable[str], classes: Mapping[str, str]) -> str:
    """A bin is as important as its most important SKU."""
    return min((classes.get(s, "C") for s in skus), default="C")


def in_scope(s: Schedule, b: BinInfo, classes: Mapping[str, str]) -> bool:
    if s.scope == "zone":
        return b.zone == s.target
    return bin_class(b.skus, classes) == s.target


def due_counts(schedules: list[Schedule], bins: list[BinInfo], classes: Mapping[str, str],
               last_counted: Mapping[str, dt.datetime], open_locations: set[str], now: dt.datetime) -> list[DueCount]:
    """The count tasks to create now (``bins`` in walk order)."""
    out: list[DueCount] = []
    taken = set(open_locations)
    for s in sorted(schedules, key=lambda s: (s.every_days, s.schedule_id)):
        scope = [b for b in bins if in_scope(s, b, classes)]
        n = len(scope)
        for i, b in enumerate(scope):
            if b.code in taken:
                continue
            last = last_counted.get(b.code)
            if last is not None:
                due = last + dt.timedelta(days=s.every_days)
            else:
                due = s.created_at + dt.timedelta(days=(i * s.every_days) // n)
            if due <= now:
                out.append(DueCount(s.schedule_id, b.code, bin_class(b.skus, classes) if s.scope == "abc" else None, due))
                taken.add(b.code)
    return out


def task_state(due_at: dt.datetime, now: dt.datetime, overdue_days: int) -> str:
    """``due`` (count it today) or ``overdue`` (more than ``overdue_days`` past its due date)."""
    return "overdue" if now > due_at + dt.timedelta(days=overdue_days) else "due"
