"""The hash cache: local content hashes by stat signature, so an unchanged file is never
read twice. Reached as ``store.hashes``; the scanner asks it through
``syncd.local.scan.HashCache``.

1. A hash is reused only when size, mtime_ns, inode and ctime_ns all still match, so a
   stale entry can never mislead: it matches only the stat it was read under.
2. Nothing is kept in memory between scans: each scan takes a ``view`` of the rows under
   its scope (one read of the path index per scope entry; the whole table for a full
   scan), and the view goes with the scan. A daemon at rest holds no hash of any file,
   and a slice of a large tree reads the hashes of that slice only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from syncd.planner.trees import shared
from syncd.state import schema as s
from syncd.state.sql import delete_paths, raw, rename_subtree, upsert_sql

if TYPE_CHECKING:
    from syncd.local.hashing import StatSig
    from syncd.local.scan import HashRecord
    from syncd.state.store import Store

COLS = tuple(c.name for c in s.hash_cache.columns)
CachedHash = tuple[tuple[int, int, int, int], str]  # (size, mtime_ns, inode, ctime_ns), hash


class HashView:
    """The cached hashes of one scan's scope, looked up once per file without a lock."""

    def __init__(self, hashes: dict[str, CachedHash]) -> None:
        self._hashes = hashes

    def lookup(self, path: str, sig: StatSig) -> str | None:
        """The cached hash of ``path`` if its stat is exactly ``sig``, else None."""
        entry = self._hashes.get(path)
        if entry is None or entry[0] != sig:
            return None
        return entry[1]


class CachedHashes:
    """The ``hash_cache`` table of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def view(self, scope: Iterable[str] | None = None) -> HashView:
        """The rows under ``scope`` (all of them for None), for one scan (promise 2)."""
        one = shared
        rows = self._store.rows_under(f"SELECT {', '.join(COLS)} FROM hash_cache", scope)
        return HashView({one(r[0]): ((r[1], r[2], r[3], r[4]), r[5] and one(r[5])) for r in rows})

    def get(self, path: str) -> CachedHash | None:
        """The cached (stat signature, hash) of one path, by the path index."""
        with self._store.read() as conn:
            sql = f"SELECT {', '.join(COLS)} FROM hash_cache WHERE path = ?"
            row = raw(conn).execute(sql, (path,)).fetchone()
        return None if row is None else ((row[1], row[2], row[3], row[4]), row[5])

    def lookup(self, path: str, sig: StatSig) -> str | None:
        """The cached hash of ``path`` if its stat is exactly ``sig`` (one point read)."""
        entry = self.get(path)
        return entry[1] if entry is not None and entry[0] == sig else None

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

    def drop(self, paths: Iterable[str], *, subtree: bool = False) -> None:
        """Forget cached hashes of paths that are gone (with ``subtree``, below them too)."""
        paths = list(paths)
        if not paths:
            return
        with self._store.transaction() as conn:
            delete_paths(conn, "hash_cache", paths, subtree=subtree)

    def move(self, src: str, dest: str) -> None:
        """Rename ``src`` and its subtree to ``dest`` (rows at ``dest`` are replaced); joins
        the caller's transaction (``move_base``)."""
        with self._store.transaction() as conn:
            rename_subtree(conn, "hash_cache", src, dest)
