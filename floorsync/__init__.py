"""floorsync's entry point: configuration, logging, the `floorsync` command and the demo.

Holds only what belongs to no single package; the capabilities live in edge/, central/,
devices/, sync/ and labels/.
"""
