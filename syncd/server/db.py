"""The one module that knows the database engine: SQLite today, any SQLAlchemy URL later.

1. ``open_database`` takes a URL; for SQLite it turns on WAL, foreign keys, a busy timeout
   and ``synchronous=FULL``, so a 2xx answer means the change is on disk.
2. ``Database.write()`` is one transaction that holds the write lock from its first statement
   (``BEGIN IMMEDIATE`` on SQLite), behind a per-process lock, so writers in this process
   never meet ``SQLITE_BUSY`` and writers in other processes (``syncd admin``) wait their turn.
3. ``Database.read()`` is one snapshot: every statement inside sees the same committed state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from syncd.errors import UsageError
from syncd.server.schema import metadata

BUSY_TIMEOUT_MS = 30_000


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


class Database:
    """An engine plus the discipline of PROMISES 2 and 3 above."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock()

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
