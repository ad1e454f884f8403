"""Small helpers of the transport tests: seeded files, hashes, header recording."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from syncd.transport import Client

MiB = 1024 * 1024


def make_file(path: Path, size: int, seed: int = 0) -> str:
    """Write ``size`` seeded random bytes; return their ``sha256:`` hash."""
    rng = random.Random(seed)
    hasher = hashlib.sha256()
    with open(path, "wb") as handle:
        left = size
        while left:
            block = rng.randbytes(min(MiB, left))
            handle.write(block)
            hasher.update(block)
            left -= len(block)
    return f"sha256:{hasher.hexdigest()}"


def file_hash(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(MiB):
            hasher.update(block)
    return f"sha256:{hasher.hexdigest()}"


def record_headers(client: Client, name: str) -> list[str | None]:
    """Record header ``name`` of every request the client sends (from httpx's own hook)."""
    seen: list[str | None] = []
    hooks: list[Callable[..., Any]] = client.connection.http.event_hooks["request"]
    hooks.append(lambda request: seen.append(request.headers.get(name)))
    return seen
