"""Errors of the labels package (defined in the pure core, re-exported by ``labels.errors``)."""
from __future__ import annotations


class LabelError(Exception):
    """Base class of every labels error."""


class DocumentError(LabelError, ValueError):
    """A document field is invalid (the message names the field)."""


class BarcodeDataError(DocumentError):
    """Data cannot be encoded in the requested barcode (bad characters, bad check digit, too long)."""


class LayoutError(LabelError):
    """The document cannot be laid out on its form (e.g. a barcode wider than the label)."""


class UnsupportedFormat(LabelError):
    """The document has no form for the requested output (e.g. a letter-size pick list as ZPL)."""


class TemplateError(LabelError, ValueError):
    """A merchant template is invalid; the message names the file, the key and the problem."""


class RenderError(LabelError):
    """A renderer (reportlab, python-escpos, pdftoppm) failed."""
