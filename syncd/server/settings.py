"""What ``syncd serve`` was asked to be: one frozen value, built by the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BODY = 1 << 30  # 1 GiB: larger files go through E3 uploads
DEFAULT_CHUNK = 8 << 20  # the largest upload chunk, when max_body allows
DEFAULT_UPLOAD_TTL = 24 * 3600.0
DEFAULT_BATCH_ITEMS = 1000  # records of one E5 request or paths of one E6 request
DEFAULT_BATCH_BYTES = 64 << 20  # payload bytes of one E5 request
MIN_BATCH_ITEMS = 100  # what PROTOCOL.md promises a client of every server with batches
MIN_BATCH_BYTES = 8 << 20
DEFAULT_DRAIN_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class ServerSettings:
    data_dir: Path
    database_url: str
    base_only: bool = False
    max_body: int = DEFAULT_MAX_BODY
    history: int | None = None  # keep feed history for this many revisions; None = all
    upload_ttl: float = DEFAULT_UPLOAD_TTL
    batch_max_items: int = DEFAULT_BATCH_ITEMS
    batch_max_bytes: int = DEFAULT_BATCH_BYTES
    metrics: bool = True  # serve GET /metrics
    access_log: bool = True  # one line per request on stderr
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT  # seconds in-flight requests get at SIGTERM

    @property
    def chunk_size(self) -> int:
        return min(self.max_body, DEFAULT_CHUNK)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"
