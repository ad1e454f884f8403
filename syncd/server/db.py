"""The one module that knows the database engine: SQLite today, any SQLAlchemy URL later.

1. ``open_database`` takes a URL; for SQLite it turns on WAL, foreign keys, a busy timeout
   and ``synchronous=FULL``, so a 2xx answer means the change is on disk.
2. ``Database.write()`` is one transaction that holds the write lock from its first statement
   (``BEGIN IMMEDIATE`` on SQLite), behind a per-process lock, so writers in this process
   never meet ``SQLITE_BUSY`` and writers in other processes (``syncd admin``) wait their turn.
3. ``Database.read()`` is one snapshot: every statement inside sees the same committed state.
4. ``Database.grouped(fn)`` runs ``fn`` in a shared write transaction (group commit): the
   mutations that queued while the previous one committed run one after another, each in
   its own savepoint, and share one commit, so N small writes pay one WAL fsync. Each
   caller returns or raises only after that commit; a mutation that raises is rolled back
   alone, and a failed commit fails every mutation of the group.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event

from syncd.errors import UsageError
from syncd.server.schema import metadata

BUSY_TIMEOUT_MS = 30_000
GROUP_MAX = 64  # mutations per shared commit; bounds how long one commit keeps callers waiting

T = TypeVar("T")


def default_url(data_dir: Path) -> str:
    """The database of a data directory when ``--database-url`` is not given."""
    return f"sqlite:///{data_dir / 'syncd.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event decide how a transaction starts (deferred or immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")


@dataclass(eq=False)
class _Mutation(Generic[T]):
    """One caller's share of a group commit; ``is_done`` only once the commit is over."""

    fn: Callable[[Connection], T]
    result: T | None = None
    error: BaseException | None = None
    is_done: bool = False


class Database:
    """An engine plus the discipline of PROMISES 2 to 4 above."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock()
        self._queue_changed = threading.Condition()  # guards _queue, _is_leading, is_done
        self._queue: list[_Mutation[Any]] = []
        self._is_leading = False

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        with self._write_lock, self.engine.connect() as conn:
            conn.info["write"] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info["write"] = False

    def grouped(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` inside a shared write transaction; return once it is committed.

        One caller at a time leads: it commits every queued mutation, its own included, and
        wakes the others as soon as their group is committed. A 2xx answered after this
        returns therefore means the change is on disk, as with ``write()``.
        """
        mutation: _Mutation[T] = _Mutation(fn)
        with self._queue_changed:
            self._queue.append(mutation)
            while self._is_leading and not mutation.is_done:
                self._queue_changed.wait()
            must_lead = not mutation.is_done
            self._is_leading = self._is_leading or must_lead
        if must_lead:
            try:
                with self._write_lock:  # also keeps ``write()`` transactions out
                    while not mutation.is_done:  # a full group may have left this one queued
                        self._commit_group()
            finally:
                with self._queue_changed:
                    self._is_leading = False
                    self._queue_changed.notify_all()
        if mutation.error is not None:
            raise mutation.error
        return mutation.result  # type: ignore[return-value]

    def _commit_group(self) -> None:
        """Run queued mutations in one transaction (the write lock is held)."""
        with self._queue_changed:
            group, self._queue = self._queue[:GROUP_MAX], self._queue[GROUP_MAX:]
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = True
                try:
                    with conn.begin():
                        for mutation in group:
                            try:
                                with conn.begin_nested():
                                    mutation.result = mutation.fn(conn)
                            except Exception as exc:  # this caller's refusal, or its bug
                                mutation.error = exc
                finally:
                    conn.info["write"] = False
        except BaseException as exc:  # the commit itself failed: nothing of the group holds
            for mutation in group:
                mutation.result, mutation.error = None, exc
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and the like stop the leader too
        finally:
            with self._queue_changed:
                for mutation in group:
                    mutation.is_done = True
                self._queue_changed.notify_all()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read-only snapshot; never takes the write lock."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str) -> Database:
    """Connect, configure and create the tables that are missing."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {
            "connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            "pool_size": 8,
            "max_overflow": 56,
        }
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:
        raise UsageError(f"cannot use database {_redact(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    db = Database(engine)
    try:
        with db.write() as conn:
            metadata.create_all(conn)
    except Exception as exc:
        engine.dispose()
        raise UsageError(f"cannot open database {_redact(url)}: {exc}") from exc
    return db


def _redact(url: str) -> str:
    """A database URL without its password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, creds = head.partition("://")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}"
