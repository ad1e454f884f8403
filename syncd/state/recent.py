"""The last changes syncd made, for ``syncd status``: capped, newest first, in ``meta``.

1. After each sync its changes (``Report.changes``: uploaded, downloaded, moved to the
   trash, ...) are prepended with the time, keeping at most ``KEEP`` entries: one meta
   row, rewritten once per sync that changed something, never per byte.
2. ``last_change`` is the summary of the last sync that changed anything, so ``status``
   shows what a person cares about rather than the last (often empty) pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from syncd.state.schema import now_iso

if TYPE_CHECKING:
    from syncd.state.store import Store

KEEP = 50
RECENT_KEY = "recent_changes"
LAST_CHANGE_KEY = "last_change"


def record(store: Store, changes: Iterable[Mapping[str, str]], totals: Mapping[str, int]) -> None:
    """Keep this sync's changes, if it made any (an empty pass leaves both rows alone)."""
    fresh = list(changes)
    if not fresh:
        return
    time = now_iso()
    entries = [{**c, "time": time} for c in reversed(fresh)] + recent(store)
    store.meta.set_many(
        {
            RECENT_KEY: _dump(entries[:KEEP]),
            LAST_CHANGE_KEY: _dump({"time": time, "result": dict(totals)}),
        }
    )


def recent(store: Store) -> list[dict[str, Any]]:
    """The kept changes, newest first."""
    value = store.meta.get_json(RECENT_KEY)
    return value if isinstance(value, list) else []


def last_change(store: Store) -> dict[str, Any] | None:
    """``{"time", "result"}`` of the last sync that changed something."""
    value = store.meta.get_json(LAST_CHANGE_KEY)
    return value if isinstance(value, dict) else None


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
