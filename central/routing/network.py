"""Loading network data from files: carrier rate card (TOML), country centroids (CSV), US ZIPs.

Not pure (reads files). Builds the pure ``central.routing.core.geo.Network``. US ZIP -> lat/lon
comes from the ``zipcodes`` package (ships its data; nothing is downloaded); it is read once per
process on first use and kept in memory.

``NetworkProvider`` holds the network in force. ``reload_rates(path)`` validates a new rate file
first; a bad file raises ``NetworkDataError`` naming the problem and the previous card stays.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import threading
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from central.routing.core.carriers import RateCard, parse_rate_card
from central.routing.core.errors import NetworkDataError
from central.routing.core.geo import Network
from central.routing.core.model import SiteInfo
from central.routing.core.promise import check_calendar
from floorsync.log import log_event

logger = logging.getLogger("floorsync.routing")

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_RATES = DATA_DIR / "carriers.toml"
DEFAULT_CENTROIDS = DATA_DIR / "country_centroids.csv"
DEFAULT_SITES = DATA_DIR / "sites.toml"
SAMPLE_HISTORY = DATA_DIR / "order_history.csv"


@lru_cache(maxsize=1)
def zip_points() -> Mapping[str, tuple[float, float]]:
    """US ZIP5 -> (lat, lon) from the zipcodes package, loaded once per process."""
    import zipcodes

    out = {}
    for z in zipcodes.list_all():
        try:
            out[z["zip_code"]] = (float(z["lat"]), float(z["long"]))
        except (TypeError, ValueError, KeyError):
            continue
    return out


@lru_cache(maxsize=1)
def zip3_points() -> Mapping[str, tuple[float, float, int]]:
    """US ZIP3 area -> (mean lat, mean lon, number of ZIP codes). The data has no population column."""
    acc: dict[str, list[float]] = {}
    for z, (lat, lon) in zip_points().items():
        a = acc.setdefault(z[:3], [0.0, 0.0, 0])
        a[0] += lat
        a[1] += lon
        a[2] += 1
    return {k: (a[0] / a[2], a[1] / a[2], int(a[2])) for k, a in sorted(acc.items())}


def load_centroids(path: Path | str = DEFAULT_CENTROIDS) -> dict[str, tuple[float, float]]:
    out = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    lat, lon = float(row["lat"]), float(row["lon"])
                except (TypeError, ValueError, KeyError) as exc:
                    raise NetworkDataError(f"{path}: line {i}: lat/lon must be numbers") from exc
                out[row["country"].strip().upper()] = (lat, lon)
    except OSError as exc:
        raise NetworkDataError(f"cannot read country centroids {path}: {exc}") from exc
    return out


def load_rate_card(path: Path | str = DEFAULT_RATES) -> RateCard:
    """Parse and validate a rate TOML file; NetworkDataError names the file and the problem."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise NetworkDataError(f"cannot read rate file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise NetworkDataError(f"rate file {path}: not valid TOML: {exc}") from exc
    try:
        card = parse_rate_card(data, source=str(path))
        for cal in card.carriers.values():
            check_calendar(cal.country, None)
    except NetworkDataError as exc:
        raise NetworkDataError(f"rate file {path}: {exc.message}") from exc
    return card


def load_network(rates_path: Path | str = DEFAULT_RATES, centroids_path: Path | str = DEFAULT_CENTROIDS,
                 home_country: str = "US", urgent_window_min: int = 60) -> Network:
    return Network(rates=load_rate_card(rates_path), zip_points=zip_points(), centroids=load_centroids(centroids_path),
                   home_country=home_country, urgent_window_min=urgent_window_min)


class NetworkProvider:
    """The network in force (callable: ``provider()`` returns the current ``Network``).

    ``rates_path`` is the rate file ``reload_rates()`` re-reads when called without a path."""

    def __init__(self, network: Network | None = None, rates_path: Path | str = DEFAULT_RATES):
        self._network = network
        self.rates_path = Path(network.rates.source) if network is not None and network.rates.source else Path(rates_path)
        self.loaded_at: str | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Network:
        net = self._network
        if net is None:
            with self._lock:
                if self._network is None:
                    self._network = load_network(self.rates_path)
                net = self._network
        return net

    @property
    def network(self) -> Network:
        return self()

    def reload_rates(self, path: Path | str | None = None) -> Network:
        """Swap in a new rate file (default: ``rates_path``); on any problem raise
        ``NetworkDataError`` naming it and keep the previous one in force."""
        current = self()
        path = Path(path) if path is not None else self.rates_path
        try:
            card = load_rate_card(path)
        except NetworkDataError as exc:
            log_event(logger, "routing_rates_refused", path=str(path), error=exc.message,
                      in_force=current.rates.source)
            raise
        with self._lock:
            self._network = Network(rates=card, zip_points=current.zip_points, centroids=current.centroids,
                                    home_country=current.home_country, urgent_window_min=current.urgent_window_min)
            self.rates_path = path
            self.loaded_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        log_event(logger, "routing_rates_loaded", path=str(path), services=len(card.services))
        return self._network


