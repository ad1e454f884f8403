"""The remote mirror: the server's tree as of the stored cursor, kept by the change feed
(``syncd.remote.feed``). Reached as ``store.remote``.

1. A feed page and its cursor are written in one commit, so the mirror is never behind
   or ahead of the cursor it claims.
2. Within a page, deletes go first and take their subtrees (a deleted directory implies
   its descendants), then the upserts.
3. A scoped read (``tree(prefixes=...)``) reads only the rows under the prefixes, by the
   path index, as the base's does: a scoped sync never loads the whole mirror.
4. A reset forgets the mirror and the cursor in one commit; after ``revision_obsoleted``
   the base goes in that same commit, and the next sync is a merge, so the reset itself
   can never cause a delete.
5. ``advance`` moves the cursor past revisions whose changes the caller knows from the
   server's own answers (``syncd.remote.own_writes``): the changes in their order and the
   new cursor in one commit, and only from the cursor the caller checked them against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from syncd.planner.trees import Kind, RemoteNode, shared
from syncd.state import schema as s
from syncd.state.meta import read_meta, write_meta
from syncd.state.schema import MetaKey
from syncd.state.sql import KINDS, delete_paths, gc_paused, raw, upsert_sql

if TYPE_CHECKING:
    from syncd.remote.own_writes import Change
    from syncd.state.store import Store

COLS = tuple(c.name for c in s.remote.columns)


class RemoteMirror:
    """The ``remote`` table of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def tree(self, prefixes: Iterable[str] | None = None) -> dict[str, RemoteNode]:
        """The remote tree as of the stored cursor; with ``prefixes``, only the rows at
        those paths and below them (promise 3)."""
        rows = self._store.rows_under(f"SELECT {', '.join(COLS)} FROM remote", prefixes)
        kinds, one = KINDS, shared
        with gc_paused():
            return {
                (p := one(r[0])): RemoteNode(
                    p, kinds[r[1]], r[2], r[3] and one(r[3]), r[4], r[5] and one(r[5])
                )
                for r in rows
            }

    def kinds(self, paths: Iterable[str]) -> dict[str, Kind]:
        """The kind of each of ``paths`` that the mirror holds, by point reads of the path
        index (what a feed page is checked against before it is applied)."""
        wanted = list(dict.fromkeys(paths))
        found: dict[str, Kind] = {}
        with self._store.read() as conn:
            cursor = raw(conn)
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                sql = f"SELECT path, kind FROM remote WHERE path IN ({', '.join('?' * len(chunk))})"
                found.update((path, KINDS[kind]) for path, kind in cursor.execute(sql, chunk))
        return found

    def files(self) -> int:
        """How many files the mirror holds (what a scoped sync's guards judge deletes by)."""
        with self._store.read() as conn:
            sql = "SELECT count(*) FROM remote WHERE kind = ?"
            return raw(conn).execute(sql, (Kind.FILE.value,)).fetchone()[0]

    def apply(self, *, upserts: Iterable[RemoteNode], deletes: Iterable[str], cursor: int) -> None:
        """Apply one feed page and its cursor in one commit (promises 1 and 2)."""
        rows = [
            (n.path, n.kind.value, n.size, n.modified_time, n.revision, n.hash) for n in upserts
        ]
        with self._store.transaction() as conn:
            delete_paths(conn, "remote", list(deletes), subtree=True)
            raw(conn).executemany(upsert_sql("remote", COLS), rows)
            write_meta(conn, {MetaKey.CURSOR: str(cursor)})

    def advance(self, *, expected: int, changes: Sequence[Change], cursor: int) -> bool:
        """Apply ``changes`` (puts of entries, deletes of subtrees) in their order and
        store ``cursor``, in one commit, if the cursor is still ``expected``; False (and
        nothing written) when it moved meanwhile (promise 5)."""
        from syncd.remote.own_writes import Delete

        with self._store.transaction() as conn:
            if read_meta(conn, MetaKey.CURSOR) != str(expected):
                return False
            db, sql, rows = raw(conn), upsert_sql("remote", COLS), []
            for change in changes:
                if isinstance(change, Delete):
                    db.executemany(sql, rows)
                    rows = []
                    delete_paths(conn, "remote", [change.path], subtree=True)
                else:
                    n = change.node
                    rows.append((n.path, n.kind.value, n.size, n.modified_time, n.revision, n.hash))
            db.executemany(sql, rows)
            write_meta(conn, {MetaKey.CURSOR: str(cursor)})
        return True

    def reset(self, *, drop_base: bool) -> None:
        """Forget the mirror and the cursor (read the feed from 0 again); with
        ``drop_base`` (after ``revision_obsoleted``) the base too (promise 4)."""
        with self._store.transaction() as conn:
            conn.execute("DELETE FROM remote")
            values: dict[str, str | None] = {MetaKey.CURSOR: None}
            if drop_base:
                conn.execute("DELETE FROM base")
                values[MetaKey.MERGE_PENDING] = "1"
            write_meta(conn, values)
