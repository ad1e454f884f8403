"""``/api/v1/workspaces``: list, create, get, rename, delete (with a backup), active.

HTTP only: the transactions are ``service/workspaces.py``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from syncd.protocol import routes
from syncd.server.http import json_response, read_json
from syncd.server.routes.common import Routes, context
from syncd.server.service import workspaces
from syncd.server.service.errors import InvalidParameter

router = Routes("workspaces")


@router.get(routes.WORKSPACES, summary="WorkspacesResponse")
async def list_workspaces(request: Request) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    return json_response({"workspaces": await workspaces.list_workspaces(ctx, account_id)})


@router.post(routes.WORKSPACES, status_code=201, summary="create; WorkspaceResponse")
async def create_workspace(request: Request) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    body = await read_json(request)
    return json_response(await workspaces.create(ctx, account_id, body.get("name")), 201)


@router.get(routes.ACTIVE_WORKSPACE, summary="WorkspaceResponse or null")
async def get_active(request: Request) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    return json_response(await workspaces.get_active(ctx, account_id))


@router.post(routes.ACTIVE_WORKSPACE, summary="set; WorkspaceResponse or null")
async def set_active(request: Request) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    body = await read_json(request)
    if "workspace_id" not in body:
        raise InvalidParameter("workspace_id is required (an id or null)")
    return json_response(await workspaces.set_active(ctx, account_id, body["workspace_id"]))


@router.get(routes.WORKSPACE, summary="WorkspaceResponse")
async def get_workspace(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    return json_response(await workspaces.get(ctx, account_id, workspace_id))


@router.patch(routes.WORKSPACE, summary="rename; WorkspaceResponse")
async def rename_workspace(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    body = await read_json(request)
    if "name" not in body:
        raise InvalidParameter("name is required")
    return json_response(await workspaces.rename(ctx, account_id, workspace_id, body["name"]))


@router.delete(routes.WORKSPACE, status_code=204, summary="delete, keep a backup")
async def delete_workspace(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    await workspaces.delete(ctx, account_id, workspace_id)
    return Response(status_code=204)
