"""The SQL the path-keyed tables share (base, remote mirror, hash cache): subtrees by the
path index, bulk upserts and raw rows.

1. A subtree is one condition, ``SUBTREE``, used by every read, rename and delete of one:
   the path itself and the byte range ``p/`` .. ``p0``. A range has no wildcards, so names
   holding ``%`` or ``_`` need no escaping, as they would with LIKE, and the path index
   answers it without a scan.
2. The store's connections are plain ``sqlite3`` ones; ``raw`` names the connection a
   statement runs on inside the caller's transaction (the store hands out nothing else).
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from syncd.planner.trees import Kind

Connection = sqlite3.Connection

KINDS = {k.value: k for k in Kind}
"""A ``kind`` column's text back to its ``Kind``."""

SUBTREE = "path = ? OR (path >= ? AND path < ?)"
"""A path and its subtree, by the path index: '0' is the byte after '/', so the range
``p/`` .. ``p0`` holds exactly the paths below ``p``. Bind ``subtree_params(p)``."""


def subtree_params(path: str) -> tuple[str, str, str]:
    """The parameters of ``SUBTREE`` for ``path``."""
    return (path, path + "/", path + "0")


def raw(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection a statement runs on, inside the same transaction (promise 2)."""
    return conn


def upsert_sql(table: str, cols: tuple[str, ...]) -> str:
    """``INSERT .. ON CONFLICT(path) DO UPDATE`` for a table keyed by its first column."""
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    marks = ", ".join("?" for _ in cols)
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) "
        f"ON CONFLICT({cols[0]}) DO UPDATE SET {sets}"
    )


def paths_under(conn: Connection, table: str, path: str) -> list[str]:
    """``path`` and the paths below it that ``table`` holds (one search of its index)."""
    sql = f"SELECT path FROM {table} WHERE {SUBTREE}"
    return [r[0] for r in raw(conn).execute(sql, subtree_params(path))]


def delete_paths(conn: Connection, table: str, paths: list[str], *, subtree: bool) -> None:
    """Delete rows by path; with ``subtree``, each path's ``SUBTREE`` too."""
    if subtree:
        sql, params = f"DELETE FROM {table} WHERE {SUBTREE}", [subtree_params(p) for p in paths]
    else:
        sql, params = f"DELETE FROM {table} WHERE path = ?", [(p,) for p in paths]
    raw(conn).executemany(sql, params)


def rename_subtree(conn: Connection, table: str, src: str, dest: str) -> None:
    """Move ``src`` and its subtree to ``dest`` in ``table``, replacing what ``dest`` held."""
    delete_paths(conn, table, [dest], subtree=True)
    raw(conn).execute(
        f"UPDATE {table} SET path = ? || substr(path, ?) WHERE {SUBTREE}",
        (dest, len(src) + 1, *subtree_params(src)),
    )


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector while building many acyclic values: its passes over a
    growing heap would otherwise cost as much as the building itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
