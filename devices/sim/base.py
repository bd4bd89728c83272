"""Shared plumbing for the simulators: a threaded TCP server and a pty device with a stable path."""
from __future__ import annotations

import logging
import os
import select
import socket
import struct
import tempfile
import threading
import time
import tty

from devices.worker import Worker

logger = logging.getLogger(__name__)


class TcpSim:
    """A TCP server on ``host:port`` (port 0 = a free one) with one thread per connection.

    Subclasses implement ``handle(conn)``; they must return when ``self.stopping`` is set or the
    peer closes. ``stop()`` closes every connection and joins every thread.
    """

    service_type = ""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, advertise: bool = False,
                 instance: str | None = None, zeroconf_interface: str = "127.0.0.1") -> None:
        self.host, self.port = host, int(port)
        self.advertise = advertise
        self.instance = instance or f"{type(self).__name__}-{os.getpid()}"
        self.zeroconf_interface = zeroconf_interface
        self.stopping = threading.Event()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._advertiser = None
        self.connections = 0

    def wait_until(self, predicate, timeout_s: float) -> bool:
        """Wait (under the simulator's lock) until ``predicate()`` holds or time runs out."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def start(self):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((self.host, self.port))
        srv.listen(128)
        srv.settimeout(0.1)
        self._server = srv
        self.port = srv.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, name=f"{type(self).__name__}-accept", daemon=True)
        t.start()
        self._threads.append(t)
        if self.advertise and self.service_type:
            from devices.discovery import Advertiser

            self._advertiser = Advertiser(self.service_type, self.instance, self.port,
                                          self.txt_properties(), interface=self.zeroconf_interface).start()
        return self

    def txt_properties(self) -> dict:
        return {"product": f"(floorsync {type(self).__name__})"}

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._server.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                break
            conn.settimeout(0.1)
            with self._lock:
                self._conns.add(conn)
                self.connections += 1
                self._threads = [t for t in self._threads if t.is_alive()]
                t = threading.Thread(target=self._serve, args=(conn,), name=f"{type(self).__name__}-conn", daemon=True)
                self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass
        except Exception:  # a simulator bug must show up in logs, not kill the server
            logger.exception("simulator connection handler failed")
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def handle(self, conn: socket.socket) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def reset(conn: socket.socket) -> None:
        """Close with TCP RST (SO_LINGER 0), like a printer that lost power."""
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        except OSError:
            pass

    def drop_connections(self) -> None:
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            self.reset(c)

    def stop(self) -> None:
        self.stopping.set()
        if self._advertiser is not None:
            self._advertiser.stop()
            self._advertiser = None
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        for t in list(self._threads):
            t.join(5)
        self._threads.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class PtyDevice:
    """A pseudo-terminal whose slave is reachable at a stable symlink ``path`` (like
    /dev/serial/by-id): ``unplug()`` closes it (the driver sees an I/O error), ``plug()`` makes a
    fresh pty behind the same path."""

    def __init__(self, link_path: str | os.PathLike) -> None:
        self.path = str(link_path)
        self.master: int | None = None
        self._slave: int | None = None
        self.slave_name = ""

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.master, self._slave = master, slave
        self.slave_name = os.ttyname(slave)
        tmp = self.path + ".tmp"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.symlink(self.slave_name, tmp)
        os.replace(tmp, self.path)

    def unplug(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        for fd in (self.master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self._slave = None

    def read(self, timeout_s: float) -> bytes:
        """Bytes the driver wrote (b"" on timeout or when unplugged)."""
        fd = self.master
        if fd is None:
            return b""
        try:
            ready, _, _ = select.select([fd], [], [], timeout_s)
            if not ready:
                return b""
            return os.read(fd, 4096)
        except (OSError, ValueError):
            return b""

    def write(self, data: bytes) -> None:
        """Send ``data`` to the driver (blocks briefly if the driver does not read)."""
        fd = self.master
        if fd is None:
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
                view = view[n:]
            except BlockingIOError:
                select.select([], [fd], [], 0.05)
            except OSError:
                return


class PtySim(Worker):
    """Base of the serial simulators: a :class:`PtyDevice` at ``path`` (a temp path by default)
    plus an optional device thread (``_run``); a context manager. With ``advertise=True`` it
    announces itself via zeroconf (port 0, the pty path in the TXT record ``path``)."""

    service_type = ""

    def __init__(self, path: str | None, default_name: str, advertise: bool = False,
                 instance: str | None = None, zeroconf_interface: str = "127.0.0.1") -> None:
        super().__init__()
        self.advertise = advertise
        self.instance = instance or f"floorsync {default_name} simulator"
        self.zeroconf_interface = zeroconf_interface
        self._advertiser = None
        self._tmp = None
        if path is None:
            self._tmp = tempfile.mkdtemp(prefix="floorsync-sim-")
            path = os.path.join(self._tmp, default_name)
        self.device = PtyDevice(path)
        self.thread_name = f"sim-{default_name}"
        self.join_timeout_s = 5.0

    @property
    def path(self) -> str:
        return self.device.path

    def unplug(self) -> None:
        self.device.unplug()

    def plug(self) -> None:
        self.device.plug()

    def _run(self) -> None:
        """No device thread by default."""

    def txt_properties(self) -> dict:
        return {"path": self.path}

    def start(self):
        self.device.plug()
        super().start()
        if self.advertise and self.service_type:
            from devices.discovery import Advertiser

            self._advertiser = Advertiser(self.service_type, self.instance, 0, self.txt_properties(),
                                          interface=self.zeroconf_interface).start()
        return self

    def stop(self) -> None:
        if self._advertiser is not None:
            self._advertiser.stop()
            self._advertiser = None
        super().stop()
        self.device.unplug()
        if self._tmp:
            try:
                os.rmdir(self._tmp)
            except OSError:
                pass
