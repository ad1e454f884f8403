"""Is this process fit to serve? The answer of ``GET /healthz`` (no HTTP here).

1. The database must answer a trivial read of a real table (``SELECT 1`` alone never
   touches the file or the server's locks) within ``TIMEOUT`` seconds; the blob and
   upload folders under ``--data-dir`` must be there (a shared file system that went
   away takes a process out of the load balancer, as a lost database does).
2. A check runs on a daemon thread of its own, never the requests' pool: a database or
   disk that hangs costs one thread, and while that check still waits the next one
   answers "unhealthy" at once instead of queueing behind it.
3. A draining process (SIGTERM received) is unhealthy, so a balancer stops sending to it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy import literal, select

from syncd.server.db import Database
from syncd.server.schema import accounts
from syncd.server.settings import ServerSettings

TIMEOUT = 2.0  # seconds a database gets to answer; health checkers time out at 5 s or so


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    problem: str = ""  # one line for the 503 answer: what is wrong, never a secret


class HealthCheck:
    """Runs the checks of PROMISES 1 to 3 for one process."""

    def __init__(self, db: Database, settings: ServerSettings, timeout: float = TIMEOUT) -> None:
        self.db = db
        self.settings = settings
        self.timeout = timeout
        self.draining = False
        self._pending: asyncio.Future[str] | None = None
        self._query = select(literal(1)).select_from(accounts).limit(1)

    async def check(self) -> Health:
        if self.draining:
            return Health(False, "the server is shutting down")
        if self._pending is not None and not self._pending.done():
            return Health(False, "the previous check has not finished yet")
        self._pending = probe = _in_daemon_thread(self._probe)
        try:
            problem = await asyncio.wait_for(asyncio.shield(probe), self.timeout)
        except TimeoutError:
            return Health(False, f"no answer within {self.timeout:g} s")
        return Health(not problem, problem)

    def _probe(self) -> str:
        """What is wrong, or "" (runs in a thread: a hung disk or database blocks only it)."""
        for folder in (self.settings.blob_dir, self.settings.upload_dir):
            if not folder.is_dir():
                return f"the data directory has no {folder.name}/ folder"
        try:
            with self.db.read() as conn:
                conn.execute(self._query).all()
        except Exception as exc:  # which error does not matter; its class is named
            return f"the database does not answer ({type(exc).__name__})"
        return ""


def _in_daemon_thread(fn: Callable[[], str]) -> asyncio.Future[str]:
    """``fn()`` on a daemon thread of its own: one that never returns cannot delay exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def settle(value: str) -> None:
        if not future.done():
            future.set_result(value)

    def run() -> None:
        try:
            value = fn()
        except Exception as exc:  # _probe catches its own; this is the last guard
            value = f"the check failed ({type(exc).__name__})"
        with suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(settle, value)

    threading.Thread(target=run, name="syncd-health", daemon=True).start()
    return future
