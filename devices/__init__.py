"""Scanners, label printers and scales: one interface per class, real transports, simulators."""
