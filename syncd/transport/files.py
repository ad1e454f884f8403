"""Files API: listing, transfers and path operations, on a full or a base-only server.

1. Every path argument is checked with ``syncd.paths.normalize`` before it leaves, and
   every path in an answer before it is handed up (``models.py``).
2. Conditions (``if_revision``, ``create_only``) become ``If-Match`` / ``If-None-Match: *``
   when the server has E4; on a base-only server they are checked against a fresh listing
   just before the write, the best the base API allows (a race window remains).
3. Uploads above ``upload_threshold`` (or above the server's ``max_body``) use E3 sessions
   when the server has them; otherwise one PUT, refused with ``TooLarge`` when too big.

Retry safety per request: GET, PUT of whole content and mkdir are idempotent and retried
on any transient fault. A conditional PUT, DELETE, move and copy are retried too, and a
permanent answer after an attempt that may have landed (412, 404, 409) is checked
against the listing: when the server already shows our result, the call succeeded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

from syncd.errors import (
    NotFound,
    PathConflict,
    PreconditionFailed,
    SourceChanged,
    SyncdError,
    TooLarge,
    WorkspaceNotFound,
)
from syncd.paths import normalize
from syncd.protocol import routes
from syncd.transport.capabilities import CapabilitiesAPI
from syncd.transport.client import Connection, Resolver, file_url
from syncd.transport.consistency import settle
from syncd.transport.download import download_file
from syncd.transport.errors import parse_answer
from syncd.transport.models import DownloadResult, Entry, ListResult, UploadResult, parse_listing
from syncd.transport.progress import Progress
from syncd.transport.source import SourceFile, sha256_text
from syncd.transport.uploads import UploadsAPI


class FilesAPI:
    def __init__(
        self, connection: Connection, capabilities: CapabilitiesAPI, uploads: UploadsAPI
    ) -> None:
        self._connection = connection
        self._capabilities = capabilities
        self._uploads = uploads

    # -- reading --------------------------------------------------------------------

    def list(self, workspace_id: str) -> ListResult:
        """Every entry, each path once; entries with refused paths are in ``.rejected``.

        A listing that contradicts itself (a path twice with different entries, a path
        below a file) is a ``ServerProtocolError``: it is no tree to plan on.
        """
        what = f"GET files of {workspace_id}"
        response = self._connection.request(
            "GET",
            routes.url(routes.FILES, workspace_id=workspace_id),
            what=what,
            context="workspace",
        )
        assert response is not None
        listing = parse_answer(response, what, parse_listing)
        return ListResult(settle(listing, what=what), listing.rejected)

    def entry(self, workspace_id: str, path: str) -> Entry | None:
        """The entry at ``path`` from a fresh listing (the base API has no per-path stat)."""
        path = normalize(path)
        return next((e for e in self.list(workspace_id) if e.path == path), None)

    def download(
        self,
        workspace_id: str,
        path: str,
        dest: Path | None,
        *,
        expected_hash: str | None = None,
        expected_size: int | None = None,
        progress: Progress | None = None,
        resume_etag: str | None = None,
        on_etag: Callable[[str], None] | None = None,
    ) -> DownloadResult:
        """Stream ``path`` into ``dest`` (a temp path next to the target), fsynced; with
        ``dest`` None only hash it (a content comparison that stores nothing).

        Resumes with ``Range`` after a broken connection while the ETag holds, and from a
        partial an earlier process kept (``resume_etag``, ``on_etag``: see
        ``download_file``). A hash other than ``expected_hash``, or a body other than
        ``expected_size`` bytes (reading stops there), removes ``dest`` and raises
        ``PreconditionFailed`` (the remote changed since it was listed: re-plan).
        """
        path = normalize(path)
        with self._refined(workspace_id):
            return download_file(
                self._connection,
                file_url(workspace_id, path),
                path,
                dest,
                expected_hash=expected_hash,
                expected_size=expected_size,
                progress=progress,
                resume_etag=resume_etag,
                on_etag=on_etag,
            )

    # -- writing --------------------------------------------------------------------

    def upload(
        self,
        workspace_id: str,
        path: str,
        source: Path,
        *,
        if_revision: int | None = None,
        create_only: bool = False,
        expected: Entry | None = None,
        progress: Progress | None = None,
    ) -> UploadResult:
        """Send ``source`` to ``path``; what was read is what is sent (else SourceChanged).

        ``if_revision``: the remote must still be at that revision (0 = must not exist);
        ``create_only``: must not exist; ``expected``: the entry the caller saw (its
        revision is the condition; on a base-only server its size and modified_time are
        compared with a fresh listing instead).
        """
        path = normalize(path)
        caps = self._capabilities.get()
        settings = self._connection.settings
        if create_only:
            if_revision = 0
        elif if_revision is None and expected is not None:
            if_revision = expected.revision
        with self._refined(workspace_id), SourceFile(source, path) as src:
            if not caps.conditional:
                self._check_base_only(workspace_id, path, if_revision, expected)
            if progress is not None:
                progress.start(path, src.size)
            try:
                limit = caps.max_body
                over_limit = limit is not None and src.size > limit
                if caps.uploads and (src.size > settings.upload_threshold or over_limit):
                    return self._session_upload(workspace_id, src, if_revision, progress)
                if over_limit:
                    raise self._too_large(path, src.size, limit)
                try:
                    return self._put(workspace_id, src, if_revision, caps.conditional, progress)
                except TooLarge as exc:
                    if not caps.uploads:
                        raise self._too_large(path, src.size, None) from exc
                    return self._session_upload(workspace_id, src, if_revision, progress)
            finally:
                if progress is not None:
                    progress.finish()

    def delete(
        self,
        workspace_id: str,
        path: str,
        *,
        if_revision: int | None = None,
        expected: Entry | None = None,
    ) -> None:
        """Delete a file or a directory with its contents (conditional when asked)."""
        path = normalize(path)

        def gone(exc: SyncdError) -> bool:
            if isinstance(exc, NotFound | PreconditionFailed):
                return self.entry(workspace_id, path) is None
            return False

        headers = self._conditions(workspace_id, path, if_revision, expected)
        with self._refined(workspace_id):
            self._connection.request(
                "DELETE",
                file_url(workspace_id, path),
                what=f"DELETE {path}",
                context="file",
                headers=headers,
                resolve=gone,
            )

    def move(
        self,
        workspace_id: str,
        path: str,
        dest: str,
        *,
        if_revision: int | None = None,
        expected: Entry | None = None,
    ) -> None:
        """Move ``path`` (a whole subtree for a directory) to ``dest``, which must not exist."""
        path, dest = normalize(path), normalize(dest)

        def landed(exc: SyncdError) -> bool:
            if not isinstance(exc, NotFound | PathConflict | PreconditionFailed):
                return False
            listing = {e.path for e in self.list(workspace_id)}
            return path not in listing and dest in listing

        headers = self._conditions(workspace_id, path, if_revision, expected)
        self._op(workspace_id, path, {"op": "move", "dest": dest}, headers, landed)

    def copy(self, workspace_id: str, path: str, dest: str) -> None:
        """Copy ``path`` to ``dest``, which must not exist."""
        path, dest = normalize(path), normalize(dest)

        def landed(exc: SyncdError) -> bool:
            if not isinstance(exc, PathConflict):
                return False
            listing = {e.path: e for e in self.list(workspace_id)}
            source, copied = listing.get(path), listing.get(dest)
            if source is None or copied is None or source.type is not copied.type:
                return False
            return (source.hash, source.size) == (copied.hash, copied.size)

        self._op(workspace_id, path, {"op": "copy", "dest": dest}, None, landed)

    def mkdir(self, workspace_id: str, path: str) -> None:
        """Create a directory (and its parents); an existing directory is fine."""
        path = normalize(path)
        self._op(workspace_id, path, {"op": "mkdir"}, None, None)

    # -- helpers --------------------------------------------------------------------

    def _op(
        self,
        workspace_id: str,
        path: str,
        body: dict[str, str],
        headers: dict[str, str] | None,
        resolve: Resolver | None,
    ) -> None:
        with self._refined(workspace_id):
            self._connection.request(
                "POST",
                file_url(workspace_id, path),
                what=f"POST {body['op']} {path}",
                context="file",
                json=body,
                headers=headers,
                resolve=resolve,
            )

    def _conditions(
        self, workspace_id: str, path: str, if_revision: int | None, expected: Entry | None
    ) -> dict[str, str] | None:
        """E4 headers for a DELETE or POST op, or the base-only check made instead."""
        if if_revision is None and expected is not None:
            if_revision = expected.revision
        if not self._capabilities.get().conditional:
            self._check_base_only(workspace_id, path, if_revision, expected)
            return None
        if if_revision is None:
            return None
        return {"If-Match": f'"{if_revision}"'}

    def _check_base_only(
        self, workspace_id: str, path: str, if_revision: int | None, expected: Entry | None
    ) -> None:
        """Without E4: compare a fresh listing with what the caller expects, then write."""
        if if_revision is None and expected is None:
            return
        current = self.entry(workspace_id, path)
        if if_revision == 0:
            if current is not None:
                raise PreconditionFailed(f"{path}: exists on the server (create only)")
            return
        if current is None:
            raise PreconditionFailed(f"{path}: no longer on the server")
        if expected is not None and (current.type, current.size, current.modified_time) != (
            expected.type,
            expected.size,
            expected.modified_time,
        ):
            raise PreconditionFailed(f"{path}: changed on the server since it was listed")

    def _put(
        self,
        workspace_id: str,
        src: SourceFile,
        if_revision: int | None,
        conditional: bool,
        progress: Progress | None,
    ) -> UploadResult:
        path = src.display
        headers = {"Content-Length": str(src.size), "Content-Type": "application/octet-stream"}
        if conditional and if_revision == 0:
            headers["If-None-Match"] = "*"
        elif conditional and if_revision is not None:
            headers["If-Match"] = f'"{if_revision}"'
        digests: list[str] = []
        given = [0]  # bytes reported to progress by the attempt in flight

        def body() -> Iterator[bytes]:
            if progress is not None and given[0]:
                progress.advance(-given[0])
            given[0] = 0
            hasher = hashlib.sha256()
            sent = [0]
            held: bytes | None = None
            for data in src.stream(hasher, sent):
                if held is not None:
                    yield self._pace(held, progress, given)
                held = data
            digest = sha256_text(hasher)
            if digests and digests[-1] != digest:  # same size and mtime, other bytes
                raise SourceChanged(f"{path}: changed while uploading", path=path)
            digests.append(digest)
            if held is not None:
                yield self._pace(held, progress, given)

        def landed(exc: SyncdError) -> bool:
            if not isinstance(exc, PreconditionFailed) or not digests:
                return False
            entry = self.entry(workspace_id, path)
            return entry is not None and entry.hash == digests[-1]

        with self._connection.slots:
            self._connection.request(
                "PUT",
                file_url(workspace_id, path),
                what=f"PUT {path}",
                context="file",
                content=body,
                headers=headers,
                resolve=landed if if_revision is not None else None,
            )
        src.check()
        return UploadResult(size=src.size, hash=digests[-1], entry=None)

    def _pace(self, data: bytes, progress: Progress | None, given: list[int]) -> bytes:
        self._connection.throttle.consume(len(data))
        if progress is not None:
            progress.advance(len(data))
        given[0] += len(data)
        return data

    def _session_upload(
        self, workspace_id: str, src: SourceFile, if_revision: int | None, progress: Progress | None
    ) -> UploadResult:
        settings = self._connection.settings
        limit = self._capabilities.get().max_body
        chunk = min(settings.chunk_size, limit) if limit else settings.chunk_size
        return self._uploads.upload(
            workspace_id,
            src,
            chunk_size=chunk,
            if_revision=if_revision,
            lookup=lambda p: self.entry(workspace_id, p),
            progress=progress,
        )

    @staticmethod
    def _too_large(path: str, size: int, limit: int | None) -> TooLarge:
        most = f"at most {limit} bytes" if limit is not None else "less"
        return TooLarge(
            f"{path}: {size} bytes is more than the server accepts in one request ({most}),"
            " and it offers no resumable uploads",
            path=path,
            hint="raise the server's body limit or enable its upload extension",
        )

    def _refined(self, workspace_id: str) -> _Refine:
        return _Refine(self._connection, workspace_id)


class _Refine:
    """Turn a file-level 404 into ``WorkspaceNotFound`` when the workspace itself is gone.

    The protocol answers ``not_found`` for both; one GET of the workspace tells them apart,
    and it is only spent on a 404.
    """

    def __init__(self, connection: Connection, workspace_id: str) -> None:
        self._connection = connection
        self._workspace_id = workspace_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, NotFound) and not isinstance(exc, WorkspaceNotFound):
            try:
                self._connection.request(
                    "GET",
                    routes.url(routes.WORKSPACE, workspace_id=self._workspace_id),
                    what=f"GET workspace {self._workspace_id}",
                    context="workspace",
                )
            except WorkspaceNotFound as missing:
                raise missing from exc
