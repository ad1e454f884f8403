"""E3 resumable uploads: sessions, chunks from disk, resume from the server's offset.

1. A session id is remembered in an ``UploadSessionStore`` keyed by (workspace, path,
   size, mtime_ns), so after a client restart the same file resumes where the server
   stands (``GET`` the session) instead of starting again; another size or mtime starts anew.
2. The hash is computed over the bytes in order; after a resume or an ``offset_mismatch``
   the bytes before the server's offset are re-read from disk to catch the hash up.
3. If the file changes under the read, the session is deleted and ``SourceChanged`` raised.
4. The server's offset must move forward: a chunk answered with no progress more than
   ``MAX_STALLS`` times in a row is a ``ProtocolViolation``, never an endless loop.

Retry safety per request: begin (POST) may leave an orphan session on a retry, which
expires by itself, so it is retried; a chunk PUT names its offset, so a retry that meets
its own earlier success gets ``offset_mismatch`` and re-syncs; commit after an ambiguous
attempt is resolved by looking at the entry (404/412 with our hash at the path = done);
DELETE is retried and a 404 counts as done.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from syncd.errors import (
    NotFound,
    OffsetMismatch,
    PreconditionFailed,
    ProtocolViolation,
    ServerUnreachable,
    SyncdError,
    Transient,
)
from syncd.protocol import routes
from syncd.transport.client import Connection
from syncd.transport.errors import parse_json
from syncd.transport.models import (
    Entry,
    UploadResult,
    UploadSession,
    parse_entry,
    parse_offset,
    parse_upload_session,
)
from syncd.transport.progress import Progress
from syncd.transport.source import SourceFile, sha256_text

Lookup = Callable[[str], Entry | None]
MAX_SESSION_RESTARTS = 2
MAX_STALLS = 3  # chunks in a row that moved the server's offset no further


class UploadSessionStore(Protocol):
    """Where open session ids live between runs (the state database implements it)."""

    def find(self, workspace_id: str, path: str, size: int, mtime_ns: int) -> str | None: ...

    def remember(
        self,
        workspace_id: str,
        path: str,
        size: int,
        mtime_ns: int,
        upload_id: str,
        expires_time: str,
    ) -> None: ...

    def forget(self, workspace_id: str, path: str) -> None: ...


class MemoryUploadSessionStore:
    """An ``UploadSessionStore`` in memory: resumes within one process only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], tuple[int, int, str, str]] = {}

    def find(self, workspace_id: str, path: str, size: int, mtime_ns: int) -> str | None:
        with self._lock:
            row = self._rows.get((workspace_id, path))
        if row is None or row[:2] != (size, mtime_ns):
            return None
        return row[2]

    def remember(
        self,
        workspace_id: str,
        path: str,
        size: int,
        mtime_ns: int,
        upload_id: str,
        expires_time: str,
    ) -> None:
        with self._lock:
            self._rows[(workspace_id, path)] = (size, mtime_ns, upload_id, expires_time)

    def forget(self, workspace_id: str, path: str) -> None:
        with self._lock:
            self._rows.pop((workspace_id, path), None)


