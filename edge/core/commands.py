"""Command barcodes for fixed station scanners.

A pack station's serial scanner has no screen buttons, so — as on real pack benches — the actions
that are not a scan of a thing are printed as barcodes on a laminated command sheet taped to the
bench. The scanner sends them like any other code; the station recognises them before the pack
workflow sees the scan. Codes are plain Code 128 text with the ``CMD-`` prefix (no GS1 AI can
start with ``C``, and no SKU/GTIN/tote/carton/tracking number of this system looks like one).
"""
from __future__ import annotations

import re

CLOSE_CARTON = "close_carton"

# printed text of each command barcode -> the command
COMMANDS: dict[str, str] = {"CMD-CLOSE-CARTON": CLOSE_CARTON}

# what the sheet prints under each barcode
LABELS: dict[str, str] = {CLOSE_CARTON: "CLOSE CARTON"}

# an AIM symbology identifier (e.g. ``]C0`` for Code 128) that scanners may be set to send first
_AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")


def parse_command(raw: str) -> str | None:
    """The command a scanned code stands for, or None when it is an ordinary scan."""
    if not isinstance(raw, str):
        return None
    code = _AIM.sub("", raw.strip(), count=1).strip().upper()
    return COMMANDS.get(code)


def command_code(command: str) -> str:
    """The barcode text that triggers ``command`` (for printing the command sheet)."""
    for code, cmd in COMMANDS.items():
        if cmd == command:
            return code
    raise ValueError(f"unknown station command {command!r}")
