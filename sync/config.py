"""Config sections for the MQTT broker connection and the sync protocol (see floorsync.config)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BrokerConfig:
    host: str = field(default="127.0.0.1", metadata={"doc": "MQTT broker host"})
    port: int = field(default=1883, metadata={"doc": "MQTT broker port (8883 for TLS in production)"})
    username: str = field(default="", metadata={"doc": "MQTT username (an edge uses its site id; central uses `central`)"})
    password: str = field(default="", metadata={"doc": "MQTT password (prefer the environment variable)"})
    tls: bool = field(default=False, metadata={"doc": "connect with TLS"})
    ca_file: str = field(default="", metadata={"doc": "CA certificate used to verify the broker (TLS)"})
    cert_file: str = field(default="", metadata={"doc": "client certificate (TLS client-certificate identity)"})
    key_file: str = field(default="", metadata={"doc": "client private key (TLS)"})
    mosquitto_bin: str = field(default="mosquitto", metadata={"doc": "mosquitto binary used by `floorsync broker` and the demo"})

    def validate(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port: must be 1-65535, got {self.port}")


@dataclass(frozen=True)
class SyncConfig:
    heartbeat_s: float = field(default=10.0, metadata={"doc": "seconds between edge heartbeats"})
    stale_after_missed: int = field(default=3, metadata={"doc": "central marks a site stale after this many missed heartbeats"})
    max_inflight: int = field(default=20, metadata={"doc": "unacknowledged batches in flight per stream"})
    batch_size: int = field(default=100, metadata={"doc": "envelopes per MQTT message"})
    max_payload_bytes: int = field(default=1_048_576, metadata={"doc": "larger MQTT payloads are rejected"})
    ack_timeout_s: float = field(default=3.0, metadata={"doc": "resend unacknowledged events after this many seconds without an ack (doubles up to 16x)"})
    max_ahead: int = field(default=100_000, metadata={"doc": "an envelope more than this many seqs beyond the applied cursor is rejected (seq_far_future)"})
    reconnect_gate_s: float = field(default=15.0, metadata={"doc": "after the edge reconnects, new pick runs and pack starts wait (at most this many seconds) until central's queued commands — holds and cancels — are applied"})
    digest_interval_s: float = field(default=300.0, metadata={"doc": "seconds between the edge's per-SKU inventory digests (drift check); also sent after each start"})

    def validate(self) -> None:
        if self.heartbeat_s <= 0:
            raise ValueError(f"heartbeat_s: must be > 0, got {self.heartbeat_s}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")
        if self.max_inflight < 1:
            raise ValueError(f"max_inflight: must be >= 1, got {self.max_inflight}")
        if self.reconnect_gate_s < 0:
            raise ValueError(f"reconnect_gate_s: must be >= 0, got {self.reconnect_gate_s}")
        if self.ack_timeout_s <= 0 or self.digest_interval_s <= 0:
            raise ValueError("ack_timeout_s/digest_interval_s: must be > 0")
        if self.max_ahead < 1 or self.max_payload_bytes < 1024:
            raise ValueError("max_ahead: must be >= 1; max_payload_bytes: must be >= 1024")
