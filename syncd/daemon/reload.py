"""SIGHUP: read the config again and apply what can change while the daemon runs.

1. Only settings of the loop, the guards and the worker are applied live (``LIVE``); a
   change to anything else (server, workspace, folder, key, TLS, state directory) is
   logged as needing a restart and otherwise ignored, so a reload can never point a
   running engine at another folder or server.
2. The log names the settings that changed, never their values for secrets.
3. A config that no longer loads is refused as a whole; the daemon keeps the old one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from syncd.config import Settings
from syncd.planner.ops import Mode

if TYPE_CHECKING:
    from syncd.reconciler import Engine
    from syncd.transport.throttle import Throttle
    from syncd.watcher import Coalescer

log = logging.getLogger("syncd.daemon")

LIVE = frozenset(
    {
        "debounce",
        "feed_wait",
        "poll_interval",
        "rescan_interval",
        "log_level",
        "max_delete",
        "allow_mass_delete",
        "transfers",
        "trash_retention_days",
        "trash_max_size",
        "mode",
        "propagate_deletes",
        "exclude",
        "bandwidth_limit",
        "min_free_space",
    }
)
SECRET = frozenset({"api_key"})


@dataclass(frozen=True)
class Change:
    """What a reload found: settings applied now, and those that need a restart."""

    applied: tuple[str, ...]
    needs_restart: tuple[str, ...]


def diff(old: Settings, new: Settings) -> Change:
    changed = [f.name for f in fields(Settings) if getattr(old, f.name) != getattr(new, f.name)]
    return Change(
        applied=tuple(n for n in changed if n in LIVE),
        needs_restart=tuple(n for n in changed if n not in LIVE),
    )


def describe(old: Settings, new: Settings, change: Change) -> str:
    """One log line: ``debounce=0.5->0.2 api_key=(changed, needs restart)``."""
    parts = []
    for name in change.applied:
        parts.append(f"{name}={getattr(old, name)!r}->{getattr(new, name)!r}")
    for name in change.needs_restart:
        shown = "(changed)" if name in SECRET else f"{getattr(new, name)!r}"
        parts.append(f"{name}={shown}(needs restart)")
    return " ".join(parts) or "nothing changed"


def apply_live(
    engine: Engine, coalescer: Coalescer, new: Settings, throttle: Throttle | None = None
) -> None:
    """Push the live settings into the running parts (the loop reads its own timers);
    ``throttle`` is the running client's, shared by all its transfers."""
    coalescer.debounce = new.debounce
    coalescer.max_latency = max(new.debounce, 10 * new.debounce)
    engine.delete_limit = new.max_delete
    engine.allow_mass_delete = bool(new.allow_mass_delete)
    engine.mode = Mode(new.mode)
    engine.propagate_deletes = bool(new.propagate_deletes)
    engine.transfers = new.transfers
    engine.exclude = new.exclude
    engine.trash.retention_days = new.trash_retention_days
    engine.trash.max_size = new.trash_max_size
    engine.min_free_space = new.min_free_space
    if throttle is not None and throttle.rate != new.bandwidth_limit:
        throttle.set_rate(new.bandwidth_limit)
    set_log_level(new.log_level)


def set_log_level(level: str) -> None:
    logging.getLogger("syncd").setLevel(level.upper())


def merge(old: Settings, new: Settings, change: Change) -> Settings:
    """The settings the daemon runs with after a reload: live ones new, the rest old."""
    values = {f.name: getattr(old, f.name) for f in fields(Settings)}
    values.update({n: getattr(new, n) for n in change.applied})
    return Settings(**values)
