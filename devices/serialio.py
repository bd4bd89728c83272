"""pyserial helpers shared by the scale and scanner drivers."""
from __future__ import annotations


def transport_errors() -> tuple[type[BaseException], ...]:
    """Everything a vanished or broken serial device can raise through pyserial."""
    import termios

    import serial

    return (serial.SerialException, OSError, termios.error, ValueError)


def open_serial(port: str, baudrate: int, timeout_s: float = 0.05):
    import serial

    return serial.Serial(port, baudrate, timeout=timeout_s, write_timeout=1.0)
