"""The file resources without HTTP: listing, opening a download, writing, deleting, ops.

1. A write is published in one transaction after its last byte (``put_bytes`` for a small
   body in the group commit, ``put_temp`` for a spooled one), so a reader sees the old or
   the new content, whole.
2. ``open_download`` reads an immutable blob; if collection removed it between lookup and
   open, the entry is looked up again (it then names the newer content).
3. Every function checks that the workspace belongs to the caller, in the same
   transaction as its work, and wakes long polls after a commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from sqlalchemy import Connection, Row

from syncd.server import entries, storage
from syncd.server.blobs import TempBlob
from syncd.server.blobstore import BlobMissing
from syncd.server.context import ServerContext
from syncd.server.service.errors import Conflict, NotFound

SMALL = 256 << 10  # read whole and answer from memory below this size
BLOCK = 1 << 20
ATTEMPTS = 5  # lookups of an entry whose blob vanished under the open
Span = tuple[int, int] | Literal["unsatisfiable"] | None  # [start, end) of a range request


@dataclass(frozen=True, slots=True)
class Download:
    """An opened file: its bytes in memory (``data``), or an open blob to stream."""

    size: int
    revision: int
    span: Span
    data: bytes | None = None
    handle: BinaryIO | None = None


async def list_files(ctx: ServerContext, account_id: str, workspace_id: str) -> list[Row]:
    def work() -> list[Row]:
        with ctx.db.read() as conn:
            storage.get_workspace(conn, account_id, workspace_id)
            return list(entries.list_entries(conn, workspace_id))

    return await ctx.run(work)


async def check_workspace(ctx: ServerContext, account_id: str, workspace_id: str) -> None:
    """Refuse (404) before a large body is received for a workspace that is not there."""

    def work() -> None:
        with ctx.db.read() as conn:
            storage.get_workspace(conn, account_id, workspace_id)

    await ctx.run(work)


async def open_download(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    path: str,
    span_of: Callable[[int], Span],
) -> Download:
    """The file at ``path`` with the span ``span_of(size)`` picks (PROMISE 2)."""

    def work() -> Download:
        for _ in range(ATTEMPTS):
            with ctx.db.read() as conn:
                storage.get_workspace(conn, account_id, workspace_id)
                row = entries.get_entry(conn, workspace_id, path)
                if row is None:
                    raise NotFound(f"no entry {path!r}")
                if row.type != "file":
                    raise Conflict(f"{path!r} is a directory, not a file")
                data = ctx.blobs.inline_bytes(conn, row.hash)
            span = span_of(row.size)
            if data is not None:
                if isinstance(span, tuple):
                    data = data[span[0] : span[1]]
                return Download(row.size, row.revision, span, data=data)
            try:
                handle = ctx.blobs.open(row.hash)
            except BlobMissing:
                continue  # replaced and collected meanwhile: look again
            if row.size <= SMALL or span == "unsatisfiable":
                with handle:
                    if isinstance(span, tuple):
                        handle.seek(span[0])
                        data = handle.read(span[1] - span[0])
                    else:
                        data = handle.read()
                return Download(row.size, row.revision, span, data=data)
            return Download(row.size, row.revision, span, handle=handle)
        raise NotFound(f"no entry {path!r}")

    return await ctx.run(work)


def blocks(handle: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """The bytes [start, end) of an open blob, in blocks; closes the file at the end."""
    try:
        handle.seek(start)
        position = start
        while position < end:
            chunk = handle.read(min(BLOCK, end - position))
            if not chunk:
                break
            position += len(chunk)
            yield chunk
    finally:
        handle.close()


async def put_bytes(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    path: str,
    condition: entries.Condition,
    data: bytes,
) -> None:
    """A small body: no temp file, the bytes go into the group commit (blobs.py PROMISE 5)."""
    blob = (hashlib.sha256(data).hexdigest(), len(data))
    publish = _publisher(ctx, account_id, workspace_id, path, condition, blob, data)
    await ctx.changed(workspace_id, await ctx.db.submit(publish))


async def put_temp(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    path: str,
    condition: entries.Condition,
    temp: TempBlob,
) -> None:
    """A body spooled to ``temp``: placed as a blob, then published in a group commit."""

    def work() -> bool:
        digest = temp.finish()
        blob = (digest, temp.size)
        with ctx.blobs.publishing(ctx.db, temp.path, digest) as copy:
            publish = _publisher(ctx, account_id, workspace_id, path, condition, blob, copy=copy)
            return ctx.db.grouped(publish)

    await ctx.changed(workspace_id, await ctx.run(work))


def _publisher(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    path: str,
    condition: entries.Condition,
    blob: tuple[str, int],
    data: bytes | None = None,
    copy: Path | None = None,
) -> Callable[[Connection], bool]:
    """A PUT's share of a group commit: publish ``blob`` at ``path``; True if one was freed."""

    def publish(conn: Connection) -> bool:
        _, freed = entries.put_file(
            conn,
            ctx.blobs,
            workspace_id,
            path,
            blob,
            condition,
            ctx.settings.history,
            account_id=account_id,
            data=data,
            copy=copy,
        )
        return freed

    return publish


async def delete(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    path: str,
    condition: entries.Condition,
) -> None:
    """A file, or a directory with its contents."""

    def mutate(conn: Connection) -> bool:
        storage.get_workspace(conn, account_id, workspace_id)
        return entries.delete_path(
            conn, ctx.blobs, workspace_id, path, condition, ctx.settings.history
        )

    await ctx.changed(workspace_id, await ctx.db.submit(mutate))


async def apply_op(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    path: str,
    condition: entries.Condition,
    *,
    dest: str | None,
    is_move: bool = False,
) -> None:
    """``mkdir`` when ``dest`` is None, else a move or a copy of ``path`` to ``dest``."""

    def mutate(conn: Connection) -> None:
        storage.get_workspace(conn, account_id, workspace_id)
        history = ctx.settings.history
        if dest is None:
            entries.mkdir(conn, workspace_id, path, condition, history)
        else:
            entries.transfer(
                conn, ctx.blobs, workspace_id, path, dest, condition, history, is_move=is_move
            )

    await ctx.db.submit(mutate)
    await ctx.changed(workspace_id)
