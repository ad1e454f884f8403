"""``/api/v1/workspaces``: list, create, get, rename, delete (with a backup), active."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from syncd.protocol import routes
from syncd.server import backup, storage
from syncd.server.http import json_response, read_json
from syncd.server.routes.common import Routes, context
from syncd.server.service.errors import InvalidParameter

router = Routes("workspaces")


@router.get(routes.WORKSPACES, summary="WorkspacesResponse")
async def list_workspaces(request: Request) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)

    def work() -> dict[str, object]:
        with ctx.db.read() as conn:
            rows = storage.list_workspaces(conn, account_id)
            return {"workspaces": [storage.workspace_json(conn, row) for row in rows]}

    return json_response(await ctx.run(work))


@router.post(routes.WORKSPACES, status_code=201, summary="create; WorkspaceResponse")
async def create_workspace(request: Request) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    body = await read_json(request)

    def work() -> dict[str, object]:
        with ctx.db.write() as conn:
            row = storage.create_workspace(conn, account_id, body.get("name"))
            return storage.workspace_json(conn, row)

    return json_response(await ctx.run(work), 201)


@router.get(routes.ACTIVE_WORKSPACE, summary="WorkspaceResponse or null")
async def get_active(request: Request) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)

    def work() -> dict[str, object] | None:
        with ctx.db.read() as conn:
            row = storage.get_active(conn, account_id)
            return storage.workspace_json(conn, row) if row is not None else None

    return json_response(await ctx.run(work))


@router.post(routes.ACTIVE_WORKSPACE, summary="set; WorkspaceResponse or null")
async def set_active(request: Request) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    body = await read_json(request)
    if "workspace_id" not in body:
        raise InvalidParameter("workspace_id is required (an id or null)")

    def work() -> dict[str, object] | None:
        with ctx.db.write() as conn:
            row = storage.set_active(conn, account_id, body["workspace_id"])
            return storage.workspace_json(conn, row) if row is not None else None

    return json_response(await ctx.run(work))


@router.get(routes.WORKSPACE, summary="WorkspaceResponse")
async def get_workspace(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)

    def work() -> dict[str, object]:
        with ctx.db.read() as conn:
            return storage.workspace_json(
                conn, storage.get_workspace(conn, account_id, workspace_id)
            )

    return json_response(await ctx.run(work))


@router.patch(routes.WORKSPACE, summary="rename; WorkspaceResponse")
async def rename_workspace(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    body = await read_json(request)
    if "name" not in body:
        raise InvalidParameter("name is required")

    def work() -> dict[str, object]:
        with ctx.db.write() as conn:
            row = storage.rename_workspace(conn, account_id, workspace_id, body["name"])
            return storage.workspace_json(conn, row)

    return json_response(await ctx.run(work))


@router.delete(routes.WORKSPACE, status_code=204, summary="delete, keep a backup")
async def delete_workspace(request: Request, workspace_id: str) -> Response:
    ctx = context(request)
    account_id = await ctx.authenticate(request)
    await ctx.run(
        backup.delete_with_backup,
        ctx.db,
        ctx.store,
        ctx.settings.backup_dir,
        ctx.settings.upload_dir,
        account_id,
        workspace_id,
    )
    await ctx.changed(workspace_id, freed=True)
    return Response(status_code=204)
