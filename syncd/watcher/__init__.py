"""Local events for the daemon: a watchdog observer feeding a debouncing coalescer.

Watcher (observer.py) --add/move/remove/add_rescan--> Coalescer (coalesce.py)
daemon: coalescer.wait() -> coalescer.take_ready() -> Batch(paths, rescan, dirs)
"""

from syncd.local.ignore import TEMP_PREFIX
from syncd.watcher.coalesce import Batch, Coalescer
from syncd.watcher.observer import EventHandler, Watcher

__all__ = ["TEMP_PREFIX", "Batch", "Coalescer", "EventHandler", "Watcher"]
