"""The change feed (E2): net changes after a cursor, paged without splitting a revision.

1. ``from_revision=0`` lists every current entry in ``created``.
2. Otherwise: entries changed after the cursor (``created`` when the path was created after
   it, else ``updated``) and the latest deletion of each path that is still gone, or
   that came back as the other type. A deleted directory is reported once: deletions
   below a reported directory are implied.
3. A cursor below the history floor, or above the current revision, is ``FeedReset``.
4. Items come in (revision, path) order; a page ends on a revision boundary, so it may
   exceed ``limit`` to finish its last revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Row, select

from syncd.errors import FeedReset
from syncd.paths import ancestors
from syncd.server.schema import entries, tombstones, workspaces


@dataclass
class ChangePage:
    end_revision: int
    created: list[Row] = field(default_factory=list)
    updated: list[Row] = field(default_factory=list)
    deleted: list[Row] = field(default_factory=list)
    has_more: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.created or self.updated or self.deleted)


def current_revision(conn: Connection, workspace_id: str) -> tuple[int, int]:
    """(revision, history floor) of a workspace."""
    row = conn.execute(
        select(workspaces.c.revision, workspaces.c.history_floor).where(
            workspaces.c.id == workspace_id
        )
    ).one()
    return row.revision, row.history_floor


def changes(conn: Connection, workspace_id: str, from_revision: int, limit: int) -> ChangePage:
    """One page of the feed after ``from_revision`` (PROMISES 1-4)."""
    revision, floor = current_revision(conn, workspace_id)
    if from_revision > revision or (from_revision != 0 and from_revision < floor):
        raise FeedReset(
            f"revision {from_revision} cannot be served (history starts at {floor}, "
            f"current revision is {revision})"
        )
    live = list(
        conn.execute(
            select(entries).where(
                entries.c.workspace_id == workspace_id, entries.c.revision > from_revision
            )
        )
    )
    items: list[tuple[int, str, str, Row]] = []
    for row in live:
        kind = (
            "created" if from_revision == 0 or row.created_revision > from_revision else "updated"
        )
        items.append((row.revision, row.path, kind, row))
    if from_revision:
        items.extend(_deletions(conn, workspace_id, from_revision))
    items.sort(key=lambda item: (item[0], item[1]))
    page = ChangePage(end_revision=revision)
    if len(items) > limit:
        last = items[limit - 1][0]
        cut = limit
        while cut < len(items) and items[cut][0] == last:
            cut += 1
        if cut < len(items):
            items = items[:cut]
            page.end_revision = last
            page.has_more = True
    for _, _, kind, row in items:
        getattr(page, kind).append(row)
    return page


def _deletions(
    conn: Connection, workspace_id: str, from_revision: int
) -> list[tuple[int, str, str, Row]]:
    tombs = list(
        conn.execute(
            select(tombstones).where(
                tombstones.c.workspace_id == workspace_id, tombstones.c.revision > from_revision
            )
        )
    )
    if not tombs:
        return []
    query = select(entries.c.path, entries.c.type).where(entries.c.workspace_id == workspace_id)
    if len(tombs) <= 500:  # else read every path: cheaper than a huge IN list
        query = query.where(entries.c.path.in_([tomb.path for tomb in tombs]))
    present = {row.path: row.type for row in conn.execute(query)}
    kept = {tomb.path: tomb for tomb in tombs if present.get(tomb.path) != tomb.type}
    reported = [
        tomb
        for tomb in kept.values()
        if not any(
            parent in kept and kept[parent].type == "directory" for parent in ancestors(tomb.path)
        )
    ]
    return [(tomb.revision, tomb.path, "deleted", tomb) for tomb in reported]
