"""The walk of a sync in slices, and the questions it answers in SQL, not in dicts.

Reached as ``store.scan_rows``. A full sync of a large tree never holds a whole tree in
memory (``syncd.slices``): it writes the folder's walk here (stat only), compares it with
the base and the mirror in SQL, and reads back only the paths where they disagree.

1. ``put`` takes the walk in parts as it goes; ``clear`` starts a new walk. A walk is
   only read by the sync that wrote it: a crash leaves a stale one that the next full
   sync replaces.
2. ``queue_dirty`` writes the disagreeing paths to ``slice_paths`` in path order, each
   with its kind on each side, so slices are read a part at a time by ``seq`` and no
   read stays open while the worker writes. It is conservative: a path is left out only
   when its walk, base and mirror rows agree on every fact the planner compares (kind;
   for a file size, mtime, inode and remote revision). Leaving a path in costs one
   planning, leaving one out would miss a change.
3. The global questions: moves whose ends may lie in different slices (``local_moves``
   by inode, ``remote_moves`` by content hash), the bounds on deletes for the mass-delete
   guard (``delete_bounds``), and which side holds a path (``kinds``), each an indexed
   query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from syncd.planner.trees import Kind, LocalNode
from syncd.state.sql import SUBTREE, raw, subtree_params

if TYPE_CHECKING:
    from syncd.state.store import Store

_FILE = Kind.FILE.value

_DIRTY = f"""
SELECT s.path FROM scan_rows s LEFT JOIN base b ON b.path = s.path
 WHERE b.path IS NULL OR s.kind != b.kind OR (s.kind = '{_FILE}' AND (
       s.size IS NOT b.size OR s.mtime_ns IS NOT b.local_mtime_ns
       OR s.inode IS NOT b.local_inode))
UNION
SELECT b.path FROM base b WHERE NOT EXISTS (SELECT 1 FROM scan_rows s WHERE s.path = b.path)
UNION
SELECT r.path FROM remote r LEFT JOIN base b ON b.path = r.path
 WHERE b.path IS NULL OR r.kind != b.kind OR (r.kind = '{_FILE}' AND (
       r.revision IS NOT b.remote_revision OR r.size IS NOT b.size))
UNION
SELECT b.path FROM base b WHERE NOT EXISTS (SELECT 1 FROM remote r WHERE r.path = b.path)
"""

_QUEUE = f"""
INSERT INTO slice_paths (path, scan_kind, base_kind, remote_kind)
SELECT d.path, s.kind, b.kind, r.kind FROM ({_DIRTY}) d
  LEFT JOIN scan_rows s ON s.path = d.path
  LEFT JOIN base b ON b.path = d.path
  LEFT JOIN remote r ON r.path = d.path
 ORDER BY d.path
"""

Queued = tuple[int, str, str | None, str | None, str | None]
"""(seq, path, kind in the walk, in the base, in the mirror); a kind is None where absent."""


class ScanRows:
    """The ``scan_rows`` and ``slice_paths`` tables of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def clear(self) -> None:
        """Forget the last walk and its queue (promise 1)."""
        with self._store.transaction() as conn:
            cursor = raw(conn)
            cursor.execute("DELETE FROM scan_rows")
            cursor.execute("DELETE FROM slice_paths")

    def put(self, nodes: Iterable[LocalNode]) -> None:
        """Add one part of the walk, in one transaction."""
        rows = [(n.path, n.kind.value, n.size, n.mtime_ns, n.inode) for n in nodes]
        if not rows:
            return
        with self._store.transaction() as conn:
            raw(conn).executemany(
                "INSERT OR REPLACE INTO scan_rows (path, kind, size, mtime_ns, inode) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def count(self) -> tuple[int, int]:
        """(paths, files) of the walk."""
        with self._store.read() as conn:
            sql = f"SELECT count(*), count(*) FILTER (WHERE kind = '{_FILE}') FROM scan_rows"
            paths, files = raw(conn).execute(sql).fetchone()
        return paths, files

    def queue_dirty(self) -> int:
        """Queue the paths where walk, base and mirror disagree (promise 2); how many."""
        with self._store.transaction() as conn:
            cursor = raw(conn)
            cursor.execute("DELETE FROM slice_paths")
            cursor.execute(_QUEUE)
            return cursor.execute("SELECT count(*) FROM slice_paths").fetchone()[0]

    def queued(self, limit: int = 5_000) -> Iterator[Queued]:
        """The queue in path order, read ``limit`` rows at a time (short reads only)."""
        after = 0
        while True:
            with self._store.read() as conn:
                rows = (
                    raw(conn)
                    .execute(
                        "SELECT seq, path, scan_kind, base_kind, remote_kind FROM slice_paths "
                        "WHERE seq > ? ORDER BY seq LIMIT ?",
                        (after, limit),
                    )
                    .fetchall()
                )
            if not rows:
                return
            yield from rows
            after = rows[-1][0]

    def local_moves(self) -> list[tuple[str, str]]:
        """(base path, walked path) pairs of one inode: gone from the disk at the first,
        new at the second (what the planner pairs as a local move)."""
        sql = """
        SELECT b.path, s.path FROM base b JOIN scan_rows s ON s.inode = b.local_inode
         WHERE b.path != s.path AND s.kind = b.kind
           AND NOT EXISTS (SELECT 1 FROM scan_rows x WHERE x.path = b.path)
           AND NOT EXISTS (SELECT 1 FROM base y WHERE y.path = s.path)
        """
        with self._store.read() as conn:
            return [(a, b) for a, b in raw(conn).execute(sql)]

    def remote_moves(self) -> list[tuple[str, str]]:
        """(base path, mirror path) pairs of one content hash: gone from the server at the
        first, new at the second (what the planner pairs as a remote move)."""
        sql = f"""
        SELECT b.path, r.path FROM base b JOIN remote r ON r.hash = b.hash AND r.size = b.size
         WHERE b.kind = '{_FILE}' AND r.kind = '{_FILE}' AND b.path != r.path
           AND NOT EXISTS (SELECT 1 FROM remote x WHERE x.path = b.path)
           AND NOT EXISTS (SELECT 1 FROM base y WHERE y.path = r.path)
        """
        with self._store.read() as conn:
            return [(a, b) for a, b in raw(conn).execute(sql)]

    def delete_bounds(self) -> tuple[int, int]:
        """(local, remote): at most how many base files a plan could delete on each side.

        A local delete follows a file the server lost (or holds as a folder), a remote
        one a file the disk lost; the guard needs the exact count only above these.
        """
        sql = f"""
        SELECT
          (SELECT count(*) FROM base b LEFT JOIN remote r ON r.path = b.path
            WHERE b.kind = '{_FILE}' AND (r.path IS NULL OR r.kind != b.kind)),
          (SELECT count(*) FROM base b LEFT JOIN scan_rows s ON s.path = b.path
            WHERE b.kind = '{_FILE}' AND (s.path IS NULL OR s.kind != b.kind))
        """
        with self._store.read() as conn:
            local, remote = raw(conn).execute(sql).fetchone()
        return local, remote

    def holds_under(self, path: str) -> bool:
        """True when the walk or the base has ``path`` or anything below it."""
        sql = (
            f"SELECT EXISTS (SELECT 1 FROM scan_rows WHERE {SUBTREE}) "
            f"OR EXISTS (SELECT 1 FROM base WHERE {SUBTREE})"
        )
        with self._store.read() as conn:
            return bool(raw(conn).execute(sql, (*subtree_params(path),) * 2).fetchone()[0])

    def kinds(self, path: str) -> tuple[str | None, str | None, str | None]:
        """The kind of ``path`` in the walk, the base and the mirror (None: absent)."""
        sql = """
        SELECT (SELECT kind FROM scan_rows WHERE path = ?),
               (SELECT kind FROM base WHERE path = ?),
               (SELECT kind FROM remote WHERE path = ?)
        """
        with self._store.read() as conn:
            walk, base, mirror = raw(conn).execute(sql, (path, path, path)).fetchone()
        return walk, base, mirror
