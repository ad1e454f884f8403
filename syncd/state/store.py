"""The door to the state database (SQLite through the ``sqlite3`` module): its connections
and transactions, and the base tree. Every other table's job hangs off the ``Store`` in a
module of its own and writes in its transactions: ``store.meta`` (lineage, cursor, merge,
capabilities, last sync; ``meta.py``), ``store.remote`` (the feed's mirror; ``mirror.py``),
``store.hashes`` (the hash cache; ``hashes.py``) and the small records (``records.py``).

1. WAL mode: ``syncd status`` reads while the daemon writes, and neither blocks the other.
2. ``synchronous=FULL``: a commit is on disk before the call returns. In WAL mode NORMAL
   survives a killed process but may roll back the last commits on a power cut; the
   journal's promise ("the intent is stored before the effect happens") and the base's
   ("never older than the disk it describes") need FULL. Writers batch rows into one
   transaction so the fsync is paid per group, not per file.
3. Writes run in ``BEGIN IMMEDIATE`` transactions, serialised by one lock in this process
   and by SQLite's busy timeout across processes, so a writer never fails half way.
4. Plain ``sqlite3`` connections, statements and rows: no SQL toolkit is loaded to open
   the state, so a no-op sync does not pay for one at every start. Connections are kept
   for reuse, one per concurrent user.
5. A database written by a newer syncd is refused with a ``UsageError``; nothing is changed.
6. ``open_copy`` (``--dry-run``) plans on a private temporary copy: it reads the file
   without creating, locking or writing anything next to it, and whatever the dry run
   writes (feed pages, a reset, hashes) vanishes with the copy.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from syncd.errors import UsageError
from syncd.paths import is_within, is_within_any, outermost
from syncd.planner.trees import BaseNode, Kind, shared
from syncd.scope import split
from syncd.state import schema as s
from syncd.state.hashes import CachedHashes
from syncd.state.meta import Meta, read_meta, write_meta
from syncd.state.mirror import RemoteMirror
from syncd.state.records import (
    Conflicts,
    DaemonStatusRow,
    DirtyPaths,
    ItemErrors,
    JournalRows,
    UploadSessions,
    delete_item_errors,
)
from syncd.state.scan_rows import ScanRows
from syncd.state.schema import MetaKey
from syncd.state.sql import (
    KINDS,
    SUBTREE,
    Connection,
    delete_paths,
    gc_paused,
    raw,
    rename_subtree,
    subtree_params,
    upsert_sql,
)

BUSY_TIMEOUT_S = 30.0


def _prepared(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.isolation_level = None  # we issue BEGIN ourselves
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class _Connections:
    """The store's sqlite3 connections: idle ones are reused, new ones made on demand; a
    ``shared`` one (the private copy) is every caller's."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], *, shared: sqlite3.Connection | None
    ) -> None:
        self._connect = connect
        self._shared = shared
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._trace: Callable[[str], None] | None = None

    def get(self) -> sqlite3.Connection:
        if self._shared is not None:
            return self._shared
        with self._lock:
            if self._idle:
                return self._idle.pop()
        conn = _prepared(self._connect())
        conn.set_trace_callback(self._trace)
        return conn

    def put(self, conn: sqlite3.Connection) -> None:
        """Take ``conn`` back; a transaction its user left open is rolled back (never the
        shared one's: another thread's transaction may be running on it)."""
        if conn is self._shared:
            return
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        with self._lock:
            self._idle.append(conn)

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Hand every statement to ``callback`` from now on (idle connections are renewed)."""
        self._trace = callback
        if self._shared is not None:
            self._shared.set_trace_callback(callback)
        self.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def dispose(self) -> None:
        self.close()
        if self._shared is not None:
            self._shared.close()


class Store:
    """One open state database. Safe to share between threads; cheap to keep open."""

    def __init__(self, db_path: Path, connections: _Connections, *, is_copy: bool = False) -> None:
        self.path = db_path
        self.is_copy = is_copy  # a private temporary copy: writes never reach ``path``
        self._connections = connections
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._close_hooks: list[Callable[[], None]] = []
        # each other table's job, in this store's transactions
        self.meta = Meta(self)
        self.remote = RemoteMirror(self)
        self.hashes = CachedHashes(self)
        self.scan_rows = ScanRows(self)
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

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)

        connections = _Connections(connect, shared=None)
        store = cls(db_path, connections)
        try:
            store._prepare()
        except sqlite3.DatabaseError as error:
            connections.dispose()
            raise UsageError(
                f"cannot open the state database {db_path}: {error}",
                hint="move the file away to start over (the next sync is then a merge)",
            ) from error
        except BaseException:
            connections.dispose()
            raise
        return store

    @classmethod
    def open_copy(cls, db_path: Path) -> Store:
        """A private copy of the database (an empty one when there is none yet) for a dry
        run: nothing is created, locked or written in the state directory.

        The copy is SQLite's private temporary database (the empty file name): pages past
        its small cache go to a temp file that is deleted on close, so a dry run over a
        million files does not hold their walk, base and mirror in memory (in ``:memory:``
        the dry run of a first sync of 1,000,000 files peaked at 931 MiB).

        The file is read as ``immutable`` when no writer has a ``-wal`` open next to it,
        since opening a WAL database even ``mode=ro`` creates the ``-wal`` and ``-shm``
        files; the copy counts only when the file's stat did not move while it was read.
        While a writer is active its ``-wal`` exists and a ``mode=ro`` reader sees its
        commits without creating anything. The copy takes the schema checks of ``open``.
        """
        db_path = Path(db_path)
        copy = sqlite3.connect("", check_same_thread=False)
        try:
            if db_path.exists():
                _copy_into(db_path, copy)
        except sqlite3.DatabaseError as error:
            copy.close()
            raise UsageError(
                f"cannot open the state database {db_path}: {error}",
                hint="move the file away to start over (the next sync is then a merge)",
            ) from error
        # One connection shared by every thread: a second one would see another database.
        connections = _Connections(lambda: copy, shared=_prepared(copy))
        store = cls(db_path, connections, is_copy=True)
        try:
            store._prepare()
        except sqlite3.DatabaseError as error:
            connections.dispose()
            raise UsageError(f"cannot open the state database {db_path}: {error}") from error
        except BaseException:
            connections.dispose()
            raise
        return store

    def _prepare(self) -> None:
        """Check the version with a plain read (so ``status`` never waits for the
        daemon's write lock); take the write lock only to create missing tables or to
        move an older layout on (``schema.MIGRATIONS``)."""
        with self.read() as conn:
            tables = {
                row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            version = read_meta(conn, MetaKey.SCHEMA_VERSION) if "meta" in tables else None
        if "meta" in tables:
            if version is None or not version.isdigit():
                raise UsageError(f"{self.path} is not a syncd state database (no version)")
            if int(version) > s.SCHEMA_VERSION:
                raise UsageError(
                    f"the state database {self.path} has schema version {version}, newer "
                    f"than this syncd understands ({s.SCHEMA_VERSION})",
                    hint="upgrade syncd, or pass another --state-dir",
                )
        is_old = version is not None and int(version) < s.SCHEMA_VERSION
        if is_old or not tables.issuperset(t.name for t in s.TABLES):
            with self.transaction() as conn:
                _create(conn)

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
            self._connections.dispose()

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
        with self._write_lock:
            conn = self._connections.get()
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._local.conn, self._local.write = conn, True
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                else:
                    conn.execute("COMMIT")
                finally:
                    self._local.conn = None
            finally:
                self._connections.put(conn)

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A consistent read of several tables (for ``status``); never blocks a writer."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        conn = self._connections.get()
        try:
            conn.execute("BEGIN")
            self._local.conn, self._local.write = conn, False
            try:
                yield conn
            finally:
                self._local.conn = None
                conn.execute("ROLLBACK")
        finally:
            self._connections.put(conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for one read; inside ``transaction()`` or ``snapshot()`` on this
        thread, theirs (a read sees the writes of the transaction it is part of)."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        conn = self._connections.get()
        try:
            yield conn
        finally:
            self._connections.put(conn)

    def trace_sql(self, callback: Callable[[str], None] | None) -> None:
        """Hand every SQL statement this store runs from now on to ``callback`` (tests)."""
        self._connections.trace(callback)

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
        kinds, one = KINDS, shared
        with gc_paused():
            return {
                (p := one(r[0])): BaseNode(
                    p, kinds[r[1]], r[2], r[3] and one(r[3]), r[4], r[5], r[6], r[7] and one(r[7])
                )
                for r in rows
            }

    def rows_under(self, sql: str, prefixes: Iterable[str] | None) -> Iterator[Any]:
        """The rows of ``sql`` (a ``SELECT .. FROM <table>`` with no WHERE); with
        ``prefixes``, only those whose path is a prefix or lies below one.

        The whole table comes row by row, never as one list: the caller turns each row
        into a node as it arrives, so the rows of a million files are never all alive
        at once. Consume it at once (the read stays open until it is exhausted).

        An ``exact`` entry (``syncd.scope``) is its path alone, read in chunks of point
        reads. Each prefix ``p`` is one search of the path index for ``p`` and its subtree
        (``sql.SUBTREE``), so the cost follows the rows returned, not the table's size.
        The prefixes are read in one snapshot, so a writer in between cannot make them
        disagree.
        """
        if prefixes is None:
            with self.read() as conn:
                yield from raw(conn).execute(sql)
            return
        subtrees, alone = split(prefixes)
        rows: list[Any] = []
        with self.snapshot() as conn:
            cursor = raw(conn)
            wanted = outermost(subtrees)
            for p in wanted:
                rows += cursor.execute(f"{sql} WHERE {SUBTREE}", subtree_params(p)).fetchall()
            single = sorted({p for p in alone if not is_within_any(p, wanted)})
            for i in range(0, len(single), 500):
                chunk = single[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                rows += cursor.execute(f"{sql} WHERE path IN ({marks})", chunk).fetchall()
        yield from rows

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
                raw(conn).executemany(upsert_sql("base", _BASE_COLS), rows)
                delete_item_errors(conn, [r[0] for r in rows])

    def drop_base(self, paths: Iterable[str], *, subtree: bool = False) -> None:
        """Delete base rows (with ``subtree``, also every row below each path)."""
        paths = list(paths)
        if not paths:
            return
        with self.transaction() as conn:
            delete_paths(conn, "base", paths, subtree=subtree)
            delete_item_errors(conn, paths)

    def move_base(self, src: str, dest: str) -> None:
        """Rename ``src`` and its subtree to ``dest`` in the base and the hash cache, in one
        commit, so a move costs no re-transfer and no rehash; rows already at ``dest`` are
        replaced."""
        if is_within(dest, src):
            raise ValueError(f"cannot move {src!r} into itself ({dest!r})")
        with self.transaction() as conn:
            rename_subtree(conn, "base", src, dest)
            self.hashes.move(src, dest)

    def base_count(self) -> int:
        with self.read() as conn:
            return conn.execute("SELECT count(*) FROM base").fetchone()[0]

    def has_base(self) -> bool:
        """True when any base row exists: one index probe, where a count reads them all."""
        with self.read() as conn:
            return raw(conn).execute("SELECT 1 FROM base LIMIT 1").fetchone() is not None

    def base_files(self) -> int:
        """How many files the base holds (what a scoped sync's guards judge deletes by)."""
        with self.read() as conn:
            sql = "SELECT count(*) FROM base WHERE kind = ?"
            return raw(conn).execute(sql, (Kind.FILE.value,)).fetchone()[0]


_BASE_COLS = tuple(c.name for c in s.base.columns)
_COPY_ATTEMPTS = 5


def _create(conn: sqlite3.Connection) -> None:
    """Move an older layout on, one version at a time, and create what is missing; in
    the caller's transaction, so a crash leaves the old layout whole."""

    def tables() -> set[str]:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    # the version again, under the write lock: another process may have moved it on
    version = read_meta(conn, MetaKey.SCHEMA_VERSION) if "meta" in tables() else None
    steps = [] if version is None else list(range(int(version), s.SCHEMA_VERSION))
    for step in steps:
        for sql in s.MIGRATIONS[step].before:
            conn.execute(sql)
    created = tables()
    for table in s.TABLES:  # only the missing ones
        if table.name not in created:
            conn.execute(table.create_sql)
            for sql in table.index_sql:
                conn.execute(sql)
    for sql in s.TRIGGERS:
        conn.execute(sql)
    for step in steps:
        for sql in s.MIGRATIONS[step].after:
            conn.execute(sql)
    if version is None or steps:
        write_meta(conn, {MetaKey.SCHEMA_VERSION: str(s.SCHEMA_VERSION)})


def _copy_into(db_path: Path, memory: sqlite3.Connection) -> None:
    """Copy the database at ``db_path`` into ``memory`` without writing next to it."""
    wal = db_path.with_name(db_path.name + "-wal")
    uri = db_path.resolve().as_uri()
    for _ in range(_COPY_ATTEMPTS):
        if wal.exists():
            break  # a writer is active: read through its -wal (below)
        before = _stat_key(db_path)
        source = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
        try:
            source.backup(memory)
        finally:
            source.close()
        if not wal.exists() and _stat_key(db_path) == before:
            return
    source = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        source.backup(memory)
    finally:
        source.close()


def _stat_key(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
