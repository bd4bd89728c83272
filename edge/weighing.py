"""Weight sources for the packing weight gate: a serial scale (devices.scales) or a fixed value."""
from __future__ import annotations

import threading


class ScaleWeightSource:
    """Stable readings from a scale opened by ``devices.scales.open_scale``; one reader at a time."""

    def __init__(self, scale):
        self.scale = scale
        self._lock = threading.Lock()

    def read_stable(self, timeout_s: float) -> int:
        with self._lock:
            return int(self.scale.read_stable(timeout_s))

    def read(self, timeout_s: float = 1.0):
        """One immediate reading (the health probe), serialised with the packers' reads."""
        with self._lock:
            return self.scale.read(timeout_s=timeout_s)

    def close(self) -> None:
        close = getattr(self.scale, "close", None)
        if close:
            close()


class FixedWeightSource:
    """An in-process source (tests, demos without a scale): returns the value set last."""

    def __init__(self, grams: int = 0):
        self.grams = grams

    def set(self, grams: int) -> None:
        self.grams = grams

    def read_stable(self, timeout_s: float) -> int:
        return self.grams


def open_weight_source(devices_cfg):
    """The configured scale, or None (packers then type the weight, if edge.manual_weight allows)."""
    if devices_cfg.scale_protocol == "none" or not devices_cfg.scale_port:
        return None
    from devices.scales import open_scale

    return ScaleWeightSource(open_scale(devices_cfg.scale_protocol, devices_cfg.scale_port))
