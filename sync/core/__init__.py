"""Pure protocol core: envelopes, event contracts, inbox sequencing. No I/O here."""
