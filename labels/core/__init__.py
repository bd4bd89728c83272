"""Pure label and document layout: dataclasses, text fitting, barcodes, ZPL and ESC/POS plans.

Nothing here performs I/O or imports reportlab/escpos; `labels.render` is the shell.
"""
