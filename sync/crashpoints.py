"""Named crash points for fault tests: the process ends abruptly (``os._exit``) at the named spot.

Armed explicitly (``arm_from_env`` reads ``FLOORSYNC_CRASHPOINT`` = a point name and optional
``FLOORSYNC_CRASHPOINT_AFTER`` = crash at the Nth hit); never armed in production. Points:
``before_commit`` (inside the domain transaction, after the outbox insert),
``after_commit_before_publish``, ``after_publish_before_ack``, ``during_ack_handling``.
"""
from __future__ import annotations

import os

POINTS = ("before_commit", "after_commit_before_publish", "after_publish_before_ack", "during_ack_handling")
_armed: dict[str, int] = {}


def arm(point: str, after: int = 1) -> None:
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}; known: {', '.join(POINTS)}")
    _armed.clear()
    _armed[point] = max(1, after)


def arm_from_env(environ=None) -> None:
    env = os.environ if environ is None else environ
    point = env.get("FLOORSYNC_CRASHPOINT", "")
    if point:
        arm(point, int(env.get("FLOORSYNC_CRASHPOINT_AFTER", "1")))


def hit(point: str) -> None:
    if point in _armed:
        _armed[point] -= 1
        if _armed[point] <= 0:
            os._exit(86)
