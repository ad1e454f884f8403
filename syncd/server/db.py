"""The one module that knows the database engine: SQLite today, any SQLAlchemy URL later.

1. ``open_database`` takes a URL; for SQLite it turns on WAL, foreign keys, a busy timeout
   and ``synchronous=FULL``, so a 2xx answer means the change is on disk.
2. ``Database.write()`` is one transaction that holds the write lock from its first statement
   (``BEGIN IMMEDIATE`` on SQLite), behind a per-process lock, so writers in this process
   never meet ``SQLITE_BUSY`` and writers in other processes (``syncd admin``) wait their turn.
3. ``Database.read()`` is one snapshot: every statement inside sees the same committed state.
4. ``Database.grouped(fn)`` (threads) and ``Database.submit(fn)`` (coroutines) run ``fn`` in
   a shared write transaction (group commit): one commit thread runs the mutations that
   queued while the previous group committed, one after another, each in its own
   savepoint, and commits them together, so N small writes pay one WAL fsync. Each caller
   returns or raises only after that commit; a mutation that raises is rolled back alone,
   and a failed commit fails every mutation of the group. A coroutine waits without a
   worker thread, so a burst of small writes costs no thread hops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text

from syncd.errors import UsageError
from syncd.server.compiled import Compiled
from syncd.server.schema import tombstones

BUSY_TIMEOUT_MS = 30_000
GROUP_MAX = 64  # mutations per shared commit; bounds how long one commit keeps callers waiting
# One savepoint per mutation of a group, issued on the DBAPI cursor: ``begin_nested`` built
# and compiled two statements per mutation, a third of a small PUT's time under the lock.
_SAVEPOINT = Compiled(text("SAVEPOINT mutation"))
_ROLLBACK_TO = Compiled(text("ROLLBACK TO SAVEPOINT mutation"))
_RELEASE = Compiled(text("RELEASE SAVEPOINT mutation"))

T = TypeVar("T")
log = logging.getLogger("syncd.server")
RETRIES = 3  # a mutation that lost a race with another process (``is_race``) runs again
# SQLSTATEs of a lost race between processes on PostgreSQL: deadlock, serialization
# failure, and a unique key that another process inserted first (two new equal blobs).
_RACES = {"40P01", "40001", "23505"}


def is_race(exc: BaseException) -> bool:
    """True when ``exc`` is a conflict with another process that a new attempt resolves."""
    raw = getattr(exc, "orig", None) or exc  # ``Compiled`` raises the driver's own errors
    return getattr(raw, "sqlstate", None) in _RACES


CHANNEL = "syncd_changes"  # PostgreSQL: each commit that issues a revision names its workspace
_NOTIFY = Compiled(text("SELECT pg_notify('syncd_changes', :ws)"))


def announce(conn: Connection, workspace_id: str) -> None:
    """Tell the other server processes, at commit, that ``workspace_id`` changed.

    PostgreSQL delivers a ``NOTIFY`` only when its transaction commits (and once per
    payload per transaction); SQLite has one server process, so there is no one to tell.
    """
    if conn.dialect.name == "postgresql":
        _NOTIFY.run(conn, {"ws": workspace_id})


class ChangeListener:
    """PostgreSQL ``LISTEN`` in a thread: each changed workspace id goes to ``on_change``.

    A notification only saves latency; the database stays the truth. So after every
    (re)connection ``on_change(None)`` wakes every waiter, which re-reads the database:
    a notification lost while disconnected costs a wake-up, never a change.
    """

    def __init__(self, engine: Engine, on_change: Callable[[str | None], None]) -> None:
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="syncd-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._on_change(None)
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._on_change(note.payload)
            except Exception as exc:  # the database went away: listen again shortly
                reason = scrub(_first_line(exc), self._conninfo)
                log.warning("change notifications interrupted: %s", reason)
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def insert_missing(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose key is not taken yet (``ON CONFLICT DO NOTHING``, both engines).

    On PostgreSQL a row another transaction is inserting or deleting makes this wait for
    it, so the caller then sees the winner's row, or inserts its own.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).on_conflict_do_nothing(), rows)


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
    """One caller's share of a group commit, and how to answer it once the commit is over."""

    fn: Callable[[Connection], T]
    result: T | None = None
    error: BaseException | None = None
    is_done: threading.Event | None = None  # a thread waits on this
    future: asyncio.Future[T] | None = None  # a coroutine awaits this

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class Database:
    """An engine plus the discipline of PROMISES 2 to 4 above."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # A snapshot for reads: SQLite's transactions are one; PostgreSQL's default (READ
        # COMMITTED) takes a new snapshot per statement, so reads ask for REPEATABLE READ.
        self._read_engine = (
            engine.execution_options(isolation_level="REPEATABLE READ")
            if self.dialect == "postgresql"
            else engine
        )
        self._write_lock = threading.Lock()
        self._queue_changed = threading.Condition()  # guards _queue, _committer, _is_closed
        self._queue: list[_Mutation[Any]] = []
        self._committer: threading.Thread | None = None
        self._is_closed = False
        self.on_group: Callable[[int], None] | None = None  # told each group's size (metrics)

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

        For threads; coroutines use ``submit``. A 2xx answered after this returns means
        the change is on disk, as with ``write()``.
        """
        mutation: _Mutation[T] = _Mutation(fn, is_done=threading.Event())
        self._enqueue(mutation)
        mutation.is_done.wait()  # type: ignore[union-attr]
        return mutation.outcome()

    async def submit(self, fn: Callable[[Connection], T]) -> T:
        """``grouped`` for the event loop: no worker thread waits, the loop is never blocked.

        ``fn`` runs on the commit thread. If the caller is cancelled meanwhile, the
        mutation still commits (as a thread's would); only the answer is dropped.
        """
        mutation: _Mutation[T] = _Mutation(fn, future=asyncio.get_running_loop().create_future())
        self._enqueue(mutation)
        return await mutation.future  # type: ignore[misc]

    def _enqueue(self, mutation: _Mutation[Any]) -> None:
        with self._queue_changed:
            if self._is_closed:
                raise RuntimeError("the database is closed")
            self._queue.append(mutation)
            if self._committer is None:
                self._committer = threading.Thread(
                    target=self._commit_loop, name="syncd-group-commit", daemon=True
                )
                self._committer.start()
            self._queue_changed.notify()

    def _commit_loop(self) -> None:
        """The one commit thread: whatever queued during a commit forms the next group."""
        while True:
            with self._queue_changed:
                while not self._queue and not self._is_closed:
                    self._queue_changed.wait()
                if not self._queue:
                    return  # closed, and every mutation answered
                group, self._queue = self._queue[:GROUP_MAX], self._queue[GROUP_MAX:]
            try:
                with self._write_lock:  # also keeps ``write()`` transactions out
                    self._commit_group(group)
            finally:
                _answer(group)
            if self.on_group is not None:
                self.on_group(len(group))

    def _commit_group(self, group: list[_Mutation[Any]]) -> None:
        """Run ``group`` in one transaction, each mutation in its own savepoint."""
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = True
                try:
                    with conn.begin():
                        for mutation in group:
                            for _ in range(RETRIES + 1):
                                _SAVEPOINT.run(conn, {})
                                try:
                                    mutation.result = mutation.fn(conn)
                                    mutation.error = None
                                except Exception as exc:  # this caller's refusal, or its bug
                                    mutation.error = exc
                                    _ROLLBACK_TO.run(conn, {})
                                _RELEASE.run(conn, {})
                                if mutation.error is None or not is_race(mutation.error):
                                    break
                finally:
                    conn.info["write"] = False
        except Exception as exc:  # the commit itself failed: nothing of the group holds
            for mutation in group:
                mutation.result, mutation.error = None, exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read-only snapshot; never takes the write lock."""
        with self._read_engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        """Answer what is queued, stop the commit thread, close the connections."""
        with self._queue_changed:
            self._is_closed = True
            committer = self._committer
            self._queue_changed.notify()
        if committer is not None:
            committer.join()
        self.engine.dispose()


def _answer(group: list[_Mutation[Any]]) -> None:
    """Wake each caller of a committed group: threads directly, coroutines on their loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Mutation[Any]]] = {}
    for mutation in group:
        if mutation.future is not None:
            by_loop.setdefault(mutation.future.get_loop(), []).append(mutation)
        elif mutation.is_done is not None:
            mutation.is_done.set()
    for loop, waiting in by_loop.items():
        with suppress(RuntimeError):  # a closed loop: nobody awaits these answers any more
            loop.call_soon_threadsafe(_resolve, waiting)  # one wake-up per loop and group


