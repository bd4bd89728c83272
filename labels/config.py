"""Config section for label and document rendering (see floorsync.config)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LabelsConfig:
    dpi: int = field(default=203, metadata={"doc": "thermal label resolution: 203 or 300", "choices": (203, 300)})
    templates_dir: str = field(default="", metadata={"doc": "directory of per-merchant template TOML files; empty = built-in defaults"})
    zpl_unicode_font: str = field(default="E:ANMDJ.TTF", metadata={"doc": "printer font used in ZPL for text beyond Latin (CJK, Arabic, Cyrillic); must be installed on the printer"})
