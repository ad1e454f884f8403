"""The door to the state database (SQLite through SQLAlchemy Core): its connections and
transactions, the trees it keeps (base, remote mirror, hash cache) and its meta facts. The
small tables beside them (``records.py``) hang off the ``Store`` and write in its
transactions.

1. WAL mode: ``syncd status`` reads while the daemon writes, and neither blocks the other.
2. ``synchronous=FULL``: a commit is on disk before the call returns. In WAL mode NORMAL
   survives a killed process but may roll back the last commits on a power cut; the
   journal's promise ("the intent is stored before the effect happens") and the base's
   ("never older than the disk it describes") need FULL. Writers batch rows into one
   transaction so the fsync is paid per group, not per file.
3. Writes run in ``BEGIN IMMEDIATE`` transactions, serialised by one lock in this process
   and by SQLite's busy timeout across processes, so a writer never fails half way.
4. Hot paths (base tree, hash cache) use Core ``executemany`` and plain rows, no ORM.
5. A database written by a newer syncd is refused with a ``UsageError``; nothing is changed.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, func, select
from sqlalchemy.dialects.sqlite import insert

from syncd.errors import UsageError
from syncd.paths import ancestors, is_within
from syncd.planner.trees import BaseNode, Kind, RemoteNode
from syncd.state import schema as s
from syncd.state.paths import canonical_folder, canonical_server
from syncd.state.records import (
    Conflicts,
    DaemonStatusRow,
    DirtyPaths,
    ItemErrors,
    JournalRows,
    UploadSessions,
    delete_item_errors,
)
from syncd.state.schema import MetaKey, now_iso

if TYPE_CHECKING:
    from syncd.local.hashing import StatSig
    from syncd.local.scan import HashRecord

BUSY_TIMEOUT_S = 30.0
_KINDS = {k.value: k for k in Kind}


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


class Store:
    """One open state database. Safe to share between threads; cheap to keep open."""

    def __init__(self, db_path: Path, engine: Engine) -> None:
        self.path = db_path
        self._engine = engine
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._hashes: dict[str, _CachedHash] | None = None
        self._hashes_lock = threading.Lock()
        self._close_hooks: list[Callable[[], None]] = []
        # the small tables beside the trees (records.py), each in this store's transactions
        self.upload_sessions = UploadSessions(self)
        self.conflicts = Conflicts(self)
        self.item_errors = ItemErrors(self)
        self.dirty = DirtyPaths(self)
        self.daemon_status = DaemonStatusRow(self)
        self.journal_rows = JournalRows(self)

    @classmethod
    def open(cls, db_path: Path, *, create: bool = True) -> Store:
        """Open (and on first use create) the database; refuse one from a newer syncd.

        ``create=False`` is for readers such as ``syncd status``: a missing database is a
        ``UsageError`` instead of a new empty file.
        """
        db_path = Path(db_path)
        if not db_path.exists():
            if not create:
                raise UsageError(f"no sync state at {db_path}", hint="run `syncd sync` first")
            db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = create_engine(f"sqlite:///{db_path}", connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _on_connect)
        store = cls(db_path, engine)
        try:
            store._prepare()
        except exc.DatabaseError as error:
            engine.dispose()
            raise UsageError(
                f"cannot open the state database {db_path}: {error.orig}",
                hint="move the file away to start over (the next sync is then a merge)",
            ) from error
        except BaseException:
            engine.dispose()
            raise
        return store

    def _prepare(self) -> None:
        """Check the version with a plain read (so ``status`` never waits for the
        daemon's write lock); take the write lock only to create missing tables."""
        with self.read() as conn:
            tables = {
                row[0]
                for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
            }
            version = self._meta(conn, MetaKey.SCHEMA_VERSION) if "meta" in tables else None
        if "meta" in tables:
            if version is None or not version.isdigit():
                raise UsageError(f"{self.path} is not a syncd state database (no version)")
            if int(version) > s.SCHEMA_VERSION:
                raise UsageError(
                    f"the state database {self.path} has schema version {version}, newer "
                    f"than this syncd understands ({s.SCHEMA_VERSION})",
                    hint="upgrade syncd, or pass another --state-dir",
                )
        if not tables.issuperset(s.metadata.tables):
            with self.transaction() as conn:
                s.metadata.create_all(conn)  # only the missing ones
                if version is None:
                    self._put_meta(conn, {MetaKey.SCHEMA_VERSION: str(s.SCHEMA_VERSION)})

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` first thing in ``close()`` (the journal flushes its buffer)."""
        self._close_hooks.append(callback)

    def close(self) -> None:
        """Run the close hooks, then release every connection; the data is durable."""
        hooks, self._close_hooks = self._close_hooks, []
        try:
            for hook in hooks:
                hook()
        finally:
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- connections -------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Group several writes into one commit (one fsync). Nested calls on the same
        thread join the outer transaction; an exception rolls everything back."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            if not self._local.write:
                raise RuntimeError("write inside a read-only snapshot")
            yield current
            return
        with self._write_lock, self._engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            self._local.conn, self._local.write = conn, True
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()
            finally:
                self._local.conn = None

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A consistent read of several tables (for ``status``); never blocks a writer."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self._engine.connect() as conn:
            conn.exec_driver_sql("BEGIN")
            self._local.conn, self._local.write = conn, False
            try:
                yield conn
            finally:
                self._local.conn = None
                conn.rollback()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for one read; inside ``transaction()`` or ``snapshot()`` on this
        thread, theirs (a read sees the writes of the transaction it is part of)."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self._engine.connect() as conn:
            try:
                yield conn
            finally:
                conn.rollback()

    def in_transaction(self) -> bool:
        """True when this thread is inside ``transaction()`` (writes join it)."""
        return getattr(self._local, "conn", None) is not None and self._local.write

    # -- base tree ---------------------------------------------------------------------

    def base(self, prefixes: Iterable[str] | None = None) -> dict[str, BaseNode]:
        """The base tree keyed by path (plain DBAPI rows: this is the hot path); with
        ``prefixes``, only the rows at those paths and below them (``rows_under``), so a
        scoped sync's cost follows the rows it plans, not the size of the base."""
        sql = f"SELECT {', '.join(_BASE_COLS)} FROM base"
        rows = self.rows_under(sql, prefixes)
        kinds = _KINDS
        with _gc_paused():
            return {
                r[0]: BaseNode(r[0], kinds[r[1]], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows
            }

    def rows_under(self, sql: str, prefixes: Iterable[str] | None) -> list[Any]:
        """The rows of ``sql`` (a ``SELECT .. FROM <table>`` with no WHERE); with
        ``prefixes``, only those whose path is a prefix or lies below one.

        Each prefix ``p`` is one search of the path index for ``p`` and the byte range
        ``p/`` .. ``p0`` (``SUBTREE``). A range has no wildcards, so names holding ``%``
        or ``_`` need no escaping, as they would with LIKE. The prefixes are read in one
        snapshot, so a writer in between cannot make them disagree.
        """
        if prefixes is None:
            with self.read() as conn:
                return _raw(conn).execute(sql).fetchall()
        rows: list[Any] = []
        with self.snapshot() as conn:
            raw = _raw(conn)
            for p in _outermost(prefixes):
                rows += raw.execute(f"{sql} WHERE {SUBTREE}", subtree_params(p)).fetchall()
        return rows

    def put_base(self, nodes: Iterable[BaseNode]) -> None:
        """Upsert base rows in one transaction; a path that synced loses its item error."""
        rows = [
            (
                n.path,
                n.kind.value,
                n.size,
                n.hash,
                n.local_mtime_ns,
                n.local_inode,
                n.remote_revision,
                n.remote_modified_time,
            )
            for n in nodes
        ]
        if rows:
            with self.transaction() as conn:
                _raw(conn).executemany(_upsert_sql("base", _BASE_COLS), rows)
                delete_item_errors(conn, [r[0] for r in rows])

    def drop_base(self, paths: Iterable[str], *, subtree: bool = False) -> None:
        """Delete base rows (with ``subtree``, also every row below each path)."""
        paths = list(paths)
        if not paths:
            return
        with self.transaction() as conn:
            _delete_paths(conn, "base", paths, subtree=subtree)
            delete_item_errors(conn, paths)

    def move_base(self, src: str, dest: str) -> None:
        """Rename ``src`` and its subtree to ``dest`` in the base and the hash cache, so a
        move costs no re-transfer and no rehash; rows already at ``dest`` are replaced."""
        if is_within(dest, src):
            raise ValueError(f"cannot move {src!r} into itself ({dest!r})")
        with self.transaction() as conn:
            raw = _raw(conn)
            replaced = _paths_under(raw, "hash_cache", dest)
            moved = _paths_under(raw, "hash_cache", src)
            for table in ("base", "hash_cache"):
                _delete_paths(conn, table, [dest], subtree=True)
                raw.execute(
                    f"UPDATE {table} SET path = ? || substr(path, ?) WHERE {SUBTREE}",
                    (dest, len(src) + 1, *subtree_params(src)),
                )
        # The loaded cache follows the same rows, so the next scan reads no table again.
        with self._hashes_lock:
            hashes = self._hashes
            if hashes is not None:
                for path in replaced:
                    hashes.pop(path, None)
                for path in moved:
                    entry = hashes.pop(path, None)
                    if entry is not None:
                        hashes[dest + path[len(src) :]] = entry

    def base_count(self) -> int:
        with self.read() as conn:
            return conn.execute(select(func.count()).select_from(s.base)).scalar_one()

    def has_base(self) -> bool:
        """True when any base row exists: one index probe, where a count reads them all."""
        with self.read() as conn:
            return _raw(conn).execute("SELECT 1 FROM base LIMIT 1").fetchone() is not None

    def base_files(self) -> int:
        """How many files the base holds (what a scoped sync's guards judge deletes by)."""
        with self.read() as conn:
            sql = "SELECT count(*) FROM base WHERE kind = ?"
            return _raw(conn).execute(sql, (Kind.FILE.value,)).fetchone()[0]

    # -- remote mirror (the change feed's tree) -------------------------------------------

    def remote_tree(self, prefixes: Iterable[str] | None = None) -> dict[str, RemoteNode]:
        """The remote tree as of the stored cursor; with ``prefixes``, only the rows at
        those paths and below them (``rows_under``): a scoped sync reads its scope only."""
        sql = f"SELECT {', '.join(_REMOTE_COLS)} FROM remote"
        rows = self.rows_under(sql, prefixes)
        kinds = _KINDS
        with _gc_paused():
            return {r[0]: RemoteNode(r[0], kinds[r[1]], r[2], r[3], r[4], r[5]) for r in rows}

    def remote_files(self) -> int:
        """How many files the mirror holds (what a scoped sync's guards judge deletes by)."""
        with self.read() as conn:
            sql = "SELECT count(*) FROM remote WHERE kind = ?"
            return _raw(conn).execute(sql, (Kind.FILE.value,)).fetchone()[0]

    def apply_remote(
        self, *, upserts: Iterable[RemoteNode], deletes: Iterable[str], cursor: int
    ) -> None:
        """Apply one feed page and its cursor in one commit. Deletes go first and take
        their subtrees (a deleted directory implies its descendants), then upserts."""
        rows = [
            (n.path, n.kind.value, n.size, n.modified_time, n.revision, n.hash) for n in upserts
        ]
        with self.transaction() as conn:
            _delete_paths(conn, "remote", list(deletes), subtree=True)
            _raw(conn).executemany(_upsert_sql("remote", _REMOTE_COLS), rows)
            self._put_meta(conn, {MetaKey.CURSOR: str(cursor)})

    def reset_remote(self, *, drop_base: bool) -> None:
        """Forget the mirror and the cursor (read the feed from 0 again). With
        ``drop_base`` (after ``revision_obsoleted``) the base goes too and the next sync
        is a merge, so the reset itself can never cause a delete. One commit."""
        with self.transaction() as conn:
            conn.execute(s.remote.delete())
            values: dict[str, str | None] = {MetaKey.CURSOR: None}
            if drop_base:
                conn.execute(s.base.delete())
                values[MetaKey.MERGE_PENDING] = "1"
            self._put_meta(conn, values)

    # -- meta --------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.read() as conn:
            return self._meta(conn, key)

    def set_meta(self, key: str, value: str | None) -> None:
        with self.transaction() as conn:
            self._put_meta(conn, {key: value})

    def set_metas(self, values: Mapping[str, str | None]) -> None:
        """Several meta values in one commit, so they never disagree after a crash."""
        with self.transaction() as conn:
            self._put_meta(conn, values)

    @staticmethod
    def _meta(conn: Connection, key: str) -> str | None:
        return conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).scalar()

    @staticmethod
    def _put_meta(conn: Connection, values: Mapping[str, str | None]) -> None:
        stmt = insert(s.meta)
        stmt = stmt.on_conflict_do_update(
            index_elements=[s.meta.c.key], set_={"value": stmt.excluded.value}
        )
        conn.execute(stmt, [{"key": str(k), "value": v} for k, v in values.items()])

    def get_json(self, key: str) -> Any:
        raw = self.get_meta(key)
        return None if raw is None else json.loads(raw)

    def set_json(self, key: str, value: Any) -> None:
        self.set_meta(key, None if value is None else json.dumps(value, sort_keys=True))

    # -- hash cache (implements syncd.local.scan.HashCache) ------------------------------

    def lookup(self, path: str, sig: StatSig) -> str | None:
        """The cached hash of ``path`` if its stat is exactly ``sig``, else None.

        The scanner calls this once per file, so it takes no lock: the whole cache is
        loaded into a dict once (``load_hashes``), and a dict read is atomic. A stale
        entry cannot mislead, since it matches only the stat it was read under.
        """
        hashes = self._hashes
        if hashes is None:
            hashes = self.load_hashes()
        entry = hashes.get(path)
        if entry is None or entry[0] != sig:
            return None
        return entry[1]

    def load_hashes(self) -> dict[str, _CachedHash]:
        """Load the hash cache into memory (one query) unless it is loaded already."""
        with self._hashes_lock:
            if self._hashes is None:
                with self.read() as conn:
                    sql = f"SELECT {', '.join(_HASH_COLS)} FROM hash_cache"
                    rows = _raw(conn).execute(sql).fetchall()
                self._hashes = {r[0]: ((r[1], r[2], r[3], r[4]), r[5]) for r in rows}
            return self._hashes

    def store_hashes(self, records: Iterable[HashRecord]) -> None:
        """Remember hashes in one transaction."""
        rows = [
            (r.path, r.sig.size, r.sig.mtime_ns, r.sig.inode, r.sig.ctime_ns, r.hash)
            for r in records
        ]
        if not rows:
            return
        with self.transaction() as conn:
            _raw(conn).executemany(_upsert_sql("hash_cache", _HASH_COLS), rows)
        with self._hashes_lock:
            if self._hashes is not None:
                self._hashes.update((r[0], (r[1:5], r[5])) for r in rows)

    def drop_hashes(self, paths: Iterable[str], *, subtree: bool = False) -> None:
        """Forget cached hashes of paths that are gone (with ``subtree``, below them too)."""
        paths = list(paths)
        if not paths:
            return
        with self.transaction() as conn:
            _delete_paths(conn, "hash_cache", paths, subtree=subtree)
        with self._hashes_lock:
            self._hashes = None  # reload on next lookup: simpler than matching subtrees

    # -- meta: lineage, cursor, merge, capabilities, last sync ----------------------

    def bind(self, server: str, workspace_id: str, folder: Path | str) -> None:
        """Record which triple this database serves on first use (and mark the first
        sync a merge); afterwards refuse a database that belongs to another triple."""
        wanted = s.Lineage(canonical_server(server), workspace_id, str(canonical_folder(folder)))
        with self.transaction() as conn:
            known = self._lineage(conn)
            if known is None:
                self._put_meta(
                    conn,
                    {
                        MetaKey.SERVER_URL: wanted.server_url,
                        MetaKey.WORKSPACE_ID: wanted.workspace_id,
                        MetaKey.LOCAL_FOLDER: wanted.local_folder,
                        MetaKey.MERGE_PENDING: "1",
                    },
                )
            elif known != wanted:
                raise UsageError(
                    f"the state database {self.path} belongs to {known.server_url} "
                    f"workspace {known.workspace_id} folder {known.local_folder}",
                    hint="pass the --state-dir that belongs to this folder",
                )

    def lineage(self) -> s.Lineage | None:
        with self.read() as conn:
            return self._lineage(conn)

    def _lineage(self, conn: Connection) -> s.Lineage | None:
        server = self._meta(conn, MetaKey.SERVER_URL)
        if server is None:
            return None
        workspace = self._meta(conn, MetaKey.WORKSPACE_ID) or ""
        return s.Lineage(server, workspace, self._meta(conn, MetaKey.LOCAL_FOLDER) or "")

    def folder_id(self) -> str | None:
        """The id of the folder's root marker; None before the first sync wrote one."""
        return self.get_meta(MetaKey.FOLDER_ID)

    def set_folder_id(self, folder_id: str) -> None:
        self.set_meta(MetaKey.FOLDER_ID, folder_id)

    def get_cursor(self) -> int | None:
        """The feed revision the base tree is consistent with; None: read from 0."""
        raw = self.get_meta(MetaKey.CURSOR)
        return None if raw is None else int(raw)

    def set_cursor(self, revision: int | None) -> None:
        self.set_meta(MetaKey.CURSOR, None if revision is None else str(revision))

    def is_merge_pending(self) -> bool:
        """True when the next sync must merge (first sync, or a reset after a 410)."""
        return self.get_meta(MetaKey.MERGE_PENDING) == "1"

    def start_reset(self) -> None:
        """After ``revision_obsoleted``: forget the cursor and make the next sync a merge,
        in one commit, so a crash cannot leave a reset half recorded."""
        self.set_metas({MetaKey.CURSOR: None, MetaKey.MERGE_PENDING: "1"})

    def finish_merge(self, cursor: int | None) -> None:
        """The merge converged: store its cursor and resume three-way sync, in one commit."""
        value = None if cursor is None else str(cursor)
        self.set_metas({MetaKey.CURSOR: value, MetaKey.MERGE_PENDING: None})

    def capabilities(self) -> dict[str, Any] | None:
        """The last ``/capabilities`` answer seen; None for a base-only server or never."""
        return self.get_json(MetaKey.CAPABILITIES)

    def set_capabilities(self, capabilities: Mapping[str, Any] | None) -> None:
        self.set_json(MetaKey.CAPABILITIES, None if capabilities is None else dict(capabilities))

    def record_sync(self, result: Mapping[str, Any], *, time: str | None = None) -> None:
        """Store when the last sync ended and its summary (counts, exit code)."""
        self.set_metas(
            {
                MetaKey.LAST_SYNC_TIME: time or now_iso(),
                MetaKey.LAST_SYNC_RESULT: json.dumps(dict(result), sort_keys=True),
            }
        )

    def last_sync(self) -> s.LastSync | None:
        with self.snapshot() as conn:
            time = self._meta(conn, MetaKey.LAST_SYNC_TIME)
            raw = self._meta(conn, MetaKey.LAST_SYNC_RESULT)
        if time is None:
            return None
        return s.LastSync(time, json.loads(raw) if raw else {})


_BASE_COLS = tuple(c.name for c in s.base.columns)
_REMOTE_COLS = tuple(c.name for c in s.remote.columns)
_HASH_COLS = tuple(c.name for c in s.hash_cache.columns)
_CachedHash = tuple[tuple[int, int, int, int], str]  # (size, mtime_ns, inode, ctime_ns), hash

SUBTREE = "path = ? OR (path >= ? AND path < ?)"
"""A path and its subtree, by the path index: '0' is the byte after '/', so the range
``p/`` .. ``p0`` holds exactly the paths below ``p``. Bind ``subtree_params(p)``."""


def subtree_params(path: str) -> tuple[str, str, str]:
    """The parameters of ``SUBTREE`` for ``path``."""
    return (path, path + "/", path + "0")


def _upsert_sql(table: str, cols: tuple[str, ...]) -> str:
    """``INSERT .. ON CONFLICT(path) DO UPDATE`` for a table keyed by its first column."""
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    marks = ", ".join("?" for _ in cols)
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) "
        f"ON CONFLICT({cols[0]}) DO UPDATE SET {sets}"
    )


def _raw(conn: Connection) -> Any:
    """The sqlite3 connection under ``conn``, inside the same transaction: for bulk rows,
    where SQLAlchemy's per-row parameter processing would cost more than SQLite does."""
    return conn.connection.driver_connection


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic collector while building many acyclic values: its passes over a
    growing heap would otherwise cost as much as the building itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _outermost(prefixes: Iterable[str]) -> list[str]:
    """The prefixes that lie below no other one: the rest add no rows."""
    wanted = set(prefixes)
    return sorted(p for p in wanted if not any(a in wanted for a in ancestors(p)))


def _paths_under(raw: Any, table: str, path: str) -> list[str]:
    """``path`` and the paths below it that ``table`` holds (one search of its index)."""
    sql = f"SELECT path FROM {table} WHERE {SUBTREE}"
    return [r[0] for r in raw.execute(sql, subtree_params(path))]


def _delete_paths(conn: Connection, table: str, paths: list[str], *, subtree: bool) -> None:
    """Delete rows by path; with ``subtree``, each path's ``SUBTREE`` too."""
    raw = _raw(conn)
    if subtree:
        raw.executemany(f"DELETE FROM {table} WHERE {SUBTREE}", [subtree_params(p) for p in paths])
    else:
        raw.executemany(f"DELETE FROM {table} WHERE path = ?", [(p,) for p in paths])
