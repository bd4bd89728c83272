"""The MQTT connection (paho-mqtt 2.x, MQTT 3.1.1, persistent session).

paho's callbacks run on paho's network thread; here they only put events on a queue that the
sync worker drains (``Inbound`` items). Publishing is thread-safe in paho; QoS 1 everywhere. The
client reconnects by itself (paho's loop thread with a bounded back-off).
"""
from __future__ import annotations

import logging
import queue
import ssl
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from floorsync.log import log_event
from sync.errors import TransportError

logger = logging.getLogger("sync.transport")


@dataclass(frozen=True)
class Inbound:
    kind: str          # "connected" | "disconnected" | "message"
    topic: str = ""
    payload: bytes = b""
    detail: str = ""


class Transport:
    def __init__(self, broker_cfg, *, client_id: str, subscriptions: tuple[str, ...],
                 will: tuple[str, bytes] | None = None, keepalive: int = 5, max_queue: int = 100_000):
        self.cfg = broker_cfg
        self.subscriptions = subscriptions
        self.inbound: queue.Queue[Inbound] = queue.Queue(maxsize=max_queue)
        self.connected = False
        self.dropped_inbound = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                                  protocol=mqtt.MQTTv311)
        if broker_cfg.username:
            self.client.username_pw_set(broker_cfg.username, broker_cfg.password or None)
        if broker_cfg.tls:
            try:
                self.client.tls_set(ca_certs=broker_cfg.ca_file or None, certfile=broker_cfg.cert_file or None,
                                    keyfile=broker_cfg.key_file or None, cert_reqs=ssl.CERT_REQUIRED,
                                    tls_version=ssl.PROTOCOL_TLS_CLIENT)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise TransportError(f"TLS setup failed: {exc}") from exc
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=2)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._pending_subs = 0
        self.keepalive = keepalive

    # ---- paho callbacks: hand over to the queue, nothing else
    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self._put(Inbound("disconnected", detail=f"connect refused: {reason_code}"))
            return
        self.connected = True
        self._pending_subs = len(self.subscriptions)
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        self._put(Inbound("connected", detail=str(getattr(flags, "session_present", ""))))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None):
        self._pending_subs -= 1
        if self._pending_subs <= 0:
            self._put(Inbound("subscribed"))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self.connected = False
        self._put(Inbound("disconnected", detail=str(reason_code)))

    def _on_message(self, client, userdata, msg):
        self._put(Inbound("message", msg.topic, msg.payload))

    def _put(self, item: Inbound) -> None:
        try:
            self.inbound.put_nowait(item)
        except queue.Full:
            # the sender retransmits anything unacknowledged; dropping here loses nothing
            self.dropped_inbound += 1

    def drain(self, handle, *, limit: int = 500, wait_s: float = 0.02) -> int:
        """Hand up to ``limit`` queued items to ``handle`` (waiting up to ``wait_s`` for the first)."""
        n = 0
        try:
            item = self.inbound.get(timeout=wait_s)
        except queue.Empty:
            return 0
        while True:
            handle(item)
            n += 1
            if n >= limit:
                return n
            try:
                item = self.inbound.get_nowait()
            except queue.Empty:
                return n

    # ---- control
    def start(self) -> None:
        try:
            self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.keepalive)
        except (OSError, ValueError) as exc:
            raise TransportError(f"cannot connect to {self.cfg.host}:{self.cfg.port}: {exc}") from exc
        self.client.loop_start()
        log_event(logger, "mqtt_connecting", host=self.cfg.host, port=self.cfg.port, user=self.cfg.username or None)

    def stop(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, qos: int = 1) -> bool:
        """Queue a publish; False when not connected (the caller retries from its outbox)."""
        if not self.connected:
            return False
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS
