"""``/api/v1/workspaces/{id}/batch`` (E5) and ``/batch-read`` (E6): HTTP only.

1. A batch write is answered only after its one commit is on disk; the change wakes long
   polls once, however many records it holds.
2. A batch read's body is one strict-JSON object, parsed as a record line is (a key
   twice, NaN, a nesting too deep are 400, never 500). Its snapshot is taken before the
   answer starts, so a refusal (400, 404, 413) is a JSON error; its pins, when it needs any
   (``batch_read`` PROMISE 1), are dropped when the answer ends, sent or cut short.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from functools import partial

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from syncd.protocol import routes
from syncd.protocol.batch import parse_read_request
from syncd.protocol.errors import WireCode
from syncd.protocol.records import MAX_LINE, MEDIA_TYPE, Limits, parse_line
from syncd.server.http import json_response
from syncd.server.routes.common import Routes, context, entry_json
from syncd.server.service import batch, batch_read, workspaces
from syncd.server.service.errors import InvalidParameter, TooLarge, shared_rules

router = Routes("extensions")
PATH_BYTES = 12 << 10  # a path of 4096 bytes, JSON-escaped at worst, with its quotes


def _require_records(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != MEDIA_TYPE:
        raise InvalidParameter(f"the body must be {MEDIA_TYPE}")


def _result_json(result: batch.Result) -> dict[str, object]:
    if result.error is None:
        body: dict[str, object] = {"path": result.path, "status": 200}
        if result.entry is not None:
            body["entry"] = entry_json(result.entry, False)  # type: ignore[arg-type]
        return body
    error = result.error
    message = str(error) if error.code is not WireCode.INTERNAL else "internal server error"
    return {"path": result.path, "status": error.status, "error": error.code, "message": message}


@router.post(routes.BATCH, summary="apply a record stream of writes in one transaction")
async def batch_write(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    _require_records(request)
    await workspaces.require(ctx, account_id, workspace_id)  # a 404 needs no body
    settings = ctx.settings
    limits = Limits(
        max_records=settings.batch_max_items,
        max_payload=settings.max_body,
        max_total=settings.batch_max_bytes,
    )
    staged = await batch.receive(request.stream(), ctx.blobs, limits, ctx.run)
    try:
        outcome = await batch.commit(
            ctx.db,
            ctx.blobs,
            staged,
            ctx.run,
            workspace_id=workspace_id,
            account_id=account_id,
            history=settings.history,
        )
    finally:
        batch.discard(staged)
    if outcome.changed:
        await ctx.changed(workspace_id, outcome.freed)
    return json_response(
        {"revision": outcome.revision, "results": [_result_json(r) for r in outcome.results]}
    )


class _PinnedAnswer(StreamingResponse):
    """A streamed answer that runs ``on_close`` when it ends, sent whole or cut short."""

    def __init__(self, *args: object, on_close: Callable[[], Awaitable[None]], **kw: object):
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._on_close()


async def _small_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``limit`` (declared or not)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the body is larger than {limit} bytes")
    return bytes(body)


@router.post(routes.BATCH_READ, summary="many files from one committed state")
async def batch_read_files(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    max_items = ctx.settings.batch_max_items
    body = await _small_body(request, limit=max_items * PATH_BYTES + MAX_LINE)
    with shared_rules():
        paths = parse_read_request(parse_line(body), max_items)
    whole = await ctx.run(
        partial(
            batch_read.read_whole,
            ctx.db,
            account_id=account_id,
            workspace_id=workspace_id,
            paths=paths,
        )
    )
    if whole is not None:  # every byte in memory: no pins, no trip through the commit thread
        found, data = whole
        return StreamingResponse(
            batch_read.answer(ctx.db, ctx.blobs, found, data), media_type=MEDIA_TYPE
        )
    holder = secrets.token_hex(8)
    found, is_pinned = await ctx.db.submit(
        partial(
            batch_read.snapshot,
            account_id=account_id,
            workspace_id=workspace_id,
            paths=paths,
            holder=holder,
        )
    )

    async def unpin() -> None:
        if is_pinned and await ctx.db.submit(partial(batch_read.unpin, holder=holder)):
            ctx.collect_soon()

    return _PinnedAnswer(
        batch_read.answer(ctx.db, ctx.blobs, found), media_type=MEDIA_TYPE, on_close=unpin
    )
