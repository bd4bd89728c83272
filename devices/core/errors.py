"""Error types raised by the pure core (re-exported by ``devices.errors``; import them from there)."""
from __future__ import annotations


class DevicesError(Exception):
    """Base of every error raised by ``devices``."""


class FrameError(DevicesError, ValueError):
    """Bytes from a device do not form a valid frame of its protocol (base of protocol errors)."""


# --- scans -------------------------------------------------------------------------------
class ScanError(DevicesError, ValueError):
    """A scanned string was refused; nothing downstream should act on it."""


class EmptyScan(ScanError):
    """Nothing but whitespace was scanned."""


class ScanTooLong(ScanError):
    """The scan is longer than any barcode we accept (512 characters)."""


class ControlCharacterInScan(ScanError):
    """The scan contains a control character (other than GS inside a GS1 element string)."""


class BadCheckDigit(ScanError):
    """A GTIN or SSCC failed its GS1 mod-10 check digit."""


class MalformedGS1(ScanError):
    """A scan announced as GS1 (symbology identifier or GS separator) does not parse."""




# --- printers ----------------------------------------------------------------------------
class PrinterError(DevicesError):
    """A printer refused or failed a job, or reports a fault (paper out, head open, ...)."""


class PrinterOffline(PrinterError):
    """The printer cannot be reached (connection refused, timed out, device missing)."""


class PrinterJobUnknown(PrinterError):
    """The connection broke after (part of) the job was sent: it may or may not have printed."""


class PrinterStatusError(PrinterError, FrameError):
    """The printer's status reply (``~HS``, ``DLE EOT``) is malformed."""


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


class ScaleProtocolError(ScaleError, FrameError):
    """The scale sent bytes that do not form a valid frame of its protocol."""


# --- scanners / discovery / config ---------------------------------------------------------
class ScannerError(DevicesError):
    """The serial scanner port could not be opened or read."""


class DiscoveryError(DevicesError):
    """Zeroconf browsing or advertising failed."""


class DeviceConfigError(DevicesError, ValueError):
    """The devices configuration names an unknown kind/protocol or lacks a needed value."""
