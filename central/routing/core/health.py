"""Site health as routing sees it. Pure.

A site takes new work only when it is not stale (heartbeats arriving), at least one label printer
works, and its sync lag is under the threshold. The reason text is what the decision log shows
next to the site id, e.g. "LAX1: stale 6 min".
"""
from __future__ import annotations

import datetime as dt


def site_health(*, stale: bool, printers_ok: bool, sync_lag_s: float, max_sync_lag_s: float,
                last_heartbeat_at: dt.datetime | str | None, now: dt.datetime) -> tuple[bool, str]:
    """(healthy, reason); reason is '' when healthy."""
    if stale:
        seen = last_heartbeat_at
        if isinstance(seen, str) and seen:
            try:
                seen = dt.datetime.fromisoformat(seen.replace("Z", "+00:00"))
            except ValueError:
                seen = None
        if isinstance(seen, dt.datetime):
            if seen.tzinfo is None:
                seen = seen.replace(tzinfo=dt.timezone.utc)
            minutes = max(0, int((now - seen).total_seconds() // 60))
            return False, f"stale {minutes} min"
        return False, "stale (no heartbeat yet)"
    if not printers_ok:
        return False, "no working label printer"
    if sync_lag_s > max_sync_lag_s:
        return False, f"sync lag {sync_lag_s:.0f} s over {max_sync_lag_s:.0f} s"
    return True, ""
