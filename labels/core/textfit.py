"""Conservative text measurement and wrapping, so text stays inside its box on every renderer.

Widths are estimated per character as a fraction of the font size (condensed sans for labels,
fixed pitch for receipts). The PDF renderer additionally squeezes a line horizontally if the
real font is wider than estimated, so the estimate only has to be close, not exact.
"""
from __future__ import annotations

import unicodedata

ELLIPSIS = "\u2026"
_NARROW = set("iIl.,:;'|!()[]{}`1 ")
_WIDE_LATIN = set("mwMW@%&")


def char_width(ch: str, mono: bool = False) -> float:
    if unicodedata.combining(ch):
        return 0.0
    wide = unicodedata.east_asian_width(ch) in ("W", "F")
    if mono:
        return 1.2 if wide else 0.6
    if wide:
        return 1.0
    if ch in _NARROW:
        return 0.34
    if ch in _WIDE_LATIN:
        return 0.95
    if ch.isupper() or ch.isdigit():
        return 0.72
    return 0.6


class _Widths(dict):
    """Memo of char_width per (mono) table; str lookups are a dict hit after the first time."""

    def __init__(self, mono: bool):
        super().__init__()
        self.mono = mono

    def __missing__(self, ch: str) -> float:
        value = self[ch] = char_width(ch, self.mono)
        return value


_WIDTHS = {False: _Widths(False), True: _Widths(True)}


def units(text: str, mono: bool = False) -> float:
    """Width of ``text`` in em units."""
    table = _WIDTHS[mono]
    return sum(map(table.__getitem__, text))


def text_width(text: str, size: float, bold: bool = False, mono: bool = False) -> float:
    w = units(text, mono) * size
    return w * (1.08 if bold and not mono else 1.0)


def clean(text: str) -> str:
    """Printable text on one logical line: control and format characters become spaces."""
    text = str(text)
    if text.isprintable():  # fast path: nothing to replace, only spacing to normalise
        return text if ("  " not in text and text == text.strip()) else " ".join(text.split())
    out = []
    for ch in str(text):
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp") or (cat == "Cf" and ch not in "\u200c\u200d"):
            out.append(" ")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _truncate(line: str, width: float, size: float, bold: bool, mono: bool) -> str:
    if text_width(line, size, bold, mono) <= width:
        return line
    while line and text_width(line + ELLIPSIS, size, bold, mono) > width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS if line else ""


def _split_word(word: str, width: float, size: float, bold: bool, mono: bool) -> list[str]:
    parts, cur = [], ""
    for ch in word:
        if cur and text_width(cur + ch, size, bold, mono) > width:
            parts.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def wrap(text: str, width: float, size: float, *, bold: bool = False, mono: bool = False,
         max_lines: int = 1) -> tuple[str, ...]:
    """Word-wrap ``text`` into at most ``max_lines`` lines of at most ``width`` mm.

    Words longer than a line are broken; text beyond the last line is cut with an ellipsis.
    Returns ``()`` for empty text.
    """
    text = clean(text)[: 200 * max_lines]
    if not text:
        return ()
    if text_width(text, size, bold, mono) <= width:
        return (text,)
    lines: list[str] = []
    cur = ""
    for word in text.split(" "):
        too_wide = text_width(word, size, bold, mono) > width
        for piece in (_split_word(word, width, size, bold, mono) if too_wide else [word]):
            candidate = f"{cur} {piece}" if cur else piece
            if text_width(candidate, size, bold, mono) <= width:
                cur = candidate
            else:
                lines.append(cur)
                cur = piece
        if len(lines) > max_lines:
            break
    lines.append(cur)
    lines = [line for line in lines if line]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + ELLIPSIS, size, bold, mono) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + ELLIPSIS
    return tuple(_truncate(line, width, size, bold, mono) for line in lines)


def fit_size(text: str, width: float, size: float, min_size: float, *, bold: bool = False,
             mono: bool = False) -> float:
    """The largest size <= ``size`` (steps of 5 %) at which ``text`` fits on one line (>= min_size)."""
    text = clean(text)
    if text_width(text, size, bold, mono) <= width:
        return size
    while size > min_size and text_width(text, size, bold, mono) > width:
        size = max(min_size, size * 0.95)
    return size
