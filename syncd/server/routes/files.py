"""``/api/v1/workspaces/{id}/files``: listing, GET (ETag, Range), PUT, DELETE, POST ops.

1. A PUT body goes to memory (small, kept in the database) or to a temp file as it arrives,
   and is published in one transaction after the last byte, so a GET during a PUT sees the
   old or the new content, whole.
2. A download reads an immutable blob; if collection removed it between lookup and open,
   the entry is looked up again (it then names the newer content).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator

from sqlalchemy import Connection
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from syncd.protocol import routes
from syncd.protocol.errors import WireCode
from syncd.server import entries, storage
from syncd.server.blobs import INLINE_MAX
from syncd.server.context import ServerContext
from syncd.server.http import (
    condition_from,
    declared_length,
    digits_value,
    error_body,
    json_response,
    raw_file_path,
    read_json,
    receive_body,
    receive_small,
)
from syncd.server.routes.common import Routes, context, entry_json
from syncd.server.service.errors import Conflict, InvalidParameter, NotFound, workspace_path

router = Routes("files")


class _AnyPath(Convertor):
    """Like ``path``, but also across newlines: a newline must reach the path rules (400)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anypath", _AnyPath())
FILE_ROUTE = routes.FILE.replace("{file_path}", "{file_path:anypath}")
PATH_SKIP = routes.FILE_PATH_AFTER
SMALL = 256 << 10  # read whole and answer from memory below this size
BLOCK = 1 << 20
OCTETS = "application/octet-stream"


@router.get(routes.FILES, summary="WorkspaceFilesResponse")
async def list_files(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)

    def work() -> dict[str, object]:
        with ctx.db.read() as conn:
            storage.get_workspace(conn, account_id, workspace_id)
            rows = entries.list_entries(conn, workspace_id)
        return {"entries": [entry_json(row, ctx.base_only) for row in rows]}

    return json_response(await ctx.run(work))


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end exclusive), None for no usable range, "unsatisfiable" for 416.

    A range we do not understand is ignored (the whole file, as RFC 9110 allows); its
    numbers are ASCII digits only, of any length.
    """
    if header is None or not header.startswith("bytes="):
        return None
    spec = header[len("bytes=") :].strip()
    first, dash, last = spec.partition("-")
    if not dash or "," in spec:
        return None
    start = digits_value(first.strip())
    if start is None:
        return None
    end = size
    if last.strip():
        final = digits_value(last.strip())
        if final is None or final < start:
            return None
        end = min(size, final + 1)
    if start >= size:
        return "unsatisfiable"
    return start, end


@router.get(FILE_ROUTE, summary="download raw bytes (ETag, Range: bytes=N-)")
async def get_file(request: Request, workspace_id: str, file_path: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    path = raw_file_path(request, PATH_SKIP)
    range_header = None if ctx.base_only else request.headers.get("range")

    def work() -> tuple[object, int, str, tuple[int, int] | str | None, bytes | None]:
        for _ in range(5):
            with ctx.db.read() as conn:
                storage.get_workspace(conn, account_id, workspace_id)
                row = entries.get_entry(conn, workspace_id, path)
                if row is None:
                    raise NotFound(f"no entry {path!r}")
                if row.type != "file":
                    raise Conflict(f"{path!r} is a directory, not a file")
                data = ctx.store.inline_bytes(conn, row.hash)
            span = _parse_range(range_header, row.size)
            if data is not None:
                if isinstance(span, tuple):
                    data = data[span[0] : span[1]]
                return None, row.size, str(row.revision), span, data
            try:
                handle = open(ctx.store.path_of(row.hash), "rb")  # noqa: SIM115
            except FileNotFoundError:
                continue  # replaced and collected meanwhile: look again
            if row.size <= SMALL or span == "unsatisfiable":
                with handle:
                    if isinstance(span, tuple):
                        handle.seek(span[0])
                        data = handle.read(span[1] - span[0])
                    else:
                        data = handle.read()
                handle = None
            return handle, row.size, str(row.revision), span, data
        raise NotFound(f"no entry {path!r}")

    handle, size, revision, span, data = await ctx.run(work)
    headers = {} if ctx.base_only else {"ETag": f'"{revision}"', "Accept-Ranges": "bytes"}
    if span == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{size}"
        response = error_body(
            416, WireCode.INVALID_PARAMETER, f"range starts past the end ({size})"
        )
        response.headers.update(headers)
        return response
    status = 200
    start, end = 0, size
    if isinstance(span, tuple):
        start, end = span
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if data is not None:
        return Response(data, status_code=status, media_type=OCTETS, headers=headers)
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        _blocks(handle, start, end), status_code=status, media_type=OCTETS, headers=headers
    )


def _blocks(handle: object, start: int, end: int) -> Iterator[bytes]:
    """The bytes [start, end) of an open blob, in blocks; closes the file at the end."""
    fd = handle.fileno()  # type: ignore[attr-defined]
    try:
        position = start
        while position < end:
            chunk = os.pread(fd, min(BLOCK, end - position), position)
            if not chunk:
                break
            position += len(chunk)
            yield chunk
    finally:
        handle.close()  # type: ignore[attr-defined]


@router.put(FILE_ROUTE, status_code=204, summary="upload raw bytes; parents are created")
async def put_file(request: Request, workspace_id: str, file_path: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    path = raw_file_path(request, PATH_SKIP)
    condition = condition_from(request, ctx.base_only, allow_none_match=True)
    length = declared_length(request)
    if length is not None and length <= INLINE_MAX:
        # No temp file: the bytes go into the group commit (blobs.py PROMISE 5).
        data = await receive_small(request, ctx.settings.max_body)
        blob = (hashlib.sha256(data).hexdigest(), len(data))
        publish = _publisher(ctx, account_id, workspace_id, path, condition, blob, data)
        await ctx.changed(workspace_id, await ctx.db.submit(publish))
        return Response(status_code=204)
    if length is None or length > SMALL:
        await ctx.run(_check_workspace, ctx, account_id, workspace_id)
    temp = ctx.store.temp()
    try:
        await receive_body(request, temp, ctx.settings.max_body)

        def work() -> bool:
            digest = temp.finish()
            publish = _publisher(
                ctx, account_id, workspace_id, path, condition, (digest, temp.size)
            )
            with ctx.store.publishing(ctx.db, temp.path, digest):
                return ctx.db.grouped(publish)

        freed = await ctx.run(work)
    finally:
        temp.discard()
    await ctx.changed(workspace_id, freed)
    return Response(status_code=204)


def _publisher(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    path: str,
    condition: entries.Condition,
    blob: tuple[str, int],
    data: bytes | None = None,
) -> Callable[[Connection], bool]:
    """A PUT's share of a group commit: publish ``blob`` at ``path``; True if one was freed."""

    def publish(conn: Connection) -> bool:
        _, freed = entries.put_file(
            conn,
            ctx.store,
            workspace_id,
            path,
            blob,
            condition,
            ctx.settings.history,
            account_id=account_id,
            data=data,
        )
        return freed

    return publish


