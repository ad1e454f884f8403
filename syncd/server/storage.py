"""Workspaces and their revision counter: metadata only, no HTTP.

1. A workspace of another account is ``NotFound``, exactly like a missing one.
2. ``bump`` issues the next revision of a workspace: one per mutating request, strictly
   increasing, never reused (the row outlives DELETE so a restore continues the count).
3. With a history limit, ``bump`` raises the history floor and drops older tombstones in
   the same transaction, so a pruned cursor is refused rather than answered wrongly.
4. Every change to a workspace's entries begins with ``bump`` (or ``hold``), whose row
   lock orders it after every other such change on any server process: what it reads
   next is committed and stays so until it commits. ``hold`` gives a reader (a batch read,
   a backup) the same footing: no write to the workspace lands until the reader commits.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update

from syncd.server.auth import new_id
from syncd.server.compiled import Compiled
from syncd.server.db import announce
from syncd.server.schema import accounts, entries, tombstones, workspaces
from syncd.server.service.errors import InvalidParameter, NotFound
from syncd.server.timefmt import now_iso

MAX_NAME = 255


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidParameter("name must be a non-empty string of at most 255 characters")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in name):
        raise InvalidParameter("name must not contain control characters")
    return name


# Built once: every write runs these under the write lock.
_LIVE = select(workspaces).where(
    workspaces.c.id == bindparam("ws"),
    workspaces.c.account_id == bindparam("account"),
    workspaces.c.deleted_time.is_(None),
)
_BUMP_SQL = (  # issues the revision and reads the floor in one statement
    update(workspaces)
    .where(workspaces.c.id == bindparam("ws"))
    .values(revision=workspaces.c.revision + 1, modified_time=bindparam("now"))
    .returning(workspaces.c.revision, workspaces.c.history_floor)
)
_BUMP = Compiled(_BUMP_SQL)
_BUMP_LIVE = Compiled(  # ... and checks the workspace as ``get_workspace`` does
    _BUMP_SQL.where(
        workspaces.c.account_id == bindparam("account"), workspaces.c.deleted_time.is_(None)
    )
)


def get_workspace(conn: Connection, account_id: str, workspace_id: str) -> Row:
    """The live workspace, owned by this account, or ``NotFound``."""
    row = conn.execute(_LIVE, {"ws": workspace_id, "account": account_id}).first()
    if row is None:
        raise NotFound(f"no workspace {workspace_id!r}")
    return row


def hold(conn: Connection, workspace_id: str, *, exclusive: bool = False) -> None:
    """Lock the workspace's row until commit (PROMISE 4): its writers wait, readers not.

    ``FOR SHARE`` (``FOR UPDATE`` when ``exclusive``) on PostgreSQL; SQLite's write
    transactions are one at a time already, so there it adds nothing.
    """
    query = select(workspaces.c.id).where(workspaces.c.id == workspace_id)
    conn.execute(query.with_for_update(read=not exclusive))


def list_workspaces(conn: Connection, account_id: str) -> list[Row]:
    return list(
        conn.execute(
            select(workspaces)
            .where(workspaces.c.account_id == account_id, workspaces.c.deleted_time.is_(None))
            .order_by(workspaces.c.create_time, workspaces.c.id)
        )
    )


def create_workspace(conn: Connection, account_id: str, name: str | None) -> Row:
    now = now_iso()
    workspace_id = new_id("w")
    conn.execute(
        insert(workspaces).values(
            id=workspace_id,
            account_id=account_id,
            name=check_name(name) if name is not None else "Workspace",
            create_time=now,
            modified_time=now,
            revision=0,
            history_floor=0,
        )
    )
    return get_workspace(conn, account_id, workspace_id)


def rename_workspace(conn: Connection, account_id: str, workspace_id: str, name: str) -> Row:
    get_workspace(conn, account_id, workspace_id)
    conn.execute(
        update(workspaces)
        .where(workspaces.c.id == workspace_id)
        .values(name=check_name(name), modified_time=now_iso())
    )
    return get_workspace(conn, account_id, workspace_id)


def workspace_size(conn: Connection, workspace_id: str) -> int:
    total = conn.execute(
        select(func.coalesce(func.sum(entries.c.size), 0)).where(
            entries.c.workspace_id == workspace_id
        )
    ).scalar_one()
    return int(total)


def workspace_json(conn: Connection, row: Row) -> dict[str, object]:
    """``WorkspaceResponse`` of seed 000/001."""
    return {
        "id": row.id,
        "name": row.name,
        "size": workspace_size(conn, row.id),
        "create_time": row.create_time,
        "modified_time": row.modified_time,
    }


def get_active(conn: Connection, account_id: str) -> Row | None:
    active = conn.execute(
        select(accounts.c.active_workspace_id).where(accounts.c.id == account_id)
    ).scalar()
    if active is None:
        return None
    try:
        return get_workspace(conn, account_id, active)
    except NotFound:
        return None


def set_active(conn: Connection, account_id: str, workspace_id: object) -> Row | None:
    """Activate a workspace of this account, or none; anything else is invalid_parameter."""
    if workspace_id is not None:
        if not isinstance(workspace_id, str):
            raise InvalidParameter("workspace_id must be a string or null")
        try:
            get_workspace(conn, account_id, workspace_id)
        except NotFound as exc:
            raise InvalidParameter(f"no workspace {workspace_id!r} of this account") from exc
    conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(active_workspace_id=workspace_id)
    )
    return get_active(conn, account_id)


def bump(
    conn: Connection, workspace_id: str, history: int | None, account_id: str | None = None
) -> int:
    """Issue the next revision (PROMISES 2 and 3) and touch ``modified_time``.

    With ``account_id`` the same statement checks the workspace as ``get_workspace`` does,
    so a hot path needs no separate lookup; a refusal after it is rolled back with it.
    """
    params = {"ws": workspace_id, "now": now_iso()}
    if account_id is None:
        rows = _BUMP.run(conn, params)
    else:
        rows = _BUMP_LIVE.run(conn, {**params, "account": account_id})
    if not rows:
        raise NotFound(f"no workspace {workspace_id!r}")
    announce(conn, workspace_id)  # other server processes wake their long polls at commit
    revision, history_floor = rows[0]
    if history is not None and revision - history > history_floor:
        floor = revision - history
        conn.execute(
            update(workspaces).where(workspaces.c.id == workspace_id).values(history_floor=floor)
        )
        conn.execute(
            delete(tombstones).where(
                tombstones.c.workspace_id == workspace_id, tombstones.c.revision <= floor
            )
        )
    return revision


def soft_delete(conn: Connection, workspace_id: str) -> None:
    """Hide a workspace whose entries are gone; the row keeps its revision lineage."""
    conn.execute(
        update(workspaces).where(workspaces.c.id == workspace_id).values(deleted_time=now_iso())
    )
    conn.execute(
        update(accounts)
        .where(accounts.c.active_workspace_id == workspace_id)
        .values(active_workspace_id=None)
    )
