"""Scale wire frames: parse (drivers) and format (simulators) MT-SICS, NCI and CAS.

Every parse returns a :class:`Reading` whose ``state`` is ``stable``, ``motion``, ``overload``,
``underzero`` or ``busy`` and whose ``grams`` is set only for stable and motion readings
(normalised from g/kg/mg/lb/oz, rounded half-up to whole grams). Malformed frames raise
:class:`devices.errors.ScaleProtocolError`.

* **MT-SICS** (Mettler Toledo): commands ``S`` (stable weight), ``SI`` (immediate), ``T``
  (tare), ``Z`` (zero), ``CR LF`` terminated. Replies ``S S <w> <unit>`` stable, ``S D <w> <unit>``
  dynamic (motion, only to ``SI``), ``S I`` cannot execute (no stable weight in time), ``S +``
  overload, ``S -`` underload; ``T S``/``Z A`` acknowledge tare/zero; ``ES``/``ET``/``EL`` errors.
* **NCI** (Avery Weigh-Tronix, NCI standard scale protocol): ``W CR`` ->
  ``LF <weight><unit> CR LF <status> CR ETX``; ``S CR`` -> status only; ``Z CR`` zero.
  Status byte 1: bit0 motion, bit1 at zero, bit2 RAM error, bit3 EEPROM error, bits4-5 set.
  Status byte 2: bit0 under capacity, bit1 over capacity, bit2 ROM error, bit3 bad calibration.
* **CAS** (continuous / on-request stream): ``ST|US|OL , GS|NT , <sign><weight> <unit> CR LF``
  (ST stable, US unstable, OL overload).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from devices.core.errors import ScaleProtocolError

UNIT_GRAMS = {
    "g": Decimal(1),
    "kg": Decimal(1000),
    "mg": Decimal("0.001"),
    "lb": Decimal("453.59237"),
    "oz": Decimal("28.349523125"),
    "t": Decimal(1_000_000),
}
STATES = ("stable", "motion", "overload", "underzero", "busy")


@dataclass(frozen=True)
class Reading:
    state: str
    grams: int | None = None
    unit: str | None = None
    raw: str = ""

    @property
    def stable(self) -> bool:
        return self.state == "stable"


def to_grams(value: str, unit: str) -> int:
    """``value`` in ``unit`` as whole grams (half-up); raises ScaleProtocolError on nonsense."""
    factor = UNIT_GRAMS.get(unit.strip().lower())
    if factor is None:
        raise ScaleProtocolError(f"unknown weight unit {unit!r}")
    try:
        number = Decimal(value.replace(" ", ""))
    except InvalidOperation as exc:
        raise ScaleProtocolError(f"weight {value!r} is not a number") from exc
    return int((number * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def grams_to_unit(grams: int, unit: str) -> str:
    """Format ``grams`` in ``unit`` the way a scale display would (simulators)."""
    factor = UNIT_GRAMS[unit]
    decimals = {"g": 0, "kg": 3, "mg": 0, "lb": 3, "oz": 2, "t": 6}[unit]
    return f"{Decimal(grams) / factor:.{decimals}f}"


# --- MT-SICS -------------------------------------------------------------------------------
_SICS_WEIGHT = re.compile(r"^(S|SI)\s+([SD])\s+([-+]?\s*\d+(?:\.\d+)?)\s+(\S+)\s*$")


def parse_sics(line: str) -> Reading:
    """One MT-SICS reply line (without CR LF) to ``S`` or ``SI``."""
    text = line.strip()
    m = _SICS_WEIGHT.match(text)
    if m:
        grams = to_grams(m.group(3), m.group(4))
        state = "stable" if m.group(2) == "S" else "motion"
        if grams < 0 and state == "stable":
            return Reading("underzero", None, m.group(4), text)
        return Reading(state, grams, m.group(4), text)
    parts = text.split()
    if len(parts) == 2 and parts[0] in ("S", "SI"):
        code = parts[1]
        if code == "I":
            return Reading("busy", raw=text)
        if code == "+":
            return Reading("overload", raw=text)
        if code == "-":
            return Reading("underzero", raw=text)
    raise ScaleProtocolError(f"not an MT-SICS weight reply: {text!r}")


def format_sics(command: str, state: str, grams: int, unit: str = "g") -> str:
    """The reply line (without CR LF) a MT-SICS balance sends to ``S``/``SI``."""
    if state == "overload":
        return "S +"
    if state == "underzero":
        return "S -"
    if state == "busy":
        return "S I"
    flag = "S" if state == "stable" else "D"
    return f"S {flag} {grams_to_unit(grams, unit):>10} {unit}"


# --- NCI -------------------------------------------------------------------------------------
LF, CR, ETX = "\n", "\r", "\x03"


def nci_status_bytes(*, motion: bool = False, at_zero: bool = False, under: bool = False,
                     over: bool = False) -> str:
    b1 = 0x30 | (0x01 if motion else 0) | (0x02 if at_zero else 0)
    b2 = 0x30 | (0x01 if under else 0) | (0x02 if over else 0)
    return chr(b1) + chr(b2)


def _nci_flags(status: str) -> dict[str, bool]:
    if len(status) < 2 or any((ord(c) & 0x70) != 0x30 for c in status[:2]):
        raise ScaleProtocolError(f"bad NCI status bytes {status!r}")
    b1, b2 = ord(status[0]), ord(status[1])
    if b1 & 0x0C or b2 & 0x0C:
        raise ScaleProtocolError(f"NCI scale reports an internal error (status {status!r})")
    return {"motion": bool(b1 & 1), "at_zero": bool(b1 & 2), "under": bool(b2 & 1), "over": bool(b2 & 2)}


_NCI_WEIGHT = re.compile(r"^\s*([-+]?\s*\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")


def parse_nci(frame: str) -> Reading:
    """One NCI reply to ``W``: ``LF weight unit CR LF status CR ETX`` (ETX optional here)."""
    body = frame.strip(ETX).strip(LF)
    parts = [p for p in body.replace(CR + LF, CR).split(CR) if p != ""]
    if len(parts) == 1:  # status-only reply (to S or Z) is not a weight
        raise ScaleProtocolError(f"NCI frame has no weight: {frame!r}")
    if len(parts) != 2:
        raise ScaleProtocolError(f"not an NCI weight frame: {frame!r}")
    weight, status = parts[0].strip(LF), parts[1].strip(LF)
    flags = _nci_flags(status)
    if flags["over"]:
        return Reading("overload", raw=frame)
    if flags["under"]:
        return Reading("underzero", raw=frame)
    m = _NCI_WEIGHT.match(weight)
    if not m:
        raise ScaleProtocolError(f"NCI weight field {weight!r} unreadable")
    grams = to_grams(m.group(1), m.group(2))
    if grams < 0:
        return Reading("underzero", None, m.group(2), frame)
    return Reading("motion" if flags["motion"] else "stable", grams, m.group(2), frame)


def parse_nci_status(frame: str) -> dict[str, bool]:
    """A status-only NCI reply (to ``S`` or ``Z``): ``LF status CR ETX``."""
    return _nci_flags(frame.strip(ETX).strip(LF).strip(CR).strip(LF))


def format_nci(state: str, grams: int, unit: str = "lb") -> str:
    if state == "overload":
        weight, status = "^^^^^^^" + unit, nci_status_bytes(over=True)
    elif state == "underzero":
        weight, status = "_______" + unit, nci_status_bytes(under=True)
    else:
        weight = f"{grams_to_unit(grams, unit):>7}{unit}"
        status = nci_status_bytes(motion=state == "motion", at_zero=grams == 0)
    return LF + weight + CR + LF + status + CR + ETX


# --- CAS ----------------------------------------------------------------------------------
_CAS = re.compile(r"^(ST|US|OL),(GS|NT),\s*([-+]?)\s*([\d.]+|-+)?\s*([a-zA-Z]*)\s*$")


def parse_cas(line: str) -> Reading:
    text = line.strip()
    m = _CAS.match(text)
    if not m:
        raise ScaleProtocolError(f"not a CAS frame: {text!r}")
    head, _, sign, value, unit = m.groups()
    if head == "OL":
        return Reading("overload", raw=text)
    if not value or value.startswith("-") or not unit:
        raise ScaleProtocolError(f"CAS frame without a weight: {text!r}")
    grams = to_grams(sign + value, unit)
    if grams < 0:
        return Reading("underzero", None, unit, text)
    return Reading("stable" if head == "ST" else "motion", grams, unit, text)


def format_cas(state: str, grams: int, unit: str = "kg") -> str:
    if state == "overload":
        return f"OL,GS,+  ------{unit}"
    head = "ST" if state == "stable" else "US"
    value = grams_to_unit(abs(grams), unit)
    sign = "-" if grams < 0 or state == "underzero" else "+"
    return f"{head},GS,{sign}{value:>8}{unit}"
