"""The walk of a sync in slices, and the questions it answers in SQL, not in dicts.

Reached as ``store.scan_rows``. A full sync of a large tree never holds a whole tree in
memory (``syncd.slices``): it writes the folder's walk here (stat only), compares it with
the base and the mirror in SQL, and reads back only the paths where they disagree.

1. The walk is kept between syncs. ``update`` takes it folder by folder as it goes and
   compares each folder's fresh listing with that folder's stored rows (one indexed
   range): only the differences are written, and a folder gone, ignored or unlistable
   loses its rows with everything below, so after the walk the table is exactly what a
   rewrite from scratch would hold. ``clear`` forgets it all.
2. Every write to ``scan_rows``, ``base`` or ``remote`` marks its path in
   ``changed_paths`` (triggers, in the writer's transaction), and a path is unmarked only
   when the three rows agree. ``queue_dirty`` therefore compares the marked paths only,
   not the whole tree, and a crash at any point leaves every disagreement marked.
3. ``queue_dirty`` writes the disagreeing paths to ``slice_paths`` in path order, each
   with its kind on each side, so slices are read a part at a time by ``seq`` and no
   read stays open while the worker writes. It is conservative: a path is left out only
   when its walk, base and mirror rows agree on every fact the planner compares (kind;
   for a file size, mtime, inode and remote revision). Leaving a path in costs one
   planning, leaving one out would miss a change.
4. The global questions: moves whose ends may lie in different slices (``local_moves``
   by inode, ``remote_moves`` by content hash), the bounds on deletes for the mass-delete
   guard (``delete_bounds``), and which side holds a path (``kinds``). Each end of a
   move and each delete is a disagreeing path, so these read the queue, not the tree.
5. After the slices ran, ``settle`` writes into the walk what the base now records of
   the marked paths (a download, an install: facts the worker observed on disk) and
   unmarks what agrees, so the no-op after a first sync compares nothing it settled. A
   walk row written so is only the last known state: the next walk compares each folder
   with it like any other row, so a file changed or gone since is marked again.
6. Each folder's rows have a digest in ``scan_folders``, written by ``update`` in the
   transaction that made the rows equal the listing, and dropped by a trigger on any
   other write to a row of that folder (``settle``, a delete below, ``clear``). A
   folder whose fresh listing gives its stored digest is therefore unchanged, and its
   rows are not read back. A big folder read in parts is compared row by row as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from syncd.planner.trees import Kind, LocalNode
from syncd.state.sql import SUBTREE, Connection, raw, subtree_params

if TYPE_CHECKING:
    from syncd.local.scan import Part, Row
    from syncd.state.store import Store

_FILE = Kind.FILE.value
_DIR = Kind.DIR.value

_JOINED = """
  FROM changed_paths c
  LEFT JOIN scan_rows s ON s.path = c.path
  LEFT JOIN base b ON b.path = c.path
  LEFT JOIN remote r ON r.path = c.path
"""

_SETTLED = f"""
DELETE FROM changed_paths WHERE path IN (
SELECT c.path {_JOINED}
 WHERE (s.path IS NULL AND b.path IS NULL AND r.path IS NULL)
    OR (s.kind = b.kind AND r.kind = b.kind AND (b.kind != '{_FILE}' OR (
        s.size IS b.size AND s.mtime_ns IS b.local_mtime_ns AND s.inode IS b.local_inode
        AND r.revision IS b.remote_revision AND r.size IS b.size))))
