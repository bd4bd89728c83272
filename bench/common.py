"""Shared by every benchmark: argument parsing, percentiles, and the one output format.

Each benchmark prints JSON lines {"name", "value", "unit", "baseline", "ratio"} where
``baseline`` is a raw measurement taken in the same run and ``ratio = value / baseline``.
Import as ``from common import emit, percentile, parse_args`` (bench/ is the script's dir).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # benchmarks run as scripts from a checkout
    sys.path.insert(0, ROOT)


def parse_args(description: str, extra=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller run, under 60 s")
    if extra:
        extra(parser)
    return parser.parse_args()


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[k]


def emit(name: str, value: float, unit: str, baseline: float | None = None, **extra) -> dict:
    ratio = (value / baseline) if baseline else None
    row = {"name": name, "value": round(value, 4), "unit": unit,
           "baseline": round(baseline, 4) if baseline is not None else None,
           "ratio": round(ratio, 4) if ratio is not None else None, **extra}
    print(json.dumps(row), flush=True)
    return row
