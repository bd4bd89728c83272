"""Device-independent layout primitives. Units are millimetres, origin top-left, y down.

Elements are NamedTuples (immutable and cheap to build: a label has ~40 of them and ZPL must
reach thousands of labels per second). A document's layout is computed once (``labels.core.layouts.layout``) and rendered as ZPL,
ESC/POS, PDF and PNG from the same elements.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

MM_PER_INCH = 25.4
LINE_GAP = 1.2  # line pitch as a multiple of the font size


def dots(mm: float, dpi: int) -> int:
    """Millimetres to printer dots at ``dpi``."""
    return int(round(mm * dpi / MM_PER_INCH))


class Text(NamedTuple):
    x: float
    y: float
    w: float  # box width; every line fits inside it (see textfit)
    size: float  # font em height in mm
    lines: tuple[str, ...]
    bold: bool = False
    align: str = "L"  # L, C, R
    reverse: bool = False  # white text (drawn on a filled box placed before it)
    mono: bool = False  # fixed-pitch (receipt forms)
    color: str = "#000000"
    name: str = ""

    @property
    def h(self) -> float:
        return self.size * LINE_GAP * max(1, len(self.lines))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Barcode(NamedTuple):
    x: float
    y: float
    w: float  # the box the symbol is centred in
    h: float
    kind: str  # code128, gs1-128, qr
    data: str  # code128: ASCII; gs1-128: element string, FNC1 separators as "\x1d"
    values: tuple[int, ...] = ()  # Code 128 symbol values (start..check, no stop), from code128.encode
    zpl: str = ""  # ZPL ^BC mode-N field data with invocation codes (before ^FH escaping)
    hri: str = ""  # human-readable interpretation
    name: str = ""

    @property
    def modules(self) -> int:
        """Width in modules of a Code 128 symbol (values + stop), without quiet zones."""
        return 11 * len(self.values) + 13


class Box(NamedTuple):
    x: float
    y: float
    w: float
    h: float
    thickness: float = 0.5  # 0 = filled only
    fill: bool = False
    color: str = "#000000"
    name: str = ""


class Image(NamedTuple):
    x: float
    y: float
    w: float
    h: float
    path: str
    name: str = ""


Element = Text | Barcode | Box | Image


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    elements: tuple[Element, ...]


@dataclass(frozen=True)
class Layout:
    """One document on one form: ``label`` (thermal, ZPL), ``sheet`` (letter/A4 PDF) or ``receipt``."""

    form: str
    title: str
    pages: tuple[Page, ...]
    dpi_hint: int = 203
    meta: dict = field(default_factory=dict, compare=False)

    def texts(self) -> list[Text]:
        return [e for p in self.pages for e in p.elements if isinstance(e, Text)]

    def barcodes(self) -> list[Barcode]:
        return [e for p in self.pages for e in p.elements if isinstance(e, Barcode)]
