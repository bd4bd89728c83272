"""Documents (shipping labels, SSCC, packing slips, pick lists, manifests) as ZPL, ESC/POS and PDF."""
