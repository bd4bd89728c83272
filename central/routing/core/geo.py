"""Destinations and the network data object routing reads. Pure.

``Network`` bundles the rate card (levels, carrier services, carrier calendars) with the
destination tables: US ZIP5 -> (lat, lon) and country -> centroid (lat, lon). ``central.routing.network``
builds it from files; tests may build one directly.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

from central.routing.core.carriers import RateCard
from central.routing.core.errors import UnknownDestination

EARTH_KM = 6371.0088
_US_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Destination:
    country: str
    postal_code: str
    lat: float
    lon: float
    estimated: bool = False   # True when located by country centroid only


@dataclass(frozen=True, eq=False)
class Network:
    """Everything routing needs besides sites and stock. Read-only after construction."""

    rates: RateCard
    zip_points: Mapping[str, tuple[float, float]]
    centroids: Mapping[str, tuple[float, float]]
    home_country: str = "US"
    urgent_window_min: int = 60

    @property
    def levels(self):
        return self.rates.levels

    @property
    def services(self):
        return self.rates.services

    def scope_of(self, country: str) -> str:
        return "domestic" if country.upper() == self.home_country else "international"

    def locate(self, country: str, postal_code: str) -> Destination:
        """Where a destination is; UnknownDestination for an unknown country or US ZIP."""
        c = (country or "").strip().upper()
        pc = (postal_code or "").strip()
        if c == self.home_country and c == "US":
            m = _US_ZIP.match(pc)
            if not m:
                raise UnknownDestination(f"postal code {postal_code!r} is not a US ZIP code (12345 or 12345-6789)",
                                         {"postal_code": "invalid"})
            pt = self.zip_points.get(m.group(1))
            if pt is None:
                raise UnknownDestination(f"unknown US ZIP code {m.group(1)}", {"postal_code": "unknown"})
            return Destination(c, m.group(1), pt[0], pt[1], False)
        pt = self.centroids.get(c)
        if pt is None:
            raise UnknownDestination(f"unknown country {country!r}", {"country": "unknown"})
        return Destination(c, pc, pt[0], pt[1], True)
