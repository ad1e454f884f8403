"""Workspaces and accounts without HTTP: each call one transaction, answers as plain values.

1. A workspace of another account is ``NotFound``, exactly like a missing one.
2. Deleting a workspace writes its backup in the same transaction (``backup.py``).
"""

from __future__ import annotations

from typing import Any

from syncd.server import auth, backup, storage
from syncd.server.context import ServerContext
from syncd.server.service.errors import NotFound

Json = dict[str, Any]


async def list_workspaces(ctx: ServerContext, account_id: str) -> list[Json]:
    def work() -> list[Json]:
        with ctx.db.read() as conn:
            rows = storage.list_workspaces(conn, account_id)
            return [storage.workspace_json(conn, row) for row in rows]

    return await ctx.run(work)


async def create(ctx: ServerContext, account_id: str, name: object) -> Json:
    def work() -> Json:
        with ctx.db.write() as conn:
            row = storage.create_workspace(conn, account_id, name)
            return storage.workspace_json(conn, row)

    return await ctx.run(work)


async def get(ctx: ServerContext, account_id: str, workspace_id: str) -> Json:
    def work() -> Json:
        with ctx.db.read() as conn:
            return storage.workspace_json(
                conn, storage.get_workspace(conn, account_id, workspace_id)
            )

    return await ctx.run(work)


async def require(ctx: ServerContext, account_id: str, workspace_id: str) -> None:
    """Raise the workspace's 404 before a request body is read (a batch needs none)."""

    def work() -> None:
        with ctx.db.read() as conn:
            storage.get_workspace(conn, account_id, workspace_id)

    await ctx.run(work)


async def rename(ctx: ServerContext, account_id: str, workspace_id: str, name: object) -> Json:
    def work() -> Json:
        with ctx.db.write() as conn:
            row = storage.rename_workspace(conn, account_id, workspace_id, name)
            return storage.workspace_json(conn, row)

    return await ctx.run(work)


async def get_active(ctx: ServerContext, account_id: str) -> Json | None:
    def work() -> Json | None:
        with ctx.db.read() as conn:
            row = storage.get_active(conn, account_id)
            return storage.workspace_json(conn, row) if row is not None else None

    return await ctx.run(work)


async def set_active(ctx: ServerContext, account_id: str, workspace_id: object) -> Json | None:
    def work() -> Json | None:
        with ctx.db.write() as conn:
            row = storage.set_active(conn, account_id, workspace_id)
            return storage.workspace_json(conn, row) if row is not None else None

    return await ctx.run(work)


async def delete(ctx: ServerContext, account_id: str, workspace_id: str) -> None:
    """Delete with a backup (PROMISE 2); its blobs are collected in the background."""
    settings = ctx.settings
    await ctx.run(
        backup.delete_with_backup,
        ctx.db,
        ctx.blobs,
        settings.backup_dir,
        settings.upload_dir,
        account_id,
        workspace_id,
    )
    await ctx.changed(workspace_id, freed=True)


async def account(ctx: ServerContext, account_id: str, *, by_tag: bool = False) -> Json:
    """``AccountResponse`` of an account id, or of a tag when ``by_tag``."""

    def work() -> Json:
        with ctx.db.read() as conn:
            if by_tag:
                row = auth.get_account_by_tag(conn, account_id)
                if row is None:
                    raise NotFound(f"no account with tag {account_id!r}")
            else:
                row = auth.get_account(conn, account_id)
                if row is None:
                    raise NotFound(f"no account {account_id!r}")
            return auth.account_json(row)

    return await ctx.run(work)
