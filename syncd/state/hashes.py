"""The hash cache: local content hashes by stat signature, so an unchanged file is never
read twice. Reached as ``store.hashes``; the scanner asks it through
``syncd.local.scan.HashCache``.

1. A hash is reused only when size, mtime_ns, inode and ctime_ns all still match, so a
   stale entry can never mislead: it matches only the stat it was read under.
2. The table is loaded into memory once, and ``lookup`` reads the dict without a lock
   (a dict read is atomic): the scanner calls it once per file.
3. Writes keep the loaded dict in step with the table, so a sync never reads the whole
   table again; a move renames its entries in memory as it renames the rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from syncd.planner.trees import shared
from syncd.state import schema as s
from syncd.state.sql import delete_paths, paths_under, raw, rename_subtree, upsert_sql

if TYPE_CHECKING:
    from syncd.local.hashing import StatSig
    from syncd.local.scan import HashRecord
    from syncd.state.store import Store

COLS = tuple(c.name for c in s.hash_cache.columns)
CachedHash = tuple[tuple[int, int, int, int], str]  # (size, mtime_ns, inode, ctime_ns), hash


class CachedHashes:
    """The ``hash_cache`` table of one store and its loaded copy."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._hashes: dict[str, CachedHash] | None = None
        self._lock = threading.Lock()

    def lookup(self, path: str, sig: StatSig) -> str | None:
        """The cached hash of ``path`` if its stat is exactly ``sig``, else None.

        Takes no lock (promise 2): after the first call it is one dict read.
        """
        hashes = self._hashes
        if hashes is None:
            hashes = self.load()
        entry = hashes.get(path)
        if entry is None or entry[0] != sig:
            return None
        return entry[1]

    def load(self) -> dict[str, CachedHash]:
        """Load the hash cache into memory (one query) unless it is loaded already."""
        with self._lock:
            if self._hashes is None:
                one = shared
                with self._store.read() as conn:  # row by row: never a list of the table
                    sql = f"SELECT {', '.join(COLS)} FROM hash_cache"
                    rows = raw(conn).execute(sql)
                    self._hashes = {
                        one(r[0]): ((r[1], r[2], r[3], r[4]), r[5] and one(r[5])) for r in rows
                    }
            return self._hashes

    def put(self, records: Iterable[HashRecord]) -> None:
        """Remember hashes in one transaction."""
        rows = [
            (r.path, r.sig.size, r.sig.mtime_ns, r.sig.inode, r.sig.ctime_ns, r.hash)
            for r in records
        ]
        if not rows:
            return
        with self._store.transaction() as conn:
            raw(conn).executemany(upsert_sql("hash_cache", COLS), rows)
        with self._lock:
            if self._hashes is not None:
                self._hashes.update((r[0], (r[1:5], r[5])) for r in rows)

    def drop(self, paths: Iterable[str], *, subtree: bool = False) -> None:
        """Forget cached hashes of paths that are gone (with ``subtree``, below them too)."""
        paths = list(paths)
        if not paths:
            return
        with self._store.transaction() as conn:
            delete_paths(conn, "hash_cache", paths, subtree=subtree)
        with self._lock:
            self._hashes = None  # reload on next lookup: simpler than matching subtrees

    def move(self, src: str, dest: str) -> None:
        """Rename ``src`` and its subtree to ``dest`` (rows at ``dest`` are replaced), in
        the table and in the loaded copy; joins the caller's transaction (``move_base``)."""
        with self._store.transaction() as conn:
            replaced = paths_under(conn, "hash_cache", dest)
            moved = paths_under(conn, "hash_cache", src)
            rename_subtree(conn, "hash_cache", src, dest)
        with self._lock:
            hashes = self._hashes
            if hashes is not None:
                for path in replaced:
                    hashes.pop(path, None)
                for path in moved:
                    entry = hashes.pop(path, None)
                    if entry is not None:
                        hashes[dest + path[len(src) :]] = entry
