"""``/api/v1/accounts``: the caller's account, or one found by tag (seed 000). HTTP only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from syncd.protocol import routes
from syncd.server.http import json_response
from syncd.server.routes.common import Routes, context
from syncd.server.service import workspaces

router = Routes("accounts")


@router.get(routes.ACCOUNT_BY_TAG, summary="AccountResponse by tag")
async def account_by_tag(request: Request, tag: str) -> Response:
    ctx = context(request)
    await ctx.authenticate(request)
    return json_response(await workspaces.account(ctx, tag, by_tag=True))


@router.get(routes.ACCOUNT, summary="AccountResponse (me = the caller)")
async def account(request: Request, account_id: str) -> Response:
    ctx = context(request)
    caller = await ctx.authenticate(request)
    wanted = caller if account_id == "me" else account_id
    return json_response(await workspaces.account(ctx, wanted))
