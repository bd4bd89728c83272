"""Errors of the devices package: one base, typed subclasses, chained from transport errors.

The base and the scan errors are defined in ``devices.core.errors`` (the pure core raises them)
and re-exported here; import every devices error from this module.
"""
from __future__ import annotations

from devices.core.errors import (  # noqa: F401  (re-exported)
    BadCheckDigit,
    ControlCharacterInScan,
    DevicesError,
    EmptyScan,
    MalformedGS1,
    ScanError,
    ScanTooLong,
)


# --- printers ----------------------------------------------------------------------------
class PrinterError(DevicesError):
    """A printer refused or failed a job, or reports a fault (paper out, head open, ...)."""


class PrinterOffline(PrinterError):
    """The printer cannot be reached (connection refused, timed out, device missing)."""


class PrinterJobUnknown(PrinterError):
    """The connection broke after (part of) the job was sent: it may or may not have printed."""


class PrintJobNotFound(PrinterError, KeyError):
    """No print job with that id."""


class ReprintRefused(PrinterError):
    """A reprint was asked without an actor or reason, or for a job still in flight."""


# --- scales ------------------------------------------------------------------------------
class ScaleError(DevicesError):
    """The scale answered something unusable, reports a fault, or cannot be reached."""


class ScaleUnstable(ScaleError):
    """No stable reading arrived within the timeout (the load is still moving)."""


class ScaleOverload(ScaleError):
    """The load is above the scale's capacity."""


class ScaleUnderZero(ScaleError):
    """The reading is below zero (re-zero the empty scale)."""


class ScaleDisconnected(ScaleError):
    """The serial device is gone or did not answer at all."""


class ScaleProtocolError(ScaleError):
    """The scale sent bytes that do not form a valid frame of its protocol."""


# --- scanners / discovery / config ---------------------------------------------------------
class ScannerError(DevicesError):
    """The serial scanner port could not be opened or read."""


class DiscoveryError(DevicesError):
    """Zeroconf browsing or advertising failed."""


class DeviceConfigError(DevicesError, ValueError):
    """The devices configuration names an unknown kind/protocol or lacks a needed value."""
