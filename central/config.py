"""Config section for the central service (see floorsync.config)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CentralConfig:
    database_url: str = field(default="", metadata={"doc": "SQLAlchemy URL; empty = SQLite file `central.db` in data_dir; `postgresql+psycopg://...` for production"})
    host: str = field(default="127.0.0.1", metadata={"doc": "address the central web service binds"})
    port: int = field(default=8000, metadata={"doc": "port of the central web service (API + dashboards)"})
    max_body_bytes: int = field(default=1_048_576, metadata={"doc": "API request bodies larger than this are refused (413)"})
    max_sync_lag_s: float = field(default=900.0, metadata={"doc": "routing sends no new work to a site whose sync lag exceeds this many seconds"})
    webhook_retry_base_s: float = field(default=2.0, metadata={"doc": "first webhook retry delay; doubles per attempt (capped at 1 h)"})
    webhook_max_attempts: int = field(default=20, metadata={"doc": "webhook attempts before a delivery is marked failed (still listed in the delivery log)"})
    session_secret: str = field(default="", metadata={"doc": "secret that signs the dashboard login cookie; empty = a random secret generated once and kept in the central database (shared by every worker)"})
    session_hours: float = field(default=12.0, metadata={"doc": "a dashboard login lasts this many hours"})
    session_cookie_secure: bool = field(default=False, metadata={"doc": "send the dashboard login cookie over HTTPS only (set true behind TLS)"})

    def validate(self) -> None:
        if not 0 <= self.port < 65536:
            raise ValueError(f"port: must be 0-65535, got {self.port}")
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes: must be >= 1024, got {self.max_body_bytes}")
        if self.max_sync_lag_s <= 0:
            raise ValueError(f"max_sync_lag_s: must be > 0, got {self.max_sync_lag_s}")
        if self.webhook_retry_base_s <= 0 or self.webhook_max_attempts < 1:
            raise ValueError("webhook_retry_base_s: must be > 0 (and webhook_max_attempts >= 1)")
        if self.session_secret and len(self.session_secret) < 16:
            raise ValueError("session_secret: must be at least 16 characters (or empty to generate one)")
        if not 0 < self.session_hours <= 24 * 30:
            raise ValueError(f"session_hours: must be > 0 and at most 720, got {self.session_hours}")

    def url(self, data_dir: str) -> str:
        """The effective database URL."""
        if self.database_url:
            return self.database_url
        import os

        return "sqlite:///" + os.path.join(os.path.abspath(data_dir), "central.db")
