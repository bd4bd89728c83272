"""Errors of the labels package (one base, typed subclasses). Import them from here."""
from __future__ import annotations

from labels.core.errors import (  # noqa: F401  (re-exported)
    BarcodeDataError,
    DocumentError,
    LabelError,
    LayoutError,
    RenderError,
    TemplateError,
    UnsupportedFormat,
)
