"""``/api/v1/workspaces/{id}/changes`` (E2) and ``/api/v1/capabilities``.

HTTP only: the query is parsed here, the long poll is ``service/feed.py``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from syncd.protocol import routes
from syncd.server.changes import ChangePage
from syncd.server.http import INT64_MAX, int_query, json_response
from syncd.server.routes.common import Routes, context, entry_json
from syncd.server.service import feed

router = Routes("extensions")


@router.get(routes.CAPABILITIES, summary="which extensions this server has")
async def capabilities(request: Request) -> Response:
    ctx = context(request)
    await ctx.authenticate(request)
    return json_response(
        {
            "changes": True,
            "uploads": True,
            "conditional": True,
            "hashes": "sha256",
            "max_body": ctx.settings.max_body,
            "batch": {
                "max_items": ctx.settings.batch_max_items,
                "max_bytes": ctx.settings.batch_max_bytes,
            },
        }
    )


def page_json(page: ChangePage) -> dict[str, object]:
    return {
        "end_revision": page.end_revision,
        "created": [entry_json(row, False) for row in page.created],
        "updated": [entry_json(row, False) for row in page.updated],
        "deleted": [
            {"path": row.path, "type": row.type, "revision": row.revision} for row in page.deleted
        ],
        "has_more": page.has_more,
    }


@router.get(routes.CHANGES, summary="change feed, long poll")
async def get_changes(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    from_revision = int_query(request, "from_revision", None, 0, INT64_MAX)
    limit = int_query(request, "limit", 1000, 1, 10000)
    wait = int_query(request, "wait", 0, 0, 60)
    page = await feed.next_page(ctx, account_id, workspace_id, from_revision, limit, wait)
    return json_response(page_json(page))
