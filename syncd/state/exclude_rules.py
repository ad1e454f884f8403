"""This device's selective-sync rules, kept in the state database (never sent anywhere).

``syncd exclude add`` writes them while a daemon may run: SQLite's WAL lets the CLI write
beside it, and the engine reads the rules again on every pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncd.state.store import Store

KEY = "exclude"


def read(store: Store) -> list[str]:
    """The excluded paths, sorted; none when never set."""
    value = store.meta.get_json(KEY)
    return sorted(p for p in value if isinstance(p, str)) if isinstance(value, list) else []


def write(store: Store, paths: list[str]) -> None:
    store.meta.set_json(KEY, sorted(set(paths)))
