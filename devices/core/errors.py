"""Error types raised by the pure core (re-exported by ``devices.errors``; import them from there)."""
from __future__ import annotations


class DevicesError(Exception):
    """Base of every error raised by ``devices``."""


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


