"""Pure device logic: scan parsing, debounce, scale frames, printer status."""