def _resolve(group: list[_Mutation[Any]]) -> None:
    for mutation in group:
        future = mutation.future
        if future is None or future.done():  # cancelled meanwhile
            continue
        if mutation.error is not None:
            future.set_exception(mutation.error)
        else:
            future.set_result(mutation.result)


def engine_url(url: str) -> str:
    """``postgresql://`` (and ``postgres://``) mean psycopg 3; other URLs are SQLAlchemy's."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def open_database(url: str, *, check: bool = True) -> Database:
    """Connect and configure; make a new database's schema, adopt a pre-migration one.

    With ``check`` (every command but ``admin migrate``) a schema older or newer than this
    version is ``SchemaMismatch``: only ``syncd admin migrate`` changes a live schema.
    """
    kwargs: dict[str, Any] = {"pool_size": 8, "max_overflow": 56}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    try:
        engine = create_engine(engine_url(url), pool_pre_ping=_is_postgres(url), **kwargs)
    except Exception as exc:
        raise UsageError(f"cannot use database {redact(url)}: {scrub(str(exc), url)}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        _create_private(engine.url.database)
    elif engine.dialect.name != "postgresql":
        engine.dispose()
        raise UsageError(f"unsupported database {redact(url)}: use sqlite:/// or postgresql://")
    db = Database(engine)
    try:
        with db.write() as conn:
            from syncd.server.migrate import prepare_schema

            prepare_schema(conn, check=check)
    except UsageError:
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        reason = scrub(_first_line(exc), url)
        raise UsageError(f"cannot open database {redact(url)}: {reason}") from exc
    return db


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres:"))


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]


def schema_lock(conn: Connection) -> None:
    """Serialise schema work of processes starting together (SQLite's write lock does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7395)"))


def upgrade_legacy(conn: Connection) -> None:
    """Bring tables made by an older version to the current schema (in the opening transaction).

    ``tombstones`` once kept only the latest deletion of each path, without the revision
    that created the deleted entry: its rows are kept with ``created_revision`` 0, so the
    feed reports them exactly as it did before.
    """
    inspector = inspect(conn)
    if not inspector.has_table("tombstones"):
        return
    if "created_revision" in {column["name"] for column in inspector.get_columns("tombstones")}:
        return
    conn.execute(text("CREATE TABLE tombstones_old AS SELECT * FROM tombstones"))
    conn.execute(text("DROP TABLE tombstones"))  # and its index and key, to be made anew
    tombstones.create(conn)
    conn.execute(
        text(
            "INSERT INTO tombstones (workspace_id, path, revision, type, created_revision) "
            "SELECT workspace_id, path, revision, type, 0 FROM tombstones_old"
        )
    )
    conn.execute(text("DROP TABLE tombstones_old"))


def _create_private(database: str | None) -> None:
    """Create a new SQLite file 0600 before SQLite does (it would use 0644 minus the umask).

    SQLite gives the ``-wal`` and ``-shm`` side files the mode of the database file, so
    they are private too. A database that exists keeps its mode; ``:memory:`` and URI
    names are left to SQLite.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with suppress(OSError):  # it exists (keeps its mode), or SQLite reports why it cannot
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def redact(url: str) -> str:
    """A database URL for messages: no password, neither in the user part nor the query.

    The user part ends at the last ``@`` before the host, so a password holding an
    unescaped ``@`` is hidden whole.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    main, question, query = rest.partition("?")
    at = main.rfind("@")
    if at >= 0 and ":" in main[:at]:
        user = main[:at].split(":", 1)[0]
        main = f"{user}:***@{main[at + 1 :]}"
    query = _QUERY_PASSWORD.sub(r"\1***", query)
    return f"{scheme}://{main}{question}{query}"


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's error) with every piece of ``url``'s password replaced by ``***``.

    A driver that split the URL differently may quote part of the password as a host
    name, so each ``@``-separated piece goes too.
    """
    _, sep, rest = url.partition("://")
    if not sep:
        return text
    main, _, query = rest.partition("?")
    secrets: list[str] = [match.group(2) for match in _QUERY_PASSWORD.finditer(query)]
    at = main.rfind("@")
    if at >= 0 and ":" in main[:at]:
        password = main[:at].split(":", 1)[1]
        secrets += [password, *password.split("@")]
    for secret in sorted({item for item in secrets if item}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)([^&]*)")
