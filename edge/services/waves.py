"""Wave release: the next wave of released orders by carrier cut-off urgency (``edge.core.waves``).

Cut-offs come from ``edge.carrier_cutoffs`` overlaid by the site's ``cutoffs`` from central's
``site.config`` (per key); the site's time zone and holidays come from ``site.config`` too
(``edge.timezone`` until central has sent one)."""
from __future__ import annotations

from edge import store as db
from edge.core.waves import WaveOrder, WavePlan, parse_cutoffs, plan_wave, site_zone
from edge.errors import InvalidState
from edge.services.base import Actor, Service


class Waves(Service):
    def settings(self, conn) -> tuple[dict, object, frozenset]:
        sc = db.site_config_get(conn)
        try:
            cutoffs = parse_cutoffs(self.cfg.carrier_cutoffs)
            site_cut = sc.get("cutoffs")
            if isinstance(site_cut, dict):
                cutoffs.update(parse_cutoffs(site_cut))
            tz = site_zone(sc.get("timezone") or self.cfg.timezone)
        except ValueError as exc:
            raise InvalidState(f"site cut-off configuration: {exc}", next="Fix the site's cut-offs") from exc
        holidays = frozenset(str(h) for h in sc.get("holidays") or ())
        return cutoffs, tz, holidays

    def plan(self, conn, rows: list[dict], size: int | None = None) -> WavePlan:
        """Plan the next wave among ``rows`` (fulfillment order rows as ``store.fos_by_status`` returns)."""
        cutoffs, tz, holidays = self.settings(conn)
        orders = [WaveOrder(r["fo_id"], r["carrier"], r["service"], r["ship_by"], bool(r["urgent"]), r["released_at"])
                  for r in rows]
        return plan_wave(orders, cutoffs, tz, self.floor.now(), size or self.cfg.batch_orders, holidays)

    def preview(self, actor: Actor) -> dict:
        """What the next wave would hold right now (console): wave, waiting and deferred orders."""
        actor.require("picker")

        def fn(conn):
            p = self.plan(conn, db.fos_by_status(conn, ["released"], 500))
            cutoffs, tz, _h = self.settings(conn)
            out = {"ok": True, "now": self.floor.now().isoformat(), "timezone": str(tz),
                   "cutoffs": {k: v.strftime("%H:%M") for k, v in sorted(cutoffs.items())},
                   "wave": [x.as_dict() for x in p.wave], "waiting": [x.as_dict() for x in p.waiting],
                   "deferred": [x.as_dict() for x in p.deferred]}
            if p.wave:
                first = p.wave[0]
                out["next"] = (f"Release the wave: {len(p.wave)} order(s), first pickup {first.cutoff_key} "
                               f"{first.pickup_at.astimezone(tz).strftime('%a %H:%M')}" if first.cutoff_key
                               else f"Release the wave: {len(p.wave)} order(s)")
            else:
                out["next"] = "No released orders waiting for a wave"
            return out
        return self.store.read(fn)
