"""Errors of the devices package: one base, typed subclasses, chained from transport errors.

Defined in ``devices.core.errors`` (the pure core raises them too) and re-exported here:
import every devices error from this module.
"""
from __future__ import annotations

from devices.core.errors import (  # noqa: F401  (re-exported)
    BadCheckDigit,
    ControlCharacterInScan,
    DeviceConfigError,
    DevicesError,
    DiscoveryError,
    EmptyScan,
    FrameError,
    MalformedGS1,
    PrintJobNotFound,
    PrinterError,
    PrinterJobUnknown,
    PrinterOffline,
    PrinterStatusError,
    ReprintRefused,
    ScaleDisconnected,
    ScaleError,
    ScaleOverload,
    ScaleProtocolError,
    ScaleUnderZero,
    ScaleUnstable,
    ScanError,
    ScanTooLong,
    ScannerError,
)

__all__ = ['BadCheckDigit', 'ControlCharacterInScan', 'DeviceConfigError', 'DevicesError', 'DiscoveryError', 'EmptyScan', 'FrameError', 'MalformedGS1', 'PrintJobNotFound', 'PrinterError', 'PrinterJobUnknown', 'PrinterOffline', 'PrinterStatusError', 'ReprintRefused', 'ScaleDisconnected', 'ScaleError', 'ScaleOverload', 'ScaleProtocolError', 'ScaleUnderZero', 'ScaleUnstable', 'ScanError', 'ScanTooLong', 'ScannerError']
