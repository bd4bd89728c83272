"""Pure floor rules of the edge node: no I/O, no SQL, no web. Services compose these with the store."""