"""
"""Unmark the paths whose walk, base and mirror rows agree (promise 3's test)."""

_INSTALLED = f"""
INSERT INTO scan_rows (path, parent, kind, size, mtime_ns, inode)
SELECT b.path, rtrim(rtrim(b.path, replace(b.path, '/', '')), '/'), b.kind,
       CASE WHEN b.kind = '{_FILE}' THEN b.size END,
       CASE WHEN b.kind = '{_FILE}' THEN b.local_mtime_ns END, b.local_inode
  FROM changed_paths c JOIN base b ON b.path = c.path
 WHERE b.local_inode IS NOT NULL AND (b.kind != '{_FILE}' OR b.local_mtime_ns IS NOT NULL)
ON CONFLICT (path) DO UPDATE SET parent = excluded.parent, kind = excluded.kind,
   size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode
"""
"""The disk as the base records it after the worker's writes, for the marked paths
(promise 5): the walk could not see a download it came before."""

_QUEUE = f"""
INSERT INTO slice_paths (path, scan_kind, base_kind, remote_kind)
SELECT c.path, s.kind, b.kind, r.kind {_JOINED} ORDER BY c.path
"""

_CHILDREN = "SELECT path, kind, size, mtime_ns, inode FROM scan_rows WHERE parent = ? ORDER BY path"
_UPSERT = (
    "INSERT INTO scan_rows (path, parent, kind, size, mtime_ns, inode) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (path) DO UPDATE SET parent = excluded.parent, kind = excluded.kind, "
    "size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode"
)
_DELETE = "DELETE FROM scan_rows WHERE path = ?"
_LOOKUP = 500  # paths per lookup of a big folder's part (under SQLite's 999 parameters)
_BY_PATH = "SELECT path, kind, size, mtime_ns, inode FROM scan_rows WHERE path IN ({})"
_COUNT_CHILDREN = "SELECT count(*) FROM scan_rows WHERE parent = ?"
_CHILD_KINDS = "SELECT path, kind FROM scan_rows WHERE parent = ?"
_DELETE_BELOW = "DELETE FROM scan_rows WHERE path >= ? AND path < ?"
_DIGEST = "SELECT digest FROM scan_folders WHERE path = ?"
_PUT_DIGEST = "INSERT OR REPLACE INTO scan_folders (path, digest) VALUES (?, ?)"

Queued = tuple[int, str, str | None, str | None, str | None]
"""(seq, path, kind in the walk, in the base, in the mirror); a kind is None where absent."""


class ScanRows:
    """The ``scan_rows`` and ``slice_paths`` tables of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def clear(self) -> None:
        """Forget the walk and its queue: the next walk writes every row again."""
        with self._store.transaction() as conn:
            cursor = raw(conn)
            cursor.execute("DELETE FROM scan_rows")
            cursor.execute("DELETE FROM scan_folders")
            cursor.execute("DELETE FROM slice_paths")

    def put(self, nodes: Iterable[LocalNode]) -> None:
        """Write nodes into the walk as they are, in one transaction."""
        self.put_rows([(n.path, n.kind.value, n.size, n.mtime_ns, n.inode) for n in nodes])

    def put_rows(self, rows: list[Row]) -> None:
        """Write rows into the walk as they are, in one transaction (no folder compared)."""
        if rows:
            with self._store.transaction() as conn:
                raw(conn).executemany(_UPSERT, [_with_parent(row) for row in rows])

    def update(self, parts: list[Part]) -> None:
        """Take one part of a walk, folder by folder (``syncd.local.scan.Part``); write
        where it differs from the stored rows of that folder (promise 1).

        A whole folder whose rows give the digest stored for it (``scan_folders``) is
        unchanged: its rows are not read back, which is most of what a no-op's walk
        costs the database (promise 6).
        """
        with self._store.transaction() as conn:
            cursor = raw(conn)
            for folder, rows, keys in parts:
                if keys is None:  # the whole folder
                    rows.sort()  # unique paths first: path order, as the index gives it
                    digest = folder_digest(rows)
                    known = cursor.execute(_DIGEST, (folder,)).fetchone()
                    if known is not None and known[0] == digest:
                        continue  # the common case: nothing changed in this folder
                    stored = cursor.execute(_CHILDREN, (folder,)).fetchall()
                    if stored != rows:
                        _write_difference(cursor, folder, stored, rows)
                    cursor.execute(_PUT_DIGEST, (folder, digest))  # after the writes
                elif keys is True:  # part of a big folder: what left it is found at its end
                    _write_changed(cursor, folder, rows)
                else:
                    _drop_others(cursor, folder, keys)

    def count(self) -> tuple[int, int]:
        """(paths, files) of the walk."""
        with self._store.read() as conn:
            sql = f"SELECT count(*), count(*) FILTER (WHERE kind = '{_FILE}') FROM scan_rows"
            paths, files = raw(conn).execute(sql).fetchone()
        return paths, files

    def queue_dirty(self) -> int:
        """Queue the paths where walk, base and mirror disagree (promise 3); how many.

        Only marked paths are compared (promise 2): a no-op after a no-op compares none.
        """
        with self._store.transaction() as conn:
            cursor = raw(conn)
            cursor.execute("DELETE FROM slice_paths")
            cursor.execute(_SETTLED)
            cursor.execute(_QUEUE)
            return cursor.execute("SELECT count(*) FROM slice_paths").fetchone()[0]

    def settle(self) -> None:
        """After the slices ran: take what the worker put on disk into the walk, and
        unmark the paths that agree now (promise 5)."""
        with self._store.transaction() as conn:
            cursor = raw(conn)
            cursor.execute(_INSTALLED)
            cursor.execute(_SETTLED)

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
        new at the second (what the planner pairs as a local move). Read after
        ``queue_dirty``: both ends disagree, so the gone end is in the queue."""
        sql = """
        SELECT b.path, s.path FROM slice_paths q JOIN base b ON b.path = q.path
          JOIN scan_rows s ON s.inode = b.local_inode
         WHERE q.scan_kind IS NULL AND b.path != s.path AND s.kind = b.kind
           AND NOT EXISTS (SELECT 1 FROM base y WHERE y.path = s.path)
        """
        with self._store.read() as conn:
            return [(a, b) for a, b in raw(conn).execute(sql)]

    def remote_moves(self) -> list[tuple[str, str]]:
        """(base path, mirror path) pairs of one content hash: gone from the server at the
        first, new at the second (what the planner pairs as a remote move). Read after
        ``queue_dirty``, like ``local_moves``: both ends are in the queue."""
        gone = f"SELECT 1 FROM slice_paths WHERE remote_kind IS NULL AND base_kind = '{_FILE}'"
        sql = f"""
        SELECT b.path, r.path FROM slice_paths q JOIN base b ON b.path = q.path
          JOIN remote r ON r.hash = b.hash AND r.size = b.size
         WHERE q.remote_kind IS NULL AND b.kind = '{_FILE}' AND r.kind = '{_FILE}'
           AND b.path != r.path AND NOT EXISTS (SELECT 1 FROM base y WHERE y.path = r.path)
        """
        with self._store.read() as conn:
            if raw(conn).execute(gone).fetchone() is None:
                return []  # nothing gone from the server: no hash index is built
            return [(a, b) for a, b in raw(conn).execute(sql)]

    def delete_bounds(self) -> tuple[int, int]:
        """(local, remote): at most how many base files a plan could delete on each side.

        A local delete follows a file the server lost (or holds as a folder), a remote
        one a file the disk lost; the guard needs the exact count only above these. Each
        is a disagreeing path, so the queue holds it (read after ``queue_dirty``).
        """
        sql = f"""
        SELECT
          count(*) FILTER (WHERE remote_kind IS NULL OR remote_kind != base_kind),
          count(*) FILTER (WHERE scan_kind IS NULL OR scan_kind != base_kind)
          FROM slice_paths WHERE base_kind = '{_FILE}'
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


def folder_digest(rows: list[Row]) -> bytes:
    """The digest of one folder's rows in path order, as ``scan_folders`` keeps it."""
    return hashlib.blake2b(repr(rows).encode(), digest_size=16).digest()


def _with_parent(row: Row) -> tuple[str, str, str, int | None, int | None, int]:
    path = row[0]
    return (path, path.rpartition("/")[0], *row[1:])


def _write_difference(cursor: Connection, folder: str, stored: list[Row], rows: list[Row]) -> None:
    """Write one folder's fresh rows where they differ from its stored ones; a folder gone
    or turned into a file loses the rows below it (the walk no longer goes there)."""
    gone = {row[0]: row for row in stored}
    changed: list[tuple[str, str, str, int | None, int | None, int]] = []
    below: list[str] = []
    for row in rows:
        before = gone.pop(row[0], None)
        if before != row:
            changed.append((row[0], folder, *row[1:]))
            if before is not None and before[1] == _DIR and row[1] != _DIR:
                below.append(row[0])
    below += [path for path, row in gone.items() if row[1] == _DIR]
    cursor.executemany(_DELETE, [(path,) for path in gone])
    cursor.executemany(_DELETE_BELOW, [(p + "/", p + "0") for p in below])
    cursor.executemany(_UPSERT, changed)


def _write_changed(cursor: Connection, folder: str, rows: list[Row]) -> None:
    """Write the rows of part of a folder that differ from the stored ones (by path)."""
    stored: dict[str, Row] = {}
    for start in range(0, len(rows), _LOOKUP):
        some = rows[start : start + _LOOKUP]
        sql = _BY_PATH.format(", ".join("?" * len(some)))
        stored.update((row[0], row) for row in cursor.execute(sql, [row[0] for row in some]))
    changed = [row for row in rows if stored.get(row[0]) != row]
    below = [
        row[0]
        for row in changed
        if row[1] != _DIR and stored.get(row[0], ("", ""))[1] == _DIR  # a folder now a file
    ]
    cursor.executemany(_DELETE_BELOW, [(p + "/", p + "0") for p in below])
    cursor.executemany(_UPSERT, [(row[0], folder, *row[1:]) for row in changed])


def _drop_others(cursor: Connection, folder: str, keys: frozenset[str]) -> None:
    """The end of a big folder: delete its stored rows whose keys the walk did not
    find (with what is below them), after counting whether there are any."""
    (count,) = cursor.execute(_COUNT_CHILDREN, (folder,)).fetchone()
    if count == len(keys):
        return  # every stored row was found (the parts upserted them all)
    cut = len(folder) + 1 if folder else 0
    gone = [
        (path, kind)
        for path, kind in cursor.execute(_CHILD_KINDS, (folder,)).fetchall()
        if path[cut:] not in keys
    ]
    cursor.executemany(_DELETE, [(path,) for path, _ in gone])
    cursor.executemany(_DELETE_BELOW, [(p + "/", p + "0") for p, kind in gone if kind == _DIR])
