"""The small tables beside the trees: what a sync and the daemon note down as they go.

Each class is one table's job, reached through the ``Store`` that owns it
(``store.upload_sessions``, ``store.conflicts``, ``store.item_errors``, ``store.dirty``,
``store.daemon_status``, ``store.journal_rows``), and writes in that store's transactions.

1. Every write is one commit, or joins the caller's ``store.transaction()``, so a worker
   records a conflict together with the base change that made it.
2. Recording again is idempotent where a retry could repeat it: a conflict copy is one
   row however often it is added; a dirty path keeps the time it was first seen.
3. These rows are notes, never the truth about a tree: losing one costs a re-check (an
   upload starts over, a failed path is reported again), never a wrong delete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from syncd.state import schema as s
from syncd.state.schema import now_iso
from syncd.state.sql import Connection, raw

if TYPE_CHECKING:
    from syncd.state.store import Store


class UploadSessions:
    """Unfinished chunked uploads (implements ``syncd.transport.uploads.UploadSessionStore``),
    so an upload interrupted by a stop or a crash resumes from the server's offset."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def find(self, workspace_id: str, path: str, size: int, mtime_ns: int) -> str | None:
        """The upload id to resume, only for the very same local file and before expiry."""
        with self._store.read() as conn:
            row = conn.execute(
                "SELECT upload_id, size, mtime_ns, expires_time FROM upload_sessions "
                "WHERE workspace_id = ? AND path = ?",
                (workspace_id, path),
            ).fetchone()
        if row is None or (row[1], row[2]) != (size, mtime_ns):
            return None
        if _parse_time(row[3]) <= datetime.now(UTC):
            return None
        return row[0]

    def remember(
        self,
        workspace_id: str,
        path: str,
        size: int,
        mtime_ns: int,
        upload_id: str,
        expires_time: str,
    ) -> None:
        """Keep an upload session so a restart resumes it; replaces any older one."""
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO upload_sessions (workspace_id, path, size, mtime_ns, upload_id, "
                "expires_time) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(workspace_id, path) DO "
                "UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
                "upload_id = excluded.upload_id, expires_time = excluded.expires_time",
                (workspace_id, path, size, mtime_ns, upload_id, expires_time),
            )

    def forget(self, workspace_id: str, path: str) -> None:
        with self._store.transaction() as conn:
            conn.execute(
                "DELETE FROM upload_sessions WHERE workspace_id = ? AND path = ?",
                (workspace_id, path),
            )


class Conflicts:
    """The conflict copies made, for ``syncd status``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, path: str, conflict_path: str, *, time: str | None = None) -> None:
        """Record a conflict copy; recording the same copy again changes nothing."""
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO conflicts (conflict_path, path, time) VALUES (?, ?, ?) "
                "ON CONFLICT(conflict_path) DO NOTHING",
                (conflict_path, path, time or now_iso()),
            )

    def rows(self) -> list[s.Conflict]:
        """Every conflict copy, oldest first."""
        with self._store.read() as conn:
            rows = conn.execute("SELECT path, conflict_path, time FROM conflicts ORDER BY time")
            return [s.Conflict(*r) for r in rows]

    def clear(self, conflict_paths: Iterable[str]) -> None:
        if params := [(p,) for p in conflict_paths]:
            with self._store.transaction() as conn:
                conn.executemany("DELETE FROM conflicts WHERE conflict_path = ?", params)


class ItemErrors:
    """Paths that could not be synced, with why and how often; a path that syncs leaves."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, path: str, reason: str, *, time: str | None = None) -> None:
        """Count one more failed sync of ``path``; the first time is kept."""
        when = time or now_iso()
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO item_errors (path, reason, count, first_time, last_time) "
                "VALUES (?, ?, 1, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                "reason = excluded.reason, count = item_errors.count + 1, "
                "last_time = excluded.last_time",
                (path, reason, when, when),
            )

    def rows(self) -> list[s.ItemErrorRecord]:
        """Every failing path, by path."""
        with self._store.read() as conn:
            rows = conn.execute(
                "SELECT path, reason, count, first_time, last_time FROM item_errors ORDER BY path"
            )
            return [s.ItemErrorRecord(*r) for r in rows]

    def clear(self, paths: Iterable[str]) -> None:
        if params := list(paths):
            with self._store.transaction() as conn:
                delete_item_errors(conn, params)


def delete_item_errors(conn: Connection, paths: list[str]) -> None:
    """Forget the errors of ``paths`` inside the caller's transaction (a base write: the
    path synced). Usually no path is failing, so one probe spares a delete per path."""
    if conn.execute("SELECT 1 FROM item_errors LIMIT 1").fetchone():
        conn.executemany("DELETE FROM item_errors WHERE path = ?", [(p,) for p in paths])