_DEFAULT: list[NetworkProvider] = []
_DEFAULT_LOCK = threading.Lock()


def default_provider() -> NetworkProvider:
    """The process-wide provider central's router and the checkout API share (created on first use)."""
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            _DEFAULT.append(NetworkProvider())
        return _DEFAULT[0]


def site_from_dict(d: Mapping[str, Any]) -> SiteInfo:
    """A SiteInfo from a catalog/config/store row; validates time zone, cut-offs and calendar."""
    sid = str(d.get("site_id") or "")
    for key in ("lat", "lon", "timezone"):
        if d.get(key) in (None, ""):
            raise NetworkDataError(f"site {sid or '?'}: missing {key}")
    try:
        lat, lon = float(d["lat"]), float(d["lon"])
    except (TypeError, ValueError) as exc:
        raise NetworkDataError(f"site {sid}: lat/lon must be numbers") from exc
    cutoffs = d.get("cutoffs") or {"ground": "17:00"}
    if isinstance(cutoffs, str):
        cutoffs = json.loads(cutoffs)
    country = d.get("holiday_country") or d.get("country") or "US"
    subdiv = d.get("holiday_subdivision") or None
    site = SiteInfo(
        site_id=sid, lat=lat, lon=lon, timezone=str(d["timezone"]), cutoffs=dict(cutoffs),
        holiday_country=country, holiday_subdivision=subdiv, closures=frozenset(d.get("closures") or ()),
        active=bool(d.get("active", True)), healthy=bool(d.get("healthy", True)),
        health_reason=str(d.get("health_reason") or ""), service_regions=frozenset(d.get("service_regions") or ()),
        capabilities=frozenset(d.get("capabilities") or ()), capacity_per_day=int(d.get("capacity_per_day") or 0),
    )
    check_calendar(country, subdiv)
    return site


def site_info_builder() -> Callable[[Mapping[str, Any], float, dt.datetime], SiteInfo]:
    """``build(row, max_sync_lag_s, now)``: a central site row as a ``SiteInfo`` with its health folded
    in (``core.health.site_health``: "stale 6 min", ...), cached per (row version, health, active)."""
    from central.routing.core.health import site_health

    cache: dict[tuple, SiteInfo] = {}
    lock = threading.Lock()

    def build(row: Mapping[str, Any], max_sync_lag_s: float, now: dt.datetime) -> SiteInfo:
        healthy, why = site_health(stale=bool(row.get("stale")), printers_ok=bool(row.get("printers_ok", True)),
                                   sync_lag_s=float(row.get("sync_lag_s") or 0.0), max_sync_lag_s=max_sync_lag_s,
                                   last_heartbeat_at=row.get("last_heartbeat_at"), now=now)
        key = (row["site_id"], row.get("updated_at"), bool(row.get("active", True)), healthy, why)
        with lock:
            hit = cache.get(key)
        if hit is None:
            hit = site_from_dict(dict(row, healthy=healthy, health_reason=why))
            with lock:
                if len(cache) > 4096:   # "stale N min" changes every minute: keep the cache bounded
                    cache.clear()
                cache[key] = hit
        return hit

    return build


def load_sites(path: Path | str) -> list[SiteInfo]:
    """Sites from a TOML (``[[sites]]``) or JSON (list, or catalog with "sites") file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise NetworkDataError(f"cannot read sites file {p}: {exc}") from exc
    try:
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise NetworkDataError(f"sites file {p}: cannot parse: {exc}") from exc
    rows: Iterable = data.get("sites", []) if isinstance(data, dict) else data
    sites = [site_from_dict(r) for r in rows]
    seen = set()
    for s in sites:
        if s.site_id in seen:
            raise NetworkDataError(f"sites file {p}: duplicate site {s.site_id}")
        seen.add(s.site_id)
    return sites