class UploadsAPI:
    def __init__(self, connection: Connection, store: UploadSessionStore) -> None:
        self._connection = connection
        self.store = store
        self.on_committed: Callable[[Entry], None] | None = None
        """Told the entry of every commit the server answered (not one found in a
        listing after a lost answer): the revision it made."""

    def begin(self, workspace_id: str, path: str, size: int) -> UploadSession:
        what = f"POST upload {path}"
        response = self._connection.request(
            "POST",
            routes.url(routes.UPLOADS, workspace_id=workspace_id),
            what=what,
            context="file",
            json={"path": path, "size": size},
        )
        assert response is not None
        return parse_upload_session(parse_json(response, what))

    def offset(self, workspace_id: str, upload_id: str) -> tuple[int, int]:
        """(offset, size) of a session: where a resume starts."""
        what = f"GET upload {upload_id}"
        response = self._connection.request(
            "GET",
            routes.url(routes.UPLOAD, workspace_id=workspace_id, upload_id=upload_id),
            what=what,
            context="upload",
        )
        assert response is not None
        data = parse_json(response, what)
        size = data.get("size") if isinstance(data, dict) else None
        if not isinstance(size, int) or isinstance(size, bool):
            raise ProtocolViolation(f"{what}: no valid 'size' in the answer")
        return parse_offset(data), size

    def put_chunk(self, workspace_id: str, upload_id: str, offset: int, data: bytes) -> int:
        """Send one chunk at ``offset``; the server's new offset (``OffsetMismatch`` if not)."""
        what = f"PUT upload {upload_id} offset={offset}"

        def body() -> bytes:
            self._connection.throttle.consume(len(data))
            return data

        with self._connection.slots:
            response = self._connection.request(
                "PUT",
                routes.url(routes.UPLOAD, workspace_id=workspace_id, upload_id=upload_id),
                what=what,
                context="upload",
                params={"offset": offset},
                content=body,
            )
        assert response is not None
        return parse_offset(parse_json(response, what))

    def commit(
        self,
        workspace_id: str,
        upload_id: str,
        path: str,
        digest: str,
        *,
        if_revision: int | None,
        lookup: Lookup,
    ) -> Entry | None:
        what = f"POST commit {path}"
        found: list[Entry] = []

        def landed(exc: SyncdError) -> bool:
            if not isinstance(exc, NotFound | PreconditionFailed):
                return False
            entry = lookup(path)
            if entry is not None and entry.hash == digest:
                found.append(entry)
                return True
            return False

        response = self._connection.request(
            "POST",
            routes.url(routes.UPLOAD_COMMIT, workspace_id=workspace_id, upload_id=upload_id),
            what=what,
            context="upload",
            json={"if_revision": if_revision},
            resolve=landed,
        )
        if response is None:
            return found[0] if found else None
        entry = parse_entry(parse_json(response, what))
        if self.on_committed is not None:
            self.on_committed(entry)
        return entry

    def abort(self, workspace_id: str, upload_id: str) -> None:
        """Delete a session (best effort: an expired one is already gone)."""
        with contextlib.suppress(NotFound):
            self._connection.request(
                "DELETE",
                routes.url(routes.UPLOAD, workspace_id=workspace_id, upload_id=upload_id),
                what=f"DELETE upload {upload_id}",
                context="upload",
            )

    def _open_session(self, workspace_id: str, source: SourceFile) -> tuple[str, int, int | None]:
        """A session for this file, the server's offset in it, and its chunk limit if new."""
        path = source.display
        upload_id = self.store.find(workspace_id, path, source.size, source.mtime_ns)
        if upload_id is not None:
            try:
                offset, size = self.offset(workspace_id, upload_id)
                if size == source.size and offset <= size:
                    return upload_id, offset, None
                self.abort(workspace_id, upload_id)
            except NotFound:
                pass  # expired or committed: start again
            self.store.forget(workspace_id, path)
        session = self.begin(workspace_id, path, source.size)
        self.store.remember(
            workspace_id,
            path,
            source.size,
            source.mtime_ns,
            session.upload_id,
            session.expires_time,
        )
        return session.upload_id, session.offset, session.chunk_size

    def upload(
        self,
        workspace_id: str,
        source: SourceFile,
        *,
        chunk_size: int,
        if_revision: int | None,
        lookup: Lookup,
        progress: Progress | None = None,
    ) -> UploadResult:
        """Upload ``source`` through a session in chunks of at most ``chunk_size`` bytes."""
        path = source.display
        restarts = 0
        while True:
            upload_id, offset, limit = self._open_session(workspace_id, source)
            chunk = min(chunk_size, limit or chunk_size)
            try:
                digest = self._send_chunks(workspace_id, upload_id, source, offset, chunk, progress)
                source.check()
                entry = self.commit(
                    workspace_id, upload_id, path, digest, if_revision=if_revision, lookup=lookup
                )
            except NotFound:
                # The session expired (or the server lost it) mid-way: a fresh one, a few times.
                self.store.forget(workspace_id, path)
                restarts += 1
                if restarts > MAX_SESSION_RESTARTS:
                    raise
                continue
            except SyncdError as exc:
                if not isinstance(exc, OffsetMismatch):
                    self._drop(workspace_id, upload_id, path, exc)
                raise
            self.store.forget(workspace_id, path)
            if entry is not None and entry.hash is not None and entry.hash != digest:
                raise ProtocolViolation(
                    f"{path}: the server committed {entry.hash}, we sent {digest}", path=path
                )
            return UploadResult(size=source.size, hash=digest, entry=entry)

    def _drop(self, workspace_id: str, upload_id: str, path: str, exc: SyncdError) -> None:
        """Delete the session unless a later run can still resume it.

        A transient failure (or retries running out) keeps it: the next attempt resumes
        from the server's offset. Anything else (source changed, lost race, refusal) makes
        the uploaded bytes useless, so the session goes.
        """
        if isinstance(exc, Transient | ServerUnreachable):
            return
        self.store.forget(workspace_id, path)
        with contextlib.suppress(SyncdError):  # else it expires on its own
            self.abort(workspace_id, upload_id)

    def _send_chunks(
        self,
        workspace_id: str,
        upload_id: str,
        source: SourceFile,
        offset: int,
        chunk_size: int,
        progress: Progress | None,
    ) -> str:
        """Send the chunks from ``offset`` on; the hash of the whole file as the server has it.

        Each chunk is hashed on a helper thread while it is on the wire (sha256 releases
        the GIL), so hashing costs no wall time; ``hashed`` says how far the hash got, which
        is where a re-sync to the server's offset starts from.
        """
        hasher = hashlib.sha256()
        source.hash_range(hasher, 0, offset)
        pos = hashed = offset
        stalls = 0
        if progress is not None:
            progress.advance(pos)
        with ThreadPoolExecutor(1, thread_name_prefix="syncd-hash") as hashing:
            while pos < source.size:
                data = source.read_at(pos, min(chunk_size, source.size - pos))
                source.check()
                pending = hashing.submit(hasher.update, data)
                try:
                    new = self.put_chunk(workspace_id, upload_id, pos, data)
                except OffsetMismatch as exc:
                    new = exc.offset
                finally:
                    pending.result()
                hashed = pos + len(data)
                if new > source.size:
                    raise ProtocolViolation(f"{source.display}: server offset {new} past the size")
                stalls = stalls + 1 if new <= pos else 0
                if stalls > MAX_STALLS:
                    raise ProtocolViolation(
                        f"{source.display}: the server's upload offset stays at {new}",
                        path=source.display,
                    )
                if new != hashed:
                    hasher, hashed = self._catch_up(hasher, source, hashed, new)
                if progress is not None:
                    progress.advance(new - pos)
                pos = new
        return sha256_text(hasher)

    @staticmethod
    def _catch_up(
        hasher: hashlib._Hash, source: SourceFile, pos: int, new: int
    ) -> tuple[hashlib._Hash, int]:
        """Re-sync the running hash, which covers bytes up to ``pos``, to the offset ``new``."""
        if new >= pos:
            source.hash_range(hasher, pos, new)
            return hasher, new
        fresh = hashlib.sha256()
        source.hash_range(fresh, 0, new)
        return fresh, new
