"""The change feed (E2): net changes after a cursor, paged in SQL without splitting a revision.

1. ``from_revision=0`` lists every current entry in ``created``.
2. Otherwise: entries changed after the cursor (``created`` when the path was created after
   it, else ``updated``) and the latest deletion of each path that is still gone, or
   that came back as the other type. A deleted directory is reported once: deletions
   below a reported directory are implied.
3. A cursor below the history floor, or above the current revision, is ``FeedReset``.
4. Items come in (revision, path) order; a page ends on a revision boundary, so it may
   exceed ``limit`` to finish its last revision. ``has_more`` is exact.
5. A page reads about ``limit`` rows plus its last revision, never the whole history after
   the cursor, so a full listing of N entries costs O(N) over all its pages.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, Row, and_, or_, select

from syncd.errors import FeedReset
from syncd.paths import ancestors
from syncd.server.schema import entries, tombstones, workspaces

BATCH = 500  # tombstones examined per query; also the size of every IN list

Item = tuple[int, str, str, Row]  # (revision, path, kind, row)


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
    """One page of the feed after ``from_revision`` (PROMISES 1-5)."""
    revision, floor = current_revision(conn, workspace_id)
    if from_revision > revision or (from_revision != 0 and from_revision < floor):
        raise FeedReset(
            f"revision {from_revision} cannot be served (history starts at {floor}, "
            f"current revision is {revision})"
        )
    page = ChangePage(end_revision=revision)
    live_head = _live(conn, workspace_id, from_revision, limit=limit)
    deletions = _deletions(conn, workspace_id, from_revision) if from_revision else iter(())
    deleted_head = _take(deletions, limit)
    head = list(heapq.merge(live_head, deleted_head, key=_order))[:limit]
    if len(head) < limit:  # both sources are exhausted: this is the last page
        _fill(page, head)
        return page
    last = head[-1][0]
    live = _live(conn, workspace_id, from_revision, up_to=last)
    deleted = [item for item in deleted_head if item[0] <= last]
    following = None
    if len(deleted) == len(deleted_head):  # the head may stop inside revision ``last``
        for item in deletions:
            if item[0] > last:
                following = item
                break
            deleted.append(item)
    else:
        following = deleted_head[len(deleted)]
    _fill(page, heapq.merge(live, deleted, key=_order))
    if following is not None or _has_live_after(conn, workspace_id, last):
        page.end_revision = last
        page.has_more = True
    return page


def _order(item: Item) -> tuple[int, str]:
    return item[0], item[1]


def _take(items: Iterator[Item], count: int) -> list[Item]:
    taken: list[Item] = []
    for item in items:
        taken.append(item)
        if len(taken) >= count:
            break
    return taken


def _fill(page: ChangePage, items: Iterable[Item]) -> None:
    for _, _, kind, row in items:
        getattr(page, kind).append(row)


def _live(
    conn: Connection,
    workspace_id: str,
    from_revision: int,
    *,
    limit: int | None = None,
    up_to: int | None = None,
) -> list[Item]:
    """Entries changed after the cursor, in (revision, path) order, on the revision index."""
    query = select(entries).where(
        entries.c.workspace_id == workspace_id, entries.c.revision > from_revision
    )
    if up_to is not None:
        query = query.where(entries.c.revision <= up_to)
    query = query.order_by(entries.c.revision, entries.c.path)
    if limit is not None:
        query = query.limit(limit)
    items: list[Item] = []
    for row in conn.execute(query):
        is_new = from_revision == 0 or row.created_revision > from_revision
        items.append((row.revision, row.path, "created" if is_new else "updated", row))
    return items


def _has_live_after(conn: Connection, workspace_id: str, revision: int) -> bool:
    query = (
        select(entries.c.path)
        .where(entries.c.workspace_id == workspace_id, entries.c.revision > revision)
        .limit(1)
    )
    return conn.execute(query).first() is not None


def _deletions(conn: Connection, workspace_id: str, from_revision: int) -> Iterator[Item]:
    """Reported deletions after the cursor in (revision, path) order, read in batches."""
    after: tuple[int, str] | None = None
    while True:
        query = select(tombstones).where(
            tombstones.c.workspace_id == workspace_id, tombstones.c.revision > from_revision
        )
        if after is not None:
            query = query.where(
                or_(
                    tombstones.c.revision > after[0],
                    and_(tombstones.c.revision == after[0], tombstones.c.path > after[1]),
                )
            )
        query = query.order_by(tombstones.c.revision, tombstones.c.path).limit(BATCH)
        batch = list(conn.execute(query))
        if not batch:
            return
        after = (batch[-1].revision, batch[-1].path)
        yield from _reported(conn, workspace_id, from_revision, batch)
        if len(batch) < BATCH:
            return


def _reported(
    conn: Connection, workspace_id: str, from_revision: int, batch: list[Row]
) -> Iterator[Item]:
    """The tombstones of ``batch`` that are still gone and not implied by a gone directory."""
    parents = {parent for tomb in batch for parent in ancestors(tomb.path)}
    present = _present(conn, workspace_id, {tomb.path for tomb in batch} | parents)
    gone_dirs = {
        path
        for path in _dir_tombstones(conn, workspace_id, from_revision, parents)
        if present.get(path) != "directory"
    }
    for tomb in batch:
        if present.get(tomb.path) == tomb.type:
            continue  # came back as the same type: an update or create reports it
        if any(parent in gone_dirs for parent in ancestors(tomb.path)):
            continue  # implied by the deletion of a directory above it
        yield tomb.revision, tomb.path, "deleted", tomb


def _present(conn: Connection, workspace_id: str, paths: set[str]) -> dict[str, str]:
    ordered = sorted(paths)
    present: dict[str, str] = {}
    for start in range(0, len(ordered), BATCH):
        query = select(entries.c.path, entries.c.type).where(
            entries.c.workspace_id == workspace_id,
            entries.c.path.in_(ordered[start : start + BATCH]),
        )
        present.update((row.path, row.type) for row in conn.execute(query))
    return present


def _dir_tombstones(
    conn: Connection, workspace_id: str, from_revision: int, paths: set[str]
) -> set[str]:
    ordered = sorted(paths)
    found: set[str] = set()
    for start in range(0, len(ordered), BATCH):
        query = select(tombstones.c.path).where(
            tombstones.c.workspace_id == workspace_id,
            tombstones.c.revision > from_revision,
            tombstones.c.type == "directory",
            tombstones.c.path.in_(ordered[start : start + BATCH]),
        )
        found.update(row.path for row in conn.execute(query))
    return found
