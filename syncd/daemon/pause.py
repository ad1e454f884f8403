"""The user's pause of a daemon, kept as one row in the state database.

1. ``syncd pause`` writes ``{"since": ..., "until": ...}`` (UTC ISO times, ``until`` None
   for "until resumed") under the meta key ``paused``; ``syncd resume`` removes it. The
   daemon reads it about once a second (one indexed read), so no port, no signal: the
   state directory is the interface, and a pause survives a restart of the daemon.
2. A pause whose ``until`` has passed is no pause: nobody needs to clear it.
3. ``parse_duration`` reads ``--for`` values: ``90``, ``90s``, ``15m``, ``1h``, ``2d``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from syncd.errors import UsageError

if TYPE_CHECKING:
    from syncd.state.store import Store

PAUSE_KEY = "paused"
POLL_INTERVAL = 1.0  # how often the daemon reads the row

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Pause:
    """A pause asked for by the user; ``until`` None: until ``syncd resume``."""

    since: datetime
    until: datetime | None

    def is_active(self, now: datetime | None = None) -> bool:
        return self.until is None or (now or datetime.now(UTC)) < self.until

    def describe(self) -> str:
        """``paused by you (until 14:05:00)``, in local time."""
        if self.until is None:
            return "paused by you (until you resume)"
        local = self.until.astimezone()
        fmt = "%H:%M:%S" if local.date() == datetime.now().astimezone().date() else "%Y-%m-%d %H:%M"
        return f"paused by you (until {local.strftime(fmt)})"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "since": self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (``90``, ``15m``, ``1h``, ``2d``); a ``UsageError`` otherwise."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise UsageError(f"--for: not a duration: {text!r} (try 90s, 15m, 1h or 2d)")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def read(store: Store) -> Pause | None:
    """The active pause, or None (none written, resumed, ran out, or unreadable)."""
    raw = store.meta.get_json(PAUSE_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        since = datetime.fromisoformat(raw["since"])
        until = None if raw.get("until") is None else datetime.fromisoformat(raw["until"])
    except (KeyError, TypeError, ValueError):
        return None
    found = Pause(since, until)
    return found if found.is_active() else None


def write(store: Store, seconds: float | None) -> Pause:
    """Pause now, for ``seconds`` (None: until resumed); replaces an earlier pause."""
    now = datetime.now(UTC)
    found = Pause(now, None if seconds is None else now + timedelta(seconds=seconds))
    store.meta.set_json(PAUSE_KEY, found.as_dict())
    return found


def clear(store: Store) -> bool:
    """Resume; True when a pause was active."""
    was = read(store) is not None
    store.meta.set_json(PAUSE_KEY, None)
    return was