def _check_workspace(ctx: object, account_id: str, workspace_id: str) -> None:
    with ctx.db.read() as conn:  # type: ignore[attr-defined]
        storage.get_workspace(conn, account_id, workspace_id)


@router.delete(
    FILE_ROUTE, status_code=204, summary="delete a file, or a directory and its contents"
)
async def delete_file(request: Request, workspace_id: str, file_path: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    path = raw_file_path(request, PATH_SKIP)
    condition = condition_from(request, ctx.base_only, allow_none_match=False)

    def mutate(conn: Connection) -> bool:
        storage.get_workspace(conn, account_id, workspace_id)
        return entries.delete_path(
            conn, ctx.store, workspace_id, path, condition, ctx.settings.history
        )

    await ctx.changed(workspace_id, await ctx.db.submit(mutate))
    return Response(status_code=204)


@router.post(FILE_ROUTE, status_code=204, summary='{"op": "mkdir" | "move" | "copy", "dest"?}')
async def file_op(request: Request, workspace_id: str, file_path: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    path = raw_file_path(request, PATH_SKIP)
    condition = condition_from(request, ctx.base_only, allow_none_match=False)
    body = await read_json(request)
    op = body.get("op")
    if op not in ("mkdir", "move", "copy"):
        raise InvalidParameter('op must be "mkdir", "move" or "copy"')
    dest = None
    if op != "mkdir":
        if not isinstance(body.get("dest"), str):
            raise InvalidParameter(f"{op} needs a string dest")
        dest = workspace_path(body["dest"])

    def mutate(conn: Connection) -> None:
        storage.get_workspace(conn, account_id, workspace_id)
        history = ctx.settings.history
        if dest is None:
            entries.mkdir(conn, workspace_id, path, condition, history)
        else:
            entries.transfer(
                conn,
                ctx.store,
                workspace_id,
                path,
                dest,
                condition,
                history,
                is_move=op == "move",
            )

    await ctx.db.submit(mutate)
    await ctx.changed(workspace_id)
    return Response(status_code=204)
