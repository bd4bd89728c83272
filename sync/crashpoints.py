"""Named crash points for fault tests: the process kills itself with SIGKILL (``kill -9``) at the named spot.

Armed explicitly (``arm_from_env`` reads ``FLOORSYNC_CRASHPOINT`` = a point name and optional
``FLOORSYNC_CRASHPOINT_AFTER`` = crash at the Nth hit); never armed in production. Points:
``before_commit`` (inside the domain transaction, after the outbox insert),
``after_commit_before_publish``, ``after_publish_before_ack``, ``during_ack_handling`` (inside the
transaction that retires acknowledged outbox rows).

SIGKILL cannot be caught: no ``finally``, no atexit, no SQLite commit or rollback, no MQTT
DISCONNECT — the open transaction dies with the process exactly as under ``kill -9``.
"""
from __future__ import annotations

import os
import signal

POINTS = ("before_commit", "after_commit_before_publish", "after_publish_before_ack", "during_ack_handling")
EXIT_CODE = 86  # only where SIGKILL is unavailable
_armed: dict[str, int] = {}


def arm(point: str, after: int = 1) -> None:
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}; known: {', '.join(POINTS)}")
    _armed.clear()
    _armed[point] = max(1, after)


def disarm() -> None:
    _armed.clear()


def arm_from_env(environ=None) -> None:
    env = os.environ if environ is None else environ
    point = env.get("FLOORSYNC_CRASHPOINT", "")
    if point:
        arm(point, int(env.get("FLOORSYNC_CRASHPOINT_AFTER", "1")))


def hit(point: str) -> None:
    if point in _armed:
        _armed[point] -= 1
        if _armed[point] <= 0:
            sigkill = getattr(signal, "SIGKILL", None)
            if sigkill is not None:
                os.kill(os.getpid(), sigkill)
            os._exit(EXIT_CODE)
