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

from sqlalchemy import Connection, select
from sqlalchemy.dialects.sqlite import insert

from syncd.state import schema as s
from syncd.state.schema import now_iso
from syncd.state.sql import raw

if TYPE_CHECKING:
    from syncd.state.store import Store


class UploadSessions:
    """Unfinished chunked uploads (implements ``syncd.transport.uploads.UploadSessionStore``),
    so an upload interrupted by a stop or a crash resumes from the server's offset."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def find(self, workspace_id: str, path: str, size: int, mtime_ns: int) -> str | None:
        """The upload id to resume, only for the very same local file and before expiry."""
        t = s.upload_sessions
        with self._store.read() as conn:
            row = conn.execute(
                select(t.c.upload_id, t.c.size, t.c.mtime_ns, t.c.expires_time).where(
                    t.c.workspace_id == workspace_id, t.c.path == path
                )
            ).first()
        if row is None or (row.size, row.mtime_ns) != (size, mtime_ns):
            return None
        if _parse_time(row.expires_time) <= datetime.now(UTC):
            return None
        return row.upload_id

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
        row = {
            "workspace_id": workspace_id,
            "path": path,
            "size": size,
            "mtime_ns": mtime_ns,
            "upload_id": upload_id,
            "expires_time": expires_time,
        }
        stmt = insert(s.upload_sessions)
        stmt = stmt.on_conflict_do_update(
            index_elements=["workspace_id", "path"],
            set_={c: stmt.excluded[c] for c in ("size", "mtime_ns", "upload_id", "expires_time")},
        )
        with self._store.transaction() as conn:
            conn.execute(stmt, row)

    def forget(self, workspace_id: str, path: str) -> None:
        t = s.upload_sessions
        with self._store.transaction() as conn:
            conn.execute(t.delete().where(t.c.workspace_id == workspace_id, t.c.path == path))


class Conflicts:
    """The conflict copies made, for ``syncd status``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, path: str, conflict_path: str, *, time: str | None = None) -> None:
        """Record a conflict copy; recording the same copy again changes nothing."""
        stmt = insert(s.conflicts).on_conflict_do_nothing(index_elements=["conflict_path"])
        with self._store.transaction() as conn:
            conn.execute(
                stmt, {"path": path, "conflict_path": conflict_path, "time": time or now_iso()}
            )

    def rows(self) -> list[s.Conflict]:
        """Every conflict copy, oldest first."""
        t = s.conflicts
        with self._store.read() as conn:
            rows = conn.execute(select(t.c.path, t.c.conflict_path, t.c.time).order_by(t.c.time))
            return [s.Conflict(*r) for r in rows]

    def clear(self, conflict_paths: Iterable[str]) -> None:
        if params := [(p,) for p in conflict_paths]:
            with self._store.transaction() as conn:
                conn.exec_driver_sql("DELETE FROM conflicts WHERE conflict_path = ?", params)


class ItemErrors:
    """Paths that could not be synced, with why and how often; a path that syncs leaves."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, path: str, reason: str, *, time: str | None = None) -> None:
        """Count one more failed sync of ``path``; the first time is kept."""
        when = time or now_iso()
        stmt = insert(s.item_errors).values(
            path=path, reason=reason, count=1, first_time=when, last_time=when
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["path"],
            set_={
                "reason": stmt.excluded.reason,
                "count": s.item_errors.c.count + 1,
                "last_time": stmt.excluded.last_time,
            },
        )
        with self._store.transaction() as conn:
            conn.execute(stmt)

    def rows(self) -> list[s.ItemErrorRecord]:
        """Every failing path, by path."""
        t = s.item_errors
        with self._store.read() as conn:
            rows = conn.execute(
                select(t.c.path, t.c.reason, t.c.count, t.c.first_time, t.c.last_time).order_by(
                    t.c.path
                )
            )
            return [s.ItemErrorRecord(*r) for r in rows]

    def clear(self, paths: Iterable[str]) -> None:
        if params := list(paths):
            with self._store.transaction() as conn:
                delete_item_errors(conn, params)


def delete_item_errors(conn: Connection, paths: list[str]) -> None:
    """Forget the errors of ``paths`` inside the caller's transaction (a base write: the
    path synced). Usually no path is failing, so one probe spares a delete per path."""
    if conn.exec_driver_sql("SELECT 1 FROM item_errors LIMIT 1").first():
        conn.exec_driver_sql("DELETE FROM item_errors WHERE path = ?", [(p,) for p in paths])


class DirtyPaths:
    """Paths the daemon's watcher saw change and no sync has covered yet."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def mark(self, paths: Iterable[str], *, time: str | None = None) -> None:
        """Note paths the watcher saw change; a path already noted keeps its first time."""
        when = time or now_iso()
        rows = [{"path": p, "first_seen": when} for p in paths]
        if rows:
            stmt = insert(s.dirty_paths).on_conflict_do_nothing(index_elements=["path"])
            with self._store.transaction() as conn:
                conn.execute(stmt, rows)

    def rows(self) -> dict[str, str]:
        """Dirty path -> first seen, oldest first."""
        t = s.dirty_paths
        with self._store.read() as conn:
            rows = conn.execute(select(t.c.path, t.c.first_seen).order_by(t.c.first_seen))
            return {r.path: r.first_seen for r in rows}

    def clear(self, paths: Iterable[str]) -> None:
        """Drop exactly the paths a sync covered; marks that arrived meanwhile stay."""
        if params := [(p,) for p in paths]:
            with self._store.transaction() as conn:
                conn.exec_driver_sql("DELETE FROM dirty_paths WHERE path = ?", params)


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
        row = {
            "id": 1,
            "state": s.DaemonState(state).value,
            "transfers": json.dumps([dict(t) for t in transfers], sort_keys=True),
            "updated_time": time or now_iso(),
            "pid": os.getpid() if pid is None else pid,
        }
        stmt = insert(s.daemon_status)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"], set_={c: stmt.excluded[c] for c in row if c != "id"}
        )
        with self._store.transaction() as conn:
            conn.execute(stmt, row)

    def read(self) -> s.DaemonStatus | None:
        t = s.daemon_status
        with self._store.read() as conn:
            row = conn.execute(select(t).where(t.c.id == 1)).first()
        if row is None:
            return None
        return s.DaemonStatus(
            s.DaemonState(row.state), json.loads(row.transfers), row.updated_time, row.pid
        )

    def clear(self) -> None:
        """The daemon stopped cleanly."""
        with self._store.transaction() as conn:
            conn.execute(s.daemon_status.delete())


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

    def with_status(self, statuses: Iterable[str]) -> list[dict[str, Any]]:
        """Journal rows with one of ``statuses``, oldest first."""
        t = s.journal
        with self._store.read() as conn:
            rows = conn.execute(select(t).where(t.c.status.in_(list(statuses))).order_by(t.c.id))
            return [dict(r._mapping) for r in rows]

    def delete(self, statuses: Iterable[str]) -> int:
        """Delete rows with one of ``statuses``; how many went."""
        t = s.journal
        with self._store.transaction() as conn:
            return conn.execute(t.delete().where(t.c.status.in_(list(statuses)))).rowcount


def _parse_time(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
