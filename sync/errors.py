"""Errors of the sync package (one base, typed subclasses, chained from third-party errors)."""
from __future__ import annotations


class SyncError(Exception):
    """Base of every sync error."""


class BrokerError(SyncError):
    """The broker configuration could not be generated or the broker did not start."""


class TransportError(SyncError):
    """The MQTT connection failed or a publish was refused."""
