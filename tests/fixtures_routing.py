"""Shared routing test data: the shipped rate card + ZIP tables, and a few real-looking sites."""
from __future__ import annotations

import datetime as dt

import pytest

from central.routing.core.model import SiteInfo

CUTOFFS = {"ground": "17:00", "two_day": "15:00", "overnight": "13:00"}
EWR = SiteInfo("EWR1", 40.7066, -74.1581, "America/New_York", CUTOFFS, "US", "NJ")
ORD = SiteInfo("ORD1", 41.9742, -87.9073, "America/Chicago", CUTOFFS, "US", "IL")
LAX = SiteInfo("LAX1", 33.9292, -118.2436, "America/Los_Angeles", CUTOFFS, "US", "CA")
PHL = SiteInfo("PHL1", 39.8744, -75.2424, "America/New_York", dict(CUTOFFS, ground="18:00"), "US", "PA")
DFW = SiteInfo("DFW1", 32.9230, -97.0130, "America/Chicago", CUTOFFS, "US", "TX")
WEIGHTS = {"A": 400, "B": 400, "C": 400, "SKU-12": 400, "HEAVY": 30000}


def utc(y, m, d, hh, mm):
    return dt.datetime(y, m, d, hh, mm, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session")
def network():
    from central.routing.network import load_network
    return load_network()
