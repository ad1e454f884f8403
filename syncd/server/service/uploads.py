"""E3 resumable uploads without HTTP: begin, write a chunk, resume point, abort, commit.

1. A chunk is written at its offset, fsynced, then the new offset is recorded (in a group
   commit); a chunk at any other offset is ``OffsetMismatch`` carrying the server's offset.
2. One chunk at a time per session: an asyncio lock in the process, and an exclusive
   ``flock`` on the session's file for server processes sharing the data directory (a
   chunk retried on another process while the first still runs). The offset is read
   again under the lock, so a chunk never truncates bytes another one recorded.
3. Commit checks the bytes on disk against the declared size and hash, and publishes them
   like a PUT, honouring the condition. The hash is the one kept while the chunks arrived,
   or, after a restart, a pass over the file.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterable
from typing import Any

from sqlalchemy import Connection, Row

from syncd.server import entries, storage
from syncd.server import uploads as sessions
from syncd.server.blobs import blob_digest
from syncd.server.context import ServerContext
from syncd.server.service.errors import InvalidParameter, OffsetMismatch, TooLarge


async def begin(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    path: str,
    size: int,
    digest: str | None,
) -> dict[str, object]:
    """A new session with its (empty) file; the answer of the begin request."""

    def work() -> dict[str, object]:
        with ctx.db.write() as conn:
            storage.get_workspace(conn, account_id, workspace_id)
            row = sessions.create(conn, workspace_id, path, size, digest, ctx.settings.upload_ttl)
            (ctx.settings.upload_dir / row.id).touch(mode=0o600)
            return sessions.session_json(row, ctx.settings.chunk_size)

    return await ctx.run(work)


def _session(ctx: ServerContext, account_id: str, workspace_id: str, upload_id: str) -> Row:
    with ctx.db.read() as conn:
        storage.get_workspace(conn, account_id, workspace_id)
        return sessions.get(conn, workspace_id, upload_id)


async def session(ctx: ServerContext, account_id: str, workspace_id: str, upload_id: str) -> Row:
    """The session row (its resume point); ``NotFound`` when missing or expired."""
    return await ctx.run(_session, ctx, account_id, workspace_id, upload_id)


# The body arrives in pieces of a few KiB; writing and hashing them in blocks of this size in
# a worker thread (hashlib and pwrite release the GIL) keeps the event loop receiving.
WRITE_BLOCK = 1 << 20


def write_block(fd: int, block: bytes, position: int, hasher: Any) -> None:
    """Write ``block`` at ``position`` and feed it to the running hash, in that order."""
    view = memoryview(block)
    while view:
        n = os.pwrite(fd, view, position)
        view, position = view[n:], position + n
    if hasher is not None:
        hasher.update(block)


async def write_chunk(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    upload_id: str,
    offset: int,
    length: int | None,
    chunks: AsyncIterable[bytes],
) -> int:
    """Write ``chunks`` at ``offset`` (PROMISE 1, 2); the new offset. ``length`` is the
    declared size of the chunk, if any; a chunk cut short leaves the offset where it was."""
    limit = ctx.settings.chunk_size
    if length is not None and length > limit:
        raise TooLarge(f"a chunk is at most {limit} bytes")
    async with ctx.upload_lock(upload_id):
        row = await session(ctx, account_id, workspace_id, upload_id)
        sessions.check_offset(row, offset)
        fd = os.open(ctx.settings.upload_dir / upload_id, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            await ctx.run(fcntl.flock, fd, fcntl.LOCK_EX)  # PROMISE 2, across processes
            row = await session(ctx, account_id, workspace_id, upload_id)  # after the lock:
            sessions.check_offset(row, offset)  # another process's chunk may have landed
            if length is not None and offset + length > row.size:
                raise InvalidParameter(f"the chunk would pass the declared size {row.size}")
            hasher = ctx.upload_hashes.resume(upload_id, offset)
            os.ftruncate(fd, offset)
            position = offset
            written = offset
            pending = bytearray()
            async for chunk in chunks:
                if not chunk:
                    continue
                if position + len(chunk) > row.size:
                    raise InvalidParameter(f"the chunk would pass the declared size {row.size}")
                if position - offset + len(chunk) > limit:
                    raise TooLarge(f"a chunk is at most {limit} bytes")
                pending += chunk
                position += len(chunk)
                if len(pending) >= WRITE_BLOCK:
                    await ctx.run(write_block, fd, bytes(pending), written, hasher)
                    written += len(pending)
                    pending.clear()
            if pending:
                await ctx.run(write_block, fd, bytes(pending), written, hasher)

            await ctx.run(os.fsync, fd)

            def advance(conn: Connection) -> None:
                sessions.advance(conn, workspace_id, upload_id, offset, position)

            await ctx.db.submit(advance)
            ctx.upload_hashes.keep(upload_id, position, hasher)
        except OffsetMismatch:
            raise  # refused before a byte was written: the bytes there are someone's
        except BaseException:
            os.ftruncate(fd, offset)
            raise
        finally:
            os.close(fd)  # and the lock with it
    return position


async def abort(ctx: ServerContext, account_id: str, workspace_id: str, upload_id: str) -> None:
    """Drop the session and its bytes."""

    def work() -> None:
        with ctx.db.write() as conn:
            storage.get_workspace(conn, account_id, workspace_id)
            sessions.get(conn, workspace_id, upload_id)
            sessions.remove(conn, upload_id)
            (ctx.settings.upload_dir / upload_id).unlink(missing_ok=True)

    async with ctx.upload_lock(upload_id):
        await ctx.run(work)
        ctx.upload_hashes.forget(upload_id)


async def commit(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    upload_id: str,
    condition: entries.Condition,
) -> entries.Entry:
    """Verify the session's bytes and publish them at its path (PROMISE 3); the new entry."""
    file = ctx.settings.upload_dir / upload_id

    def work() -> tuple[entries.Entry, bool]:
        row = _session(ctx, account_id, workspace_id, upload_id)
        if row.offset != row.size:
            raise InvalidParameter(f"the upload has {row.offset} of {row.size} bytes")
        size = file.stat().st_size
        digest = ctx.upload_hashes.digest(upload_id, size)
        if digest is None:  # not kept (a restart): one pass over the file
            digest, size = blob_digest(file)
        if size != row.size:
            raise InvalidParameter(f"the upload holds {size} bytes, not {row.size}")
        if row.hash is not None and row.hash != digest:
            raise InvalidParameter("the uploaded bytes do not match the declared hash")
        with ctx.db.read() as conn:  # refuse before the bytes leave the session
            condition.check(entries.get_entry(conn, workspace_id, row.path))
        staged = ctx.blobs.stage(file, upload_id)  # the session keeps its bytes if refused

        def publish(conn: Connection) -> tuple[entries.Entry, bool]:
            sessions.get(conn, workspace_id, upload_id)
            published = entries.put_file(
                conn,
                ctx.blobs,
                workspace_id,
                row.path,
                (digest, size),
                condition,
                ctx.settings.history,
                account_id=account_id,
                copy=staged,
            )
            sessions.remove(conn, upload_id)
            return published

        with ctx.blobs.publishing(ctx.db, staged, digest):
            entry, freed = ctx.db.grouped(publish)
        file.unlink(missing_ok=True)
        ctx.upload_hashes.forget(upload_id)
        return entry, freed

    async with ctx.upload_lock(upload_id):
        entry, freed = await ctx.run(work)
    await ctx.changed(workspace_id, freed)
    return entry
