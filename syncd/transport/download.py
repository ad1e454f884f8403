"""Streaming a remote file into a temp path: resumable, hashed while writing, fsynced.

1. After a broken connection the next attempt asks ``Range: bytes=N-`` and keeps the
   bytes already written only when the answer is a 206 with the same ETag starting at N;
   anything else (no ETag, base-only server, 200, another ETag, 416) starts again at 0.
2. The hash is computed over the bytes as written; ``expected_hash`` is compared at the
   end, and on any failure the temp file is removed, so no half file survives.
3. An attempt that made progress does not use up the retry budget: a long transfer over
   a bad link keeps going as long as it keeps moving.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import httpx

from syncd.errors import ConnectionLost, ItemError, PreconditionFailed, ServerUnreachable
from syncd.transport.client import Connection
from syncd.transport.errors import error_for_exception, error_for_response
from syncd.transport.models import DownloadResult
from syncd.transport.progress import Progress

BLOCK = 1024 * 1024  # bytes written and hashed at a time
MAX_ROUNDS = 100  # fresh retry budgets granted to a download that keeps making progress
HASH_THREADS = min(4, os.cpu_count() or 1)  # blocks of concurrent downloads hashed at once


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _hashing_pool() -> ThreadPoolExecutor:
    """One pool shared by every download: creating and joining one per file cost ~9% of
    a many-small-files download. Each sink keeps at most one block in it, in order."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="syncd-hash")
        return _pool


class _Sink:
    """The temp file, the running hash and the ETag the bytes so far belong to.

    Bytes are gathered into blocks of ``BLOCK``; a full block is hashed on the shared pool
    while the next one arrives (sha256 releases the GIL), a short one (a small file's only
    block, the tail) inline. ``written`` counts only bytes in the file, which is where a
    ``Range`` resumes.
    """

    def __init__(self, handle: BinaryIO, progress: Progress | None) -> None:
        self.handle = handle
        self.progress = progress
        self.hasher = hashlib.sha256()
        self.written = 0
        self.etag: str | None = None
        self.started = False
        self._buffer = bytearray()
        self._pending: Future[None] | None = None

    def reset(self) -> None:
        self.digest()
        self._buffer.clear()
        if self.progress is not None and self.written:
            self.progress.advance(-self.written)
        self.handle.seek(0)
        self.handle.truncate()
        self.hasher = hashlib.sha256()
        self.written = 0
        self.etag = None

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= BLOCK:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered and hash it (also after a broken read)."""
        if not self._buffer:
            return
        block, self._buffer = self._buffer, bytearray()  # hand over, no copy
        self.handle.write(block)
        if self._pending is not None:
            self._pending.result()
            self._pending = None
        if len(block) < BLOCK:
            self.hasher.update(block)
        else:
            self._pending = _hashing_pool().submit(self.hasher.update, block)
        self.written += len(block)
        if self.progress is not None:
            self.progress.advance(len(block))

    def digest(self) -> str:
        self.close()
        return f"sha256:{self.hasher.hexdigest()}"

    def close(self) -> None:
        """Wait for the block still being hashed, so nothing touches the hasher after."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()


def _resumes(response: httpx.Response, sink: _Sink) -> bool:
    """True when a 206 continues exactly the bytes already written."""
    if response.status_code != 206 or sink.etag is None:
        return False
    if response.headers.get("etag") != sink.etag:
        return False
    content_range = response.headers.get("content-range", "")
    return content_range.startswith(f"bytes {sink.written}-")


def _revision(etag: str | None) -> int | None:
    if etag is None:
        return None
    value = etag.removeprefix("W/").strip('"')
    return int(value) if value.isdigit() else None


def _attempt(connection: Connection, url: str, path: str, sink: _Sink) -> None:
    what = f"GET {path}"
    secret = connection.settings.api_key
    headers = {"Accept-Encoding": "identity"}  # byte ranges of the stored bytes, not of a gzip
    if sink.written and sink.etag is not None:
        headers["Range"] = f"bytes={sink.written}-"
    elif sink.written:
        sink.reset()
    try:
        with connection.slots, connection.http.stream("GET", url, headers=headers) as response:
            if response.status_code == 416 or (
                response.status_code == 206 and not _resumes(response, sink)
            ):
                sink.reset()  # the file changed or the range is wrong: start again
                raise ConnectionLost(f"{what}: the range was not honoured; starting again")
            if response.status_code not in (200, 206):
                response.read()
                raise error_for_response(response, what, "file", secret)
            if response.status_code == 200 and sink.written:
                sink.reset()
            sink.etag = response.headers.get("etag")
            if not sink.started and sink.progress is not None:
                length = response.headers.get("content-length")
                sink.progress.start(path, int(length) if length and length.isdigit() else None)
            sink.started = True
            try:
                for data in response.iter_bytes():
                    connection.throttle.consume(len(data))
                    sink.write(data)
            finally:
                sink.flush()  # bytes that arrived before a break are kept for the resume
    except httpx.HTTPError as exc:
        raise error_for_exception(exc, what, secret) from exc


def download_file(
    connection: Connection,
    url: str,
    path: str,
    dest: Path,
    *,
    expected_hash: str | None,
    progress: Progress | None,
) -> DownloadResult:
    """Download ``url`` into ``dest`` (see the module docstring for the promises)."""
    try:
        handle = open(dest, "wb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise ItemError(f"cannot write {dest}: {exc.strerror}", path=path) from exc
    sink = _Sink(handle, progress)
    ok = False
    try:
        for round_number in range(MAX_ROUNDS):
            before = sink.written
            try:
                connection.policy.run(
                    lambda _state: _attempt(connection, url, path, sink), what=f"GET {path}"
                )
                break
            except ServerUnreachable:
                if sink.written <= before or round_number == MAX_ROUNDS - 1:
                    raise
        sink.flush()
        handle.flush()
        os.fsync(handle.fileno())
        digest = sink.digest()
        if expected_hash is not None and digest != expected_hash:
            raise PreconditionFailed(
                f"{path}: downloaded {digest}, expected {expected_hash}; the remote changed"
            )
        ok = True
        return DownloadResult(size=sink.written, hash=digest, revision=_revision(sink.etag))
    except OSError as exc:
        raise ItemError(f"cannot write {dest}: {exc.strerror}", path=path) from exc
    finally:
        sink.close()
        handle.close()
        if not ok:
            with contextlib.suppress(OSError):
                dest.unlink()
        if progress is not None and sink.started:
            progress.finish()