class DirtyPaths:
    """Paths the daemon's watcher saw change and no sync has covered yet."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def mark(self, paths: Iterable[str], *, time: str | None = None) -> None:
        """Note paths the watcher saw change; a path already noted keeps its first time."""
        when = time or now_iso()
        rows = [(p, when) for p in paths]
        if rows:
            with self._store.transaction() as conn:
                conn.executemany(
                    "INSERT INTO dirty_paths (path, first_seen) VALUES (?, ?) "
                    "ON CONFLICT(path) DO NOTHING",
                    rows,
                )

    def rows(self) -> dict[str, str]:
        """Dirty path -> first seen, oldest first."""
        with self._store.read() as conn:
            rows = conn.execute("SELECT path, first_seen FROM dirty_paths ORDER BY first_seen")
            return dict(rows.fetchall())

    def clear(self, paths: Iterable[str]) -> None:
        """Drop exactly the paths a sync covered; marks that arrived meanwhile stay."""
        if params := [(p,) for p in paths]:
            with self._store.transaction() as conn:
                conn.executemany("DELETE FROM dirty_paths WHERE path = ?", params)


class DaemonStatusRow:
    """What the running daemon does now: one row, overwritten; no row means no daemon."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def write(
        self,
        state: s.DaemonState | str,
        *,
        transfers: Iterable[Mapping[str, Any]] = (),
        pid: int | None = None,
        time: str | None = None,
    ) -> None:
        """Publish the daemon's state and its transfers in flight."""
        row = (
            s.DaemonState(state).value,
            json.dumps([dict(t) for t in transfers], sort_keys=True),
            time or now_iso(),
            os.getpid() if pid is None else pid,
        )
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO daemon_status (id, state, transfers, updated_time, pid) "
                "VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state, "
                "transfers = excluded.transfers, updated_time = excluded.updated_time, "
                "pid = excluded.pid",
                row,
            )

    def read(self) -> s.DaemonStatus | None:
        with self._store.read() as conn:
            row = conn.execute(
                "SELECT state, transfers, updated_time, pid FROM daemon_status WHERE id = 1"
            ).fetchone()
        if row is None:
            return None
        return s.DaemonStatus(s.DaemonState(row[0]), json.loads(row[1]), row[2], row[3])

    def clear(self) -> None:
        """The daemon stopped cleanly."""
        with self._store.transaction() as conn:
            conn.execute("DELETE FROM daemon_status")


_JOURNAL_COLS = (
    "op_kind",
    "path",
    "dest",
    "payload",
    "status",
    "planned_time",
    "started_time",
    "finished_time",
    "error",
)


class JournalRows:
    """The journal's rows; ``syncd.state.journal`` gives them meaning."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def insert(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert journal rows in one commit; their ids in the order given.

        The ids are issued here, after the largest one, inside the write transaction that
        holds SQLite's write lock (no other writer can take one meanwhile), so the rows go
        in through one plain ``executemany`` (``sql.raw``) instead of one statement each.
        """
        if not rows:
            return []
        with self._store.transaction() as conn:
            db = raw(conn)
            first = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM journal").fetchone()[0]
            ids = list(range(first, first + len(rows)))
            db.executemany(
                f"INSERT INTO journal (id, {', '.join(_JOURNAL_COLS)}) "
                f"VALUES (?{', ?' * len(_JOURNAL_COLS)})",
                [
                    (i, *(row.get(c) for c in _JOURNAL_COLS))
                    for i, row in zip(ids, rows, strict=True)
                ],
            )
            return ids

    def update(self, updates: list[dict[str, Any]]) -> None:
        """Set ``status`` (and the times / error given) of rows by ``id``, one commit."""
        if not updates:
            return
        params = [
            (u["status"], u.get("started_time"), u.get("finished_time"), u.get("error"), u["id"])
            for u in updates
        ]
        with self._store.transaction() as conn:
            raw(conn).executemany(
                "UPDATE journal SET status = ?, started_time = COALESCE(?, started_time), "
                "finished_time = COALESCE(?, finished_time), error = COALESCE(?, error) "
                "WHERE id = ?",
                params,
            )

    def finish(self, rows: list[tuple[str, str, str | None, int]]) -> None:
        """Close rows by ``id``: ``(status, finished_time, error, id)`` each, one commit.
        The worker closes a thousand ops at a time: plain tuples, with no dict per row."""
        if not rows:
            return
        with self._store.transaction() as conn:
            raw(conn).executemany(
                "UPDATE journal SET status = ?, finished_time = ?, "
                "error = COALESCE(?, error) WHERE id = ?",
                rows,
            )

    def with_status(self, statuses: Iterable[str]) -> list[dict[str, Any]]:
        """Journal rows with one of ``statuses``, oldest first."""
        wanted = [str(status) for status in statuses]
        cols = [c.name for c in s.journal.columns]
        with self._store.read() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(cols)} FROM journal "
                f"WHERE status IN ({', '.join('?' * len(wanted))}) ORDER BY id",
                wanted,
            )
            return [dict(zip(cols, r, strict=True)) for r in rows]

    def delete(self, statuses: Iterable[str]) -> int:
        """Delete rows with one of ``statuses``; how many went."""
        wanted = [str(status) for status in statuses]
        with self._store.transaction() as conn:
            sql = f"DELETE FROM journal WHERE status IN ({', '.join('?' * len(wanted))})"
            return conn.execute(sql, wanted).rowcount


def _parse_time(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
