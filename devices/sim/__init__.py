"""Device simulators speaking the real wire protocols over real channels (TCP, pty).

Import the classes from their modules (nothing starts at import time)::

    from devices.sim.zpl_printer import ZplPrinterSim      # TCP 9100, ~HS, faults, PNG preview
    from devices.sim.escpos_printer import EscposPrinterSim  # TCP, DLE EOT status, power cycle
    from devices.sim.scale import ScaleSim                 # pty: mt-sics / nci / cas
    from devices.sim.scanner import ScannerSim             # pty: codes, GS1, faults

Each is a context manager (``with ZplPrinterSim() as sim: sim.port``) and can advertise itself
via zeroconf (``advertise=True``, bound to 127.0.0.1 unless told otherwise).
"""
