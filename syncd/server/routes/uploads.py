"""``/api/v1/workspaces/{id}/uploads`` (E3): resumable chunked uploads, HTTP only.

The request's fields, offset and condition are parsed here; writing chunks, verifying and
publishing live in ``service/uploads.py``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from syncd.protocol import routes
from syncd.server import uploads as sessions
from syncd.server.entries import NO_CONDITION, Condition
from syncd.server.http import INT64_MAX, declared_length, int_query, json_response, read_json
from syncd.server.routes.common import Routes, context, entry_json
from syncd.server.service import uploads
from syncd.server.service.errors import InvalidParameter, workspace_path

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
    answer = await uploads.begin(ctx, account_id, workspace_id, path, size, digest)
    return json_response(answer, 201)


@router.put(routes.UPLOAD, summary="append a chunk at ?offset=N")
async def put_chunk(request: Request, workspace_id: str, upload_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    offset = int_query(request, "offset", None, 0, INT64_MAX)
    length = declared_length(request)
    position = await uploads.write_chunk(
        ctx, account_id, workspace_id, upload_id, offset, length, request.stream()
    )
    return json_response({"offset": position})


@router.get(routes.UPLOAD, summary="resume point")
async def get_upload(request: Request, workspace_id: str, upload_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    row = await uploads.session(ctx, account_id, workspace_id, upload_id)
    return json_response({"offset": row.offset, "size": row.size})


@router.delete(routes.UPLOAD, status_code=204, summary="abort")
async def abort(request: Request, workspace_id: str, upload_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    await uploads.abort(ctx, account_id, workspace_id, upload_id)
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
    entry = await uploads.commit(ctx, account_id, workspace_id, upload_id, condition)
    return json_response(entry_json(entry, False))
