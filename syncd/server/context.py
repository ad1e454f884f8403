"""What every request handler shares: settings, database, blob store, wake-ups.

1. Database work runs in worker threads (``run``); the event loop never blocks on SQLite.
2. ``authenticate`` answers from a cache of keys already seen (keys are never revoked), so
   a request costs a database round trip only for its own work.
3. ``changed`` is called after a commit: it wakes long polls, and when blobs were freed it
   has them collected in the background, one collection per burst of freeing writes (each
   collection is a write transaction with its own fsync; the answer does not wait for it).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import weakref
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Protocol, TypeVar

import anyio.to_thread

from syncd.server import auth, uploads
from syncd.server.blobs import Blobs, on_disk
from syncd.server.db import ChangeListener, Database, open_database
from syncd.server.feed import FeedEvents
from syncd.server.health import HealthCheck
from syncd.server.metrics import ServerMetrics
from syncd.server.service.errors import Unauthorized
from syncd.server.settings import ServerSettings

T = TypeVar("T")
log = logging.getLogger("syncd.server")


class HasHeaders(Protocol):
    """What ``authenticate`` needs of a request: its headers (no HTTP framework here)."""

    @property
    def headers(self) -> Mapping[str, str]: ...


class ServerContext:
    """The long-lived parts of one server process."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.base_only = settings.base_only
        settings.upload_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        settings.backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.db: Database = open_database(settings.database_url)
        self.blobs: Blobs = on_disk(settings.blob_dir)
        self.notifier = FeedEvents()
        self.metrics = ServerMetrics()
        self.metrics.watch_pool(self.db.engine)
        self.db.on_group = self.metrics.observe_commit
        self.health = HealthCheck(self.db, settings)
        self._keys: dict[str, str] = {}
        self._active_marked: dict[str, str] = {}
        self._upload_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self.limiter = anyio.CapacityLimiter(32)
        self.upload_hashes = uploads.RunningHashes()
        self._collector: asyncio.Task[None] | None = None
        self._must_collect = False
        self._listener: ChangeListener | None = None

    def listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """On PostgreSQL, wake this process's long polls on commits of the other processes."""
        if self.db.dialect != "postgresql":
            return

        def on_change(workspace_id: str | None) -> None:
            with suppress(RuntimeError):  # the loop closed: nobody is waiting any more
                loop.call_soon_threadsafe(self._heard, workspace_id)

        self._listener = ChangeListener(self.db.engine, on_change)
        self._listener.start()

    def _heard(self, workspace_id: str | None) -> None:
        if workspace_id is None:
            self.notifier.wake_all()
        else:
            self.notifier.notify(workspace_id)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def authenticate(self, request: HasHeaders) -> str:
        """The caller's account id; ``Unauthorized`` for a missing or unknown key."""
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthorized("missing Bearer API key")
        digest = auth.hash_key(key)
        account_id = self._keys.get(digest)
        if account_id is None:
            account_id = await self.run(self._lookup, key)
            self._keys[digest] = account_id
        day = auth.today()
        if self._active_marked.get(account_id) != day:
            await self.run(self._mark_active, account_id)
            self._active_marked[account_id] = day
        return account_id

    def _lookup(self, key: str) -> str:
        with self.db.read() as conn:
            return auth.account_for_key(conn, key)

    def _mark_active(self, account_id: str) -> None:
        with self.db.write() as conn:
            auth.mark_active(conn, account_id)

    def upload_lock(self, upload_id: str) -> asyncio.Lock:
        lock = self._upload_locks.get(upload_id)
        if lock is None:
            lock = asyncio.Lock()
            self._upload_locks[upload_id] = lock
        return lock

    async def changed(self, workspace_id: str, freed: bool = False) -> None:
        """After a commit: wake the workspace's long polls; collect blobs if some were freed."""
        self.notifier.notify(workspace_id)
        if freed:
            self.collect_soon()

    def collect_soon(self) -> None:
        """Have unreferenced blobs collected in the background (also once a pin is gone)."""
        self._must_collect = True
        if self._collector is None or self._collector.done():
            self._collector = asyncio.create_task(self._collect_while_freed())

    async def _collect_while_freed(self) -> None:
        """Collect until no write freed a blob since the last collection began."""
        while self._must_collect:
            self._must_collect = False
            try:
                await self.run(self.collect)
            except Exception as exc:  # the timer's housekeeping collects later
                log.warning("collection failed: %s", exc)

    async def settle(self) -> None:
        """Let a running background collection finish (before the database closes)."""
        if self._collector is not None:
            await self._collector

    def collect(self) -> None:
        with self.db.write() as conn:
            self.blobs.collect(conn)

    def housekeeping(self) -> None:
        """Expired upload sessions, orphan upload files, old temp files, unreferenced blobs."""
        with self.db.write() as conn:
            for upload_id in uploads.expired(conn):
                (self.settings.upload_dir / upload_id).unlink(missing_ok=True)
            for orphan in uploads.orphan_files(conn, self.settings.upload_dir):
                if orphan.is_dir():
                    shutil.rmtree(orphan, ignore_errors=True)
                else:
                    orphan.unlink(missing_ok=True)
            self.blobs.collect(conn)
        self.blobs.sweep_temps()

    def startup(self) -> None:
        """Crash leftovers: orphan blob files, then the usual housekeeping."""
        with self.db.write() as conn:
            self.blobs.sweep_orphans(conn)
        self.housekeeping()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
        self.notifier.close()
        self.db.dispose()
