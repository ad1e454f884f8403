"""``/api/v1/workspaces/{id}/uploads`` (E3): resumable chunked uploads.

1. A chunk is written at its offset, fsynced, then the new offset is recorded (in a group
   commit); a chunk at any other offset is 409 ``offset_mismatch`` carrying the server's
   offset.
2. One chunk at a time per session (an asyncio lock), so two racing chunks cannot interleave.
3. Commit checks the bytes on disk against the declared size and hash, and publishes them
   like a PUT, honouring ``if_revision`` (0 = must not exist). The hash is the one kept
   while the chunks arrived, or, after a restart, a pass over the file.
"""

from __future__ import annotations

import os

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from syncd.protocol import routes
from syncd.server import entries, storage
from syncd.server import uploads as sessions
from syncd.server.blobs import hash_file
from syncd.server.entries import NO_CONDITION, Condition
from syncd.server.http import INT64_MAX, declared_length, int_query, json_response, read_json
from syncd.server.routes.common import Routes, context, entry_json
from syncd.server.service.errors import InvalidParameter, TooLarge, workspace_path

router = Routes("extensions")


@router.post(routes.UPLOADS, status_code=201, summary="begin an upload session")
async def begin(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    body = await read_json(request)
    if not isinstance(body.get("path"), str):
        raise InvalidParameter("path is required")
    path = workspace_path(body["path"])
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= INT64_MAX:
        raise InvalidParameter(f"size must be an integer from 0 to {INT64_MAX}")
    digest = sessions.parse_hash(body.get("hash"))

    def work() -> dict[str, object]:
        with ctx.db.write() as conn:
            storage.get_workspace(conn, account_id, workspace_id)
            row = sessions.create(conn, workspace_id, path, size, digest, ctx.settings.upload_ttl)
            (ctx.settings.upload_dir / row.id).touch(mode=0o600)
            return sessions.session_json(row, ctx.settings.chunk_size)

    return json_response(await ctx.run(work), 201)


def _session(ctx: object, account_id: str, workspace_id: str, upload_id: str):
    with ctx.db.read() as conn:  # type: ignore[attr-defined]
        storage.get_workspace(conn, account_id, workspace_id)
        return sessions.get(conn, workspace_id, upload_id)


@router.put(routes.UPLOAD, summary="append a chunk at ?offset=N")
async def put_chunk(request: Request, workspace_id: str, upload_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    offset = int_query(request, "offset", None, 0, INT64_MAX)
    length = declared_length(request)
    if length is not None and length > ctx.settings.chunk_size:
        raise TooLarge(f"a chunk is at most {ctx.settings.chunk_size} bytes")
    async with ctx.upload_lock(upload_id):
        row = await ctx.run(_session, ctx, account_id, workspace_id, upload_id)
        sessions.check_offset(row, offset)
        if length is not None and offset + length > row.size:
            raise InvalidParameter(f"the chunk would pass the declared size {row.size}")
        hasher = ctx.upload_hashes.resume(upload_id, offset)
        fd = os.open(ctx.settings.upload_dir / upload_id, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.ftruncate(fd, offset)
            position = offset
            async for chunk in request.stream():
                if not chunk:
                    continue
                if position + len(chunk) > row.size:
                    raise InvalidParameter(f"the chunk would pass the declared size {row.size}")
                if position - offset + len(chunk) > ctx.settings.chunk_size:
                    raise TooLarge(f"a chunk is at most {ctx.settings.chunk_size} bytes")
                os.pwrite(fd, chunk, position)
                if hasher is not None:
                    hasher.update(chunk)
                position += len(chunk)
            await ctx.run(os.fsync, fd)

            def advance(conn: Connection) -> None:
                sessions.advance(conn, workspace_id, upload_id, offset, position)

            await ctx.db.submit(advance)
            ctx.upload_hashes.keep(upload_id, position, hasher)
        except BaseException:
            os.ftruncate(fd, offset)
            raise
        finally:
            os.close(fd)
    return json_response({"offset": position})


@router.get(routes.UPLOAD, summary="resume point")
async def get_upload(request: Request, workspace_id: str, upload_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    row = await ctx.run(_session, ctx, account_id, workspace_id, upload_id)
    return json_response({"offset": row.offset, "size": row.size})


@router.delete(routes.UPLOAD, status_code=204, summary="abort")
async def abort(request: Request, workspace_id: str, upload_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)

    def work() -> None:
        with ctx.db.write() as conn:
            storage.get_workspace(conn, account_id, workspace_id)
            sessions.get(conn, workspace_id, upload_id)
            sessions.remove(conn, upload_id)
            (ctx.settings.upload_dir / upload_id).unlink(missing_ok=True)

    async with ctx.upload_lock(upload_id):
        await ctx.run(work)
        ctx.upload_hashes.forget(upload_id)
    return Response(status_code=204)


def _condition(body: dict[str, object]) -> Condition:
    value = body.get("if_revision")
    if value is None:
        return NO_CONDITION
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= INT64_MAX:
        raise InvalidParameter(f"if_revision must be an integer from 0 to {INT64_MAX} or null")
    return Condition(must_not_exist=True) if value == 0 else Condition(if_match=value)


@router.post(routes.UPLOAD_COMMIT, summary="verify and publish; entry")
async def commit(request: Request, workspace_id: str, upload_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    condition = _condition(await read_json(request))
    file = ctx.settings.upload_dir / upload_id

    def work() -> tuple[dict[str, object], bool]:
        row = _session(ctx, account_id, workspace_id, upload_id)
        if row.offset != row.size:
            raise InvalidParameter(f"the upload has {row.offset} of {row.size} bytes")
        size = file.stat().st_size
        digest = ctx.upload_hashes.digest(upload_id, size)
        if digest is None:  # not kept (a restart): one pass over the file
            digest, size = hash_file(file)
        if size != row.size:
            raise InvalidParameter(f"the upload holds {size} bytes, not {row.size}")
        if row.hash is not None and row.hash != digest:
            raise InvalidParameter("the uploaded bytes do not match the declared hash")
        with ctx.db.read() as conn:  # refuse before the bytes leave the session
            condition.check(entries.get_entry(conn, workspace_id, row.path))
        staged = ctx.store.tmp / f"{upload_id}.commit"
        staged.unlink(missing_ok=True)
        os.link(file, staged)  # the session keeps its bytes if the commit is refused

        def publish(conn: Connection) -> tuple[entries.Entry, bool]:
            sessions.get(conn, workspace_id, upload_id)
            published = entries.put_file(
                conn,
                ctx.store,
                workspace_id,
                row.path,
                (digest, size),
                condition,
                ctx.settings.history,
                account_id=account_id,
            )
            sessions.remove(conn, upload_id)
            return published

        with ctx.store.publishing(ctx.db, staged, digest):
            entry, freed = ctx.db.grouped(publish)
        file.unlink(missing_ok=True)
        ctx.upload_hashes.forget(upload_id)
        return entry_json(entry, False), freed

    async with ctx.upload_lock(upload_id):
        body, freed = await ctx.run(work)
    await ctx.changed(workspace_id, freed)
    return json_response(body)
