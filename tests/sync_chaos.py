"""A small MQTT-aware chaos relay for tests: a TCP proxy on 127.0.0.1 between one client and the
broker that reorders the client's PUBLISH packets within windows and drops a fraction of them
(answering the dropped ones with a fake PUBACK, i.e. "the broker acknowledged it and then lost it").
Every other packet passes through untouched."""
from __future__ import annotations

import random
import socket
import threading
import time


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def read_packet(sock: socket.socket) -> bytes:
    first = _recv_exact(sock, 1)
    mult, length, header = 1, 0, first
    while True:
        b = _recv_exact(sock, 1)
        header += b
        length += (b[0] & 0x7F) * mult
        if not b[0] & 0x80:
            break
        mult *= 128
    return header + (_recv_exact(sock, length) if length else b"")


def _body_start(pkt: bytes) -> int:
    i = 1
    while pkt[i] & 0x80:
        i += 1
    return i + 1


class ChaosRelay:
    def __init__(self, broker_port: int, *, window: int = 200, drop: float = 0.01, seed: int = 1,
                 topic_filter: bytes = b"/up/events"):
        self.broker_port = broker_port
        self.window, self.drop, self.rng = window, drop, random.Random(seed)
        self.topic_filter = topic_filter
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.stats = {"published": 0, "dropped": 0, "reordered_windows": 0}
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            broker = socket.create_connection(("127.0.0.1", self.broker_port))
            self._socks += [client, broker]
            wlock = threading.Lock()
            pending: list[bytes] = []
            plock = threading.Lock()
            for target in (lambda: self._c2b(client, broker, wlock, pending, plock),
                           lambda: self._b2c(broker, client, wlock),
                           lambda: self._flusher(broker, pending, plock)):
                t = threading.Thread(target=target, daemon=True)
                t.start()
                self._threads.append(t)

    def _flush(self, broker, pending, plock):
        with plock:
            batch, pending[:] = list(pending), []
        if not batch:
            return
        self.rng.shuffle(batch)
        self.stats["reordered_windows"] += 1
        for pkt in batch:
            broker.sendall(pkt)

    def _flusher(self, broker, pending, plock):
        while not self._stop.wait(0.05):
            try:
                self._flush(broker, pending, plock)
            except OSError:
                return

    def _c2b(self, client, broker, wlock, pending, plock):
        try:
            while not self._stop.is_set():
                pkt = read_packet(client)
                if pkt[0] >> 4 == 3:  # PUBLISH
                    start = _body_start(pkt)
                    tlen = int.from_bytes(pkt[start:start + 2], "big")
                    topic = pkt[start + 2:start + 2 + tlen]
                    qos = (pkt[0] >> 1) & 3
                    if self.topic_filter in topic:
                        self.stats["published"] += 1
                        if qos and self.rng.random() < self.drop:
                            pid = pkt[start + 2 + tlen:start + 4 + tlen]
                            self.stats["dropped"] += 1
                            with wlock:
                                client.sendall(b"\x40\x02" + pid)  # fake PUBACK: acknowledged, then lost
                            continue
                        with plock:
                            pending.append(pkt)
                            full = len(pending) >= self.window
                        if full:
                            self._flush(broker, pending, plock)
                        continue
                self._flush(broker, pending, plock)  # control packets keep their place after queued publishes
                broker.sendall(pkt)
        except (OSError, ConnectionError):
            pass
        finally:
            for s in (client, broker):
                try:
                    s.close()
                except OSError:
                    pass

    def _b2c(self, broker, client, wlock):
        try:
            while not self._stop.is_set():
                pkt = read_packet(broker)
                with wlock:
                    client.sendall(pkt)
        except (OSError, ConnectionError):
            pass

    def close(self):
        self._stop.set()
        self.listener.close()
        for s in self._socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self._threads:
            t.join(timeout=5)
        time.sleep(0)
