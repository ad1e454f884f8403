"""Streaming a remote file into a temp path: resumable, hashed while writing, fsynced.

1. After a broken connection the next attempt asks ``Range: bytes=N-`` and keeps the
   bytes already written only when the answer is a 206 with the same ETag starting at N;
   anything else (no ETag, base-only server, 200, another ETag, 416) starts again at 0.
   A partial kept by an earlier process (``resume_etag``) is continued the same way: its
   bytes are hashed again and the first request asks for the rest.
2. The hash is computed over the bytes as written; ``expected_hash`` is compared at the
   end. The listed size (``expected_size``) bounds the body: reading stops as soon as the
   server sends more, and a body of any other size is a re-plan, never a result.
3. On any failure the temp file is removed, so no half file survives, with one exception:
   a caller that keeps partials (``on_etag``) keeps the bytes after a broken connection or
   an interrupt, once it has recorded the ETag they came with.
4. An attempt that made progress does not use up the retry budget: a long transfer over
   a bad link keeps going as long as it keeps moving.
5. Without a ``dest`` the body is hashed and not stored: a content comparison writes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import httpx

from syncd.errors import (
    ConnectionLost,
    ItemError,
    PreconditionFailed,
    Replan,
    ServerRefused,
    ServerUnreachable,
)
from syncd.transport.client import Connection
from syncd.transport.errors import error_for_exception, error_for_response
from syncd.transport.models import DownloadResult
from syncd.transport.progress import Progress
from syncd.transport.writeback import start_writeback

BLOCK = 1024 * 1024  # bytes written and hashed at a time
WRITE_BEHIND = 8 * BLOCK  # bytes written between two writeback hints
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
    ``Range`` resumes. Without a handle the bytes are hashed and dropped.
    """

    def __init__(
        self,
        handle: BinaryIO | None,
        progress: Progress | None,
        *,
        on_etag: Callable[[str], None] | None = None,
        size_hint: int | None = None,
    ) -> None:
        self.handle = handle
        self.progress = progress
        self.on_etag = on_etag
        self.hasher = hashlib.sha256()
        self.written = 0
        self.etag: str | None = None
        self.started = False
        self._reported = 0  # bytes shown to ``progress`` (a resumed partial's are not)
        self._capacity = max(1, min(BLOCK, size_hint or BLOCK))
        self._block = bytearray()  # allocated at the first byte, at most ``_capacity``
        self._spare = bytearray()  # the other block, while the full one is hashed
        self._used = 0
        self._pending: Future[None] | None = None
        self._fd = _fileno(handle)
        self._flushed_to = 0  # bytes of the file handed to writeback (``_write_behind``)

    @property
    def received(self) -> int:
        """Every byte of the body so far, the ones still buffered included."""
        return self.written + self._used

    def resume(self, etag: str) -> None:
        """Take the bytes already in the file as the start, hashing them again."""
        assert self.handle is not None
        self.handle.seek(0)
        while block := self.handle.read(BLOCK):
            self.hasher.update(block)
            self.written += len(block)
        self.etag = etag

    def adopt(self, etag: str | None) -> None:
        """The ETag of the bytes about to be written; a new one is reported before them."""
        if etag != self.etag:
            self.etag = etag
            if etag is not None and self.on_etag is not None:
                self.on_etag(etag)

    def reset(self) -> None:
        self.digest()
        self._used = 0
        self._flushed_to = 0
        if self.progress is not None and self._reported:
            self.progress.advance(-self._reported)
        self._reported = 0
        if self.handle is not None:
            self.handle.seek(0)
            self.handle.truncate()
        self.hasher = hashlib.sha256()
        self.written = 0
        self.etag = None

    def write(self, data: bytes) -> None:
        """Copy ``data`` into the block being filled; a full block goes to the file."""
        view = memoryview(data)
        while view:
            if not self._block:
                self._block = bytearray(self._capacity)
            take = min(len(view), len(self._block) - self._used)
            self._block[self._used : self._used + take] = view[:take]
            self._used += take
            view = view[take:]
            if self._used == len(self._block):
                self.flush()

    def flush(self) -> None:
        """Write what is buffered and hash it (also after a broken read).

        A full block is hashed on the pool while the other one fills, so the two blocks
        are allocated once per download and no byte is copied but into them and the file.
        """
        if not self._used:
            return
        block = memoryview(self._block)[: self._used]
        if self.handle is not None:
            self.handle.write(block)
        if self._pending is not None:
            self._pending.result()  # the spare block is free again
            self._pending = None
        if self._used < BLOCK:
            self.hasher.update(block)
        else:
            self._pending = _hashing_pool().submit(self.hasher.update, block)
            if not self._spare:
                self._spare = bytearray(BLOCK)
            self._block, self._spare = self._spare, self._block
        self.written += self._used
        self._used = 0
        self._write_behind()
        if self.progress is not None:
            self.progress.advance(len(block))
            self._reported += len(block)

    def _write_behind(self) -> None:
        """Start writeback of what the file holds so far (``WRITE_BEHIND`` at a time), so
        the fsync at the end finds little left to write: the disk works during the
        download instead of after it. Only a hint: durability is still that fsync's."""
        if self._fd is None or self.written - self._flushed_to < WRITE_BEHIND:
            return
        self.handle.flush()  # type: ignore[union-attr]
        start_writeback(self._fd, self._flushed_to, self.written - self._flushed_to)
        self._flushed_to = self.written

    def digest(self) -> str:
        """The hash of the bytes written so far (they may still grow)."""
        self.close()
        return f"sha256:{self.hasher.hexdigest()}"

    def close(self) -> None:
        """Wait for the block still being hashed, so nothing touches the hasher after."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()


def _fileno(handle: BinaryIO | None) -> int | None:
    """The descriptor behind ``handle``; None for no file or one without (in memory)."""
    try:
        return handle.fileno() if handle is not None else None
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None


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


def _wrong_size(path: str, size: int | None, limit: int) -> PreconditionFailed:
    """A body that does not have the listed size: a re-plan (``size`` None: it ran past)."""
    sent = f"{size} bytes" if size is not None else "more bytes than that"
    return PreconditionFailed(
        f"{path}: the server lists {limit} bytes and sent {sent}",
        hint="nothing was installed; it is planned again from a fresh listing",
    )


def _check_length(response: httpx.Response, path: str, sink: _Sink, limit: int | None) -> None:
    """Refuse a body whose announced length does not add up to the listed size."""
    length = response.headers.get("content-length", "")
    encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
    if limit is None or encoded or not length.isdigit():
        return
    if sink.written + int(length) != limit:
        raise _wrong_size(path, sink.written + int(length), limit)


def _attempt(connection: Connection, url: str, path: str, sink: _Sink, limit: int | None) -> None:
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
                raise ConnectionLost(
                    f"{what}: the range was not honoured; starting again", ambiguous=False
                )
            if response.status_code not in (200, 206):
                response.read()
                raise error_for_response(response, what, "file", secret)
            if response.status_code == 200 and sink.written:
                sink.reset()
            _check_length(response, path, sink, limit)
            sink.adopt(response.headers.get("etag"))  # recorded before its first byte lands
            if not sink.started and sink.progress is not None:
                length = response.headers.get("content-length")
                sink.progress.start(path, int(length) if length and length.isdigit() else None)
            sink.started = True
            try:
                for data in response.iter_bytes():
                    connection.throttle.consume(len(data))
                    if limit is not None and sink.received + len(data) > limit:
                        raise _wrong_size(path, None, limit)  # and read no further
                    sink.write(data)
            finally:
                sink.flush()  # bytes that arrived before a break are kept for the resume
    except httpx.HTTPError as exc:
        raise error_for_exception(exc, what, secret) from exc


def download_file(
    connection: Connection,
    url: str,
    path: str,
    dest: Path | None,
    *,
    expected_hash: str | None,
    progress: Progress | None,
    expected_size: int | None = None,
    resume_etag: str | None = None,
    on_etag: Callable[[str], None] | None = None,
) -> DownloadResult:
    """Download ``url`` into ``dest`` (see the module docstring for the promises).

    ``resume_etag``: ``dest`` holds the start of the body that came with this ETag.
    ``on_etag``: called with each new ETag before the first byte that came with it is
    written; a caller that passes it owns ``dest`` as a partial it may resume later.
    """
    handle: BinaryIO | None = None
    if dest is not None:
        resuming = resume_etag is not None and dest.is_file()
        try:
            handle = open(dest, "r+b" if resuming else "wb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ItemError(f"cannot write {dest}: {exc.strerror}", path=path) from exc
    sink = _Sink(handle, progress, on_etag=on_etag, size_hint=expected_size)
    ok = keep = False
    try:
        if handle is not None and resume_etag is not None:
            sink.resume(resume_etag)
            if expected_size is not None and sink.written > expected_size:
                sink.reset()
        complete = (
            resume_etag is not None
            and sink.written > 0
            and sink.written == expected_size
            and expected_hash is not None
            and sink.digest() == expected_hash
        )  # a partial that holds the whole file already: nothing left to fetch
        for round_number in range(0 if complete else MAX_ROUNDS):
            before = sink.written
            try:
                connection.policy.run(
                    lambda _state: _attempt(connection, url, path, sink, expected_size),
                    what=f"GET {path}",
                )
                break
            except ServerUnreachable:
                if sink.written <= before or round_number == MAX_ROUNDS - 1:
                    raise
        sink.flush()
        if handle is not None:
            handle.flush()
            os.fsync(handle.fileno())
        digest = sink.digest()
        if expected_size is not None and sink.written != expected_size:
            raise _wrong_size(path, sink.written, expected_size)
        if expected_hash is not None and digest != expected_hash:
            raise PreconditionFailed(
                f"{path}: downloaded {digest}, expected {expected_hash}; the remote changed"
            )
        ok = True
        revision = None if complete else _revision(sink.etag)
        return DownloadResult(size=sink.written, hash=digest, revision=revision)
    except OSError as exc:
        raise ItemError(f"cannot write {dest}: {exc.strerror}", path=path) from exc
    except BaseException as exc:
        # A broken connection or an interrupt says nothing against the bytes so far; a
        # wrong size or hash, a refusal or a missing file does.
        verdict = isinstance(exc, Replan | ItemError | ServerRefused)
        keep = on_etag is not None and sink.etag is not None and sink.written > 0 and not verdict
        raise
    finally:
        sink.close()
        if handle is not None:
            handle.close()
        if dest is not None and not ok and not keep:
            with contextlib.suppress(OSError):
                dest.unlink()
        if progress is not None and sink.started:
            progress.finish()
