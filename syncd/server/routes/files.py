"""``/api/v1/workspaces/{id}/files``: listing, GET (ETag, Range), PUT, DELETE, POST ops.

HTTP only: the path from the raw target, the conditions, the body as it arrives, the
answer's status and headers. Reading and publishing are ``service/files.py``.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from syncd.protocol import routes
from syncd.protocol.errors import WireCode
from syncd.server.blobs import INLINE_MAX
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
from syncd.server.service import files
from syncd.server.service.errors import InvalidParameter, workspace_path

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
OCTETS = "application/octet-stream"


@router.get(routes.FILES, summary="WorkspaceFilesResponse")
async def list_files(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)

    rows = await files.list_files(ctx, account_id, workspace_id)
    return json_response({"entries": [entry_json(row, ctx.base_only) for row in rows]})


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
    found = await files.open_download(
        ctx, account_id, workspace_id, path, lambda size: _parse_range(range_header, size)
    )
    size, revision, span, data = found.size, found.revision, found.span, found.data
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
    assert found.handle is not None
    return StreamingResponse(
        files.blocks(found.handle, start, end),
        status_code=status,
        media_type=OCTETS,
        headers=headers,
    )


@router.put(FILE_ROUTE, status_code=204, summary="upload raw bytes; parents are created")
async def put_file(request: Request, workspace_id: str, file_path: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    path = raw_file_path(request, PATH_SKIP)
    condition = condition_from(request, ctx.base_only, allow_none_match=True)
    length = declared_length(request)
    if length is not None and length <= INLINE_MAX:
        data = await receive_small(request, ctx.settings.max_body)
        await files.put_bytes(ctx, account_id, workspace_id, path, condition, data)
        return Response(status_code=204)
    if length is None or length > files.SMALL:
        await files.check_workspace(ctx, account_id, workspace_id)
    temp = ctx.blobs.temp()
    try:
        await receive_body(request, temp, ctx.settings.max_body)
        await files.put_temp(ctx, account_id, workspace_id, path, condition, temp)
    finally:
        temp.discard()
    return Response(status_code=204)


@router.delete(
    FILE_ROUTE, status_code=204, summary="delete a file, or a directory and its contents"
)
async def delete_file(request: Request, workspace_id: str, file_path: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    path = raw_file_path(request, PATH_SKIP)
    condition = condition_from(request, ctx.base_only, allow_none_match=False)
    await files.delete(ctx, account_id, workspace_id, path, condition)
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

    await files.apply_op(
        ctx, account_id, workspace_id, path, condition, dest=dest, is_move=op == "move"
    )
    return Response(status_code=204)
