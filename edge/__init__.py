"""floorsync edge node: one fulfillment center's floor workflows on its own SQLite store."""
