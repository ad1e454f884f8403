"""Wire times: ISO 8601 UTC with microseconds and ``+00:00`` (PROTOCOL.md, General)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def later_iso(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def today() -> str:
    return datetime.now(UTC).date().isoformat()
