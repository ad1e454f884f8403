"""``/api/v1/accounts``: the caller's account, or one found by tag (seed 000)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from syncd.protocol import routes
from syncd.server import auth
from syncd.server.http import json_response
from syncd.server.routes.common import Routes, context
from syncd.server.service.errors import NotFound

router = Routes("accounts")


@router.get(routes.ACCOUNT_BY_TAG, summary="AccountResponse by tag")
async def account_by_tag(request: Request, tag: str) -> Response:
    ctx = context(request)
    await ctx.authenticate(request)

    def work() -> dict[str, object]:
        with ctx.db.read() as conn:
            row = auth.get_account_by_tag(conn, tag)
            if row is None:
                raise NotFound(f"no account with tag {tag!r}")
            return auth.account_json(row)

    return json_response(await ctx.run(work))


@router.get(routes.ACCOUNT, summary="AccountResponse (me = the caller)")
async def account(request: Request, account_id: str) -> Response:
    ctx = context(request)
    caller = await ctx.authenticate(request)
    wanted = caller if account_id == "me" else account_id

    def work() -> dict[str, object]:
        with ctx.db.read() as conn:
            row = auth.get_account(conn, wanted)
            if row is None:
                raise NotFound(f"no account {account_id!r}")
            return auth.account_json(row)

    return json_response(await ctx.run(work))
