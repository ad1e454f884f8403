"""An in-memory server behind the transport's typed calls, for worker tests.

Only the calls the worker makes exist: ``files.upload/download/mkdir/delete/list`` and
``batch.split/write/read``. Each call is logged in ``calls`` (name, paths), and the test
may replace ``answer`` to shape what a batch write gives back per item.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from syncd.errors import ConnectionLost, NotFound, PreconditionFailed
from syncd.planner.trees import Kind, LocalNode, RemoteNode
from syncd.transport.batch_items import (
    BatchItem,
    BatchResult,
    DeletePath,
    MakeDir,
    PutFile,
    WriteResult,
    WriteState,
)
from syncd.transport.batch_read import ReadItem
from syncd.transport.models import BatchLimits, DownloadResult, Entry, UploadResult


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Server:
    """Files by path (bytes, revision); folders as a set; one revision counter."""

    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    revision: int = 0
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def entry(self, path: str) -> Entry | None:
        if path in self.dirs:
            return Entry(path, Kind.DIR, None, "2026-01-01T00:00:00+00:00", self.revision)
        if path not in self.files:
            return None
        data, revision = self.files[path]
        return Entry(
            path, Kind.FILE, len(data), "2026-01-01T00:00:00+00:00", revision, digest(data)
        )

    def node(self, path: str) -> RemoteNode:
        entry = self.entry(path)
        assert entry is not None
        return entry.to_remote_node()

    def put(self, path: str, data: bytes) -> Entry:
        self.revision += 1
        self.files[path] = (data, self.revision)
        entry = self.entry(path)
        assert entry is not None
        return entry


class FakeBatch:
    def __init__(self, server: Server, limits: BatchLimits) -> None:
        self.server = server
        self.limits = limits
        self.answer: Callable[[BatchItem], WriteResult | None] = lambda item: None
        self.before_write: Callable[[Sequence[BatchItem]], None] = lambda items: None
        self.read_script: Callable[[list[str]], Iterator[ReadItem]] | None = None

    def split(self, items: Sequence[BatchItem]) -> tuple[list[list[BatchItem]], list[PutFile]]:
        return ([list(items)] if items else []), []

    def write(self, workspace_id: str, items: Sequence[BatchItem]) -> BatchResult:
        """Apply each item as the server would, unless ``answer`` shapes its result."""
        self.before_write(items)
        with self.server.lock:
            self.server.calls.append(("batch.write", tuple(i.path for i in items)))
            self.server.revision += 1
            results = []
            for item in items:
                shaped = self.answer(item)
                results.append(shaped if shaped is not None else self._apply(item))
            return BatchResult(self.server.revision, tuple(results))

    def _apply(self, item: BatchItem) -> WriteResult:
        server = self.server
        current = server.entry(item.path)
        if isinstance(item, MakeDir):
            server.dirs.add(item.path)
            return WriteResult(item, WriteState.APPLIED, entry=server.entry(item.path))
        wanted = item.if_revision
        held = current.revision if current is not None else 0
        if wanted is not None and wanted != held:
            error = PreconditionFailed(f"{item.path}: precondition failed")
            return WriteResult(item, WriteState.REFUSED, error=error)
        if isinstance(item, DeletePath):
            if current is None:
                return WriteResult(item, WriteState.REFUSED, error=NotFound(item.path))
            del server.files[item.path]
            return WriteResult(item, WriteState.APPLIED)
        data = Path(item.source).read_bytes()
        server.files[item.path] = (data, server.revision)
        return WriteResult(item, WriteState.APPLIED, entry=server.entry(item.path))

    def read(self, workspace_id: str, paths: Sequence[str]) -> FakeRead:
        with self.server.lock:
            self.server.calls.append(("batch.read", tuple(paths)))
        if self.read_script is not None:
            return FakeRead(self.read_script(list(paths)))
        return FakeRead(self._items(list(paths)))

    def _items(self, paths: list[str]) -> Iterator[ReadItem]:
        for path in paths:
            entry = self.server.entry(path)
            if entry is None:
                yield ReadItem(path, None, NotFound(f"batch read {path}"))
                continue
            item = ReadItem(path, entry, None)
            item.data = self.server.files[path][0]
            yield item


class FakeRead:
    def __init__(self, items: Iterator[ReadItem]) -> None:
        self.items = items

    def __enter__(self) -> Iterator[ReadItem]:
        return self.items

    def __exit__(self, *exc: object) -> None:
        return None


class CutShort(ReadItem):
    """An item whose answer breaks inside its bytes: the transport asks for it again."""

    def chunks(self) -> Iterator[bytes]:
        yield b"half"
        raise ConnectionLost("batch read: the answer was cut short")


class FakeFiles:
    def __init__(self, server: Server) -> None:
        self.server = server

    def _log(self, name: str, path: str) -> None:
        with self.server.lock:
            self.server.calls.append((name, (path,)))

    def upload(self, workspace_id: str, path: str, source: Path, **kwargs: object) -> UploadResult:
        self._log("files.upload", path)
        data = Path(source).read_bytes()
        with self.server.lock:
            self.server.put(path, data)
        return UploadResult(len(data), digest(data), None)

    def download(self, workspace_id: str, path: str, dest: Path, **kwargs: object):
        self._log("files.download", path)
        data = self.server.files[path][0]
        Path(dest).write_bytes(data)
        return DownloadResult(len(data), digest(data), self.server.files[path][1])

    def mkdir(self, workspace_id: str, path: str) -> None:
        self._log("files.mkdir", path)
        self.server.dirs.add(path)

    def delete(self, workspace_id: str, path: str, **kwargs: object) -> None:
        self._log("files.delete", path)
        self.server.files.pop(path, None)
        self.server.dirs.discard(path)

    def list(self, workspace_id: str) -> list[Entry]:
        return [e for p in sorted(self.server.files) if (e := self.server.entry(p)) is not None]


class FakeClient:
    """What ``OpContext.client`` needs: capabilities, files and batch."""

    def __init__(self, server: Server, *, batch: bool = True) -> None:
        limits = BatchLimits(1000, 64 << 20) if batch else None
        self.capabilities = SimpleNamespace(
            batch=limits, conditional=batch, hashes="sha256" if batch else None, max_body=None
        )
        self.files = FakeFiles(server)
        self.batch = FakeBatch(server, limits or BatchLimits(1, 1))


def local_node(root: Path, rel: str) -> LocalNode:
    """The scanner's view of one file under ``root`` now."""
    st = (root / rel).stat()
    return LocalNode(rel, Kind.FILE, st.st_size, st.st_mtime_ns, st.st_ino)
