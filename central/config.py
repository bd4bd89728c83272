"""Config section for the central service (see floorsync.config)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CentralConfig:
    database_url: str = field(default="", metadata={"doc": "SQLAlchemy URL; empty = SQLite file `central.db` in data_dir; `postgresql+psycopg://...` for production"})
    host: str = field(default="127.0.0.1", metadata={"doc": "address the central web service binds"})
    port: int = field(default=8000, metadata={"doc": "port of the central web service (API + dashboards)"})
    max_body_bytes: int = field(default=1_048_576, metadata={"doc": "API request bodies larger than this are refused (413)"})

    def validate(self) -> None:
        if not 0 <= self.port < 65536:
            raise ValueError(f"port: must be 0-65535, got {self.port}")
