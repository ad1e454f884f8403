"""The change feed (E2): net changes after a cursor, paged in SQL without splitting a revision.

1. ``from_revision=0`` lists every current entry in ``created``.
2. Otherwise, the net changes after the cursor: entries changed after it (``created`` when
   the path was created after it, else ``updated``), and each path that existed at the
   cursor and is gone now, or came back as the other type, in ``deleted`` with the
   revision that ended the entry the cursor saw. A path created after the cursor and gone
   again appears nowhere. A deleted directory is reported once: deletions below a
   reported directory are implied.
3. A cursor below the history floor, or above the current revision, is ``RevisionObsoleted``.
4. Items come in (revision, path) order; a page ends on a revision boundary, so it may
   exceed ``limit`` to finish its last revision. ``has_more`` is exact.
5. The pages from one cursor add up to the one big page: the next page is asked from the
   end of this one, as if a client had synced there, so a page does not end inside the
   life of an entry that began after its cursor and has ended since (the next page would
   report that entry's deletion to a client that never saw it). Such a page ends earlier,
   or later by up to ``limit`` items (``REACH_MIN`` at least). Only where every end in
   that reach cuts such a life (lives longer than a page, or overlapping without pause)
   does it run on further, to the first revision that cuts none: the integer cursor
   cannot tell a page's end from a client that synced there, so no page may end inside
   such a life, however long the page grows.
6. A page reads about its reach in rows plus its last revision (plus its run-on, the rare
   time it needs one), never the whole history after the cursor, so a full listing of N
   entries costs O(N) over all its pages.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice, takewhile

from sqlalchemy import Connection, Row, and_, exists, or_, select, tuple_

from syncd.paths import ancestors
from syncd.server.schema import entries, tombstones, workspaces
from syncd.server.service.errors import RevisionObsoleted

BATCH = 500  # tombstones examined per query; also the size of every IN list
REACH_MIN = 100  # a page may grow by at least this many items to end where it cuts no life

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
    """One page of the feed after ``from_revision`` (PROMISES 1-6)."""
    revision, floor = current_revision(conn, workspace_id)
    if from_revision > revision or (from_revision != 0 and from_revision < floor):
        raise RevisionObsoleted(
            f"revision {from_revision} cannot be served (history starts at {floor}, "
            f"current revision is {revision})"
        )
    page = ChangePage(end_revision=revision)
    reach = limit + max(limit, REACH_MIN)  # how far a page may grow (PROMISE 5)
    live_head = _live(conn, workspace_id, from_revision, limit=reach)
    # A full live head bounds the window, so no deletion past it is read.
    bound = live_head[-1][0] if len(live_head) == reach else None
    read: list[Item] = []  # the deletions read so far, in order
    found = _deletions(conn, workspace_id, from_revision, up_to=bound) if from_revision else None
    deletions = _recording(found or iter(()), read)
    window = list(islice(heapq.merge(live_head, deletions, key=_order), reach))
    if len(window) < limit:  # both sources are exhausted: this is the last page
        _fill(page, window)
        return page
    last = _boundary(conn, workspace_id, from_revision, window, limit, len(window) < reach)
    if len(live_head) < reach or last < live_head[-1][0]:  # the head holds all of them
        live = [item for item in live_head if item[0] <= last]
    else:
        live = _live(conn, workspace_id, from_revision, up_to=last)
    if bound is not None and last > bound:  # ran on past what was read: read up to its end
        found = _deletions(conn, workspace_id, from_revision, up_to=last) if from_revision else None
        deleted = list(found or ())
    else:
        deleted = [item for item in read if item[0] <= last]
        if len(deleted) == len(read):  # the last revision may go on past the window
            deleted += takewhile(lambda item: item[0] <= last, deletions)
    _fill(page, heapq.merge(live, deleted, key=_order))
    if _has_live_after(conn, workspace_id, last) or (
        from_revision and _has_deletion_after(conn, workspace_id, from_revision, last)
    ):
        page.end_revision = last
        page.has_more = True
    return page


def _boundary(
    conn: Connection,
    workspace_id: str,
    from_revision: int,
    window: list[Item],
    limit: int,
    is_everything: bool,
) -> int:
    """The last revision of a page whose first items are ``window`` (PROMISE 5).

    Without lives to mind, the revision of the ``limit``-th item. Else the latest revision
    up to that one where no life is cut, if the page keeps at least half its items, or
    else the earliest such revision after it in the window; when every revision in reach
    cuts one, the first revision past the window that cuts none.
    """
    natural = window[limit - 1][0]
    ends = {item[0] for item in window}
    if not is_everything:  # the window may hold only part of its last revision
        ends.discard(window[-1][0])
    ends.add(natural)
    candidates = sorted(ends)
    lives = _lives_across(conn, workspace_id, from_revision, candidates[0], candidates[-1])
    if not lives:
        return natural
    spans: list[list[int]] = []  # the lives merged into disjoint [born, died) spans
    for born, died in sorted(lives):
        if spans and born <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], died)
        else:
            spans.append([born, died])
    starts = [span[0] for span in spans]

    def cuts(end: int) -> bool:
        index = bisect_right(starts, end) - 1
        return index >= 0 and end < spans[index][1]

    uncut = [end for end in candidates if not cuts(end)]
    earlier = [end for end in uncut if end <= natural]
    later = [end for end in uncut if end > natural]
    revisions = [item[0] for item in window]
    if earlier and (bisect_right(revisions, earlier[-1]) * 2 >= limit or not later):
        return earlier[-1]  # at least half a page
    return later[0] if later else _past_lives(conn, workspace_id, from_revision, natural)


def _past_lives(conn: Connection, workspace_id: str, from_revision: int, end: int) -> int:
    """The first end from ``end`` on that cuts no life: each life it cuts runs on to its
    deletion, and so on (lives that overlap without pause make one long page)."""
    while lives := _lives_across(conn, workspace_id, from_revision, end, end):
        end = max(died for _, died in lives)
    return end


def _lives_across(
    conn: Connection, workspace_id: str, from_revision: int, low: int, high: int
) -> list[tuple[int, int]]:
    """(created, deleted) of the gone entries that a page ending in [low, high] could cut.

    Those are the entries created after ``from_revision`` (by ``high``) and deleted after
    ``low`` that a feed from inside their life would report: gone now, or back as the
    other type, and not implied by a reported directory above them.
    """
    lives: list[tuple[int, int]] = []
    after: tuple[int, str, int] | None = None
    key = (tombstones.c.created_revision, tombstones.c.path, tombstones.c.revision)
    while True:
        query = select(*key).where(
            tombstones.c.workspace_id == workspace_id,
            tombstones.c.created_revision > from_revision,
            tombstones.c.created_revision <= high,
            tombstones.c.revision > low,
            _still_gone(),
        )
        if after is not None:
            query = query.where(tuple_(*key) > tuple_(*after))
        batch = list(conn.execute(query.order_by(*key).limit(BATCH)))
        lives += [
            (row.created_revision, row.revision) for row in _not_implied(conn, workspace_id, batch)
        ]
        if len(batch) < BATCH:
            return lives
        after = (batch[-1].created_revision, batch[-1].path, batch[-1].revision)


def _order(item: Item) -> tuple[int, str]:
    return item[0], item[1]


def _recording(items: Iterator[Item], read: list[Item]) -> Iterator[Item]:
    """``items``, each also appended to ``read`` as it is taken."""
    for item in items:
        read.append(item)
        yield item


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


def _saw(cursor: int):
    """The tombstones of entries that existed at ``cursor``: created at or before, deleted after."""
    return and_(tombstones.c.created_revision <= cursor, tombstones.c.revision > cursor)


def _deletions(
    conn: Connection,
    workspace_id: str,
    from_revision: int,
    *,
    above: int | None = None,
    up_to: int | None = None,
) -> Iterator[Item]:
    """Reported deletions after the cursor, in (revision, path) order, read in batches.

    Only those in (``above``, ``up_to``] when given; tombstones of entries the cursor
    never saw are skipped in SQL.
    """
    after: tuple[int, str] | None = None
    while True:
        query = select(tombstones).where(
            tombstones.c.workspace_id == workspace_id, _saw(from_revision), _still_gone()
        )
        if above is not None:
            query = query.where(tombstones.c.revision > above)
        if up_to is not None:
            query = query.where(tombstones.c.revision <= up_to)
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
        yield from _reported(conn, workspace_id, batch)
        if len(batch) < BATCH:
            return


def _has_deletion_after(conn: Connection, workspace_id: str, cursor: int, revision: int) -> bool:
    """Whether a feed from ``cursor`` reports a deletion after ``revision``."""
    return next(_deletions(conn, workspace_id, cursor, above=revision), None) is not None


def _still_gone():
    """No entry of the tombstone's path and type exists now (else an update or create says it)."""
    return ~exists().where(
        entries.c.workspace_id == tombstones.c.workspace_id,
        entries.c.path == tombstones.c.path,
        entries.c.type == tombstones.c.type,
    )


def _reported(conn: Connection, workspace_id: str, batch: list[Row]) -> Iterator[Item]:
    """The deletions of ``batch`` (tombstones, ``_still_gone``) that are not implied."""
    for tomb in _not_implied(conn, workspace_id, batch):
        yield tomb.revision, tomb.path, "deleted", tomb


def _not_implied(conn: Connection, workspace_id: str, batch: list[Row]) -> Iterator[Row]:
    """The tombstones of ``batch`` not implied by the deletion of a directory above them.

    Implied means: a directory above was there all the entry's life and is not a directory
    now, so a feed from any cursor in that life reports the directory instead.
    """
    parents = {parent for tomb in batch for parent in ancestors(tomb.path)}
    dir_lives = _dir_lives(conn, workspace_id, parents)
    if dir_lives:
        present = _present(conn, workspace_id, set(dir_lives))
        gone = {
            path: lives for path, lives in dir_lives.items() if present.get(path) != "directory"
        }
    else:
        gone = {}
    for tomb in batch:
        if gone and any(
            born <= tomb.created_revision and tomb.revision <= died
            for parent in ancestors(tomb.path)
            for born, died in gone.get(parent, ())
        ):
            continue
        yield tomb


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


def _dir_lives(conn: Connection, workspace_id: str, paths: set[str]) -> dict[str, list[tuple]]:
    """(created, deleted) of every deleted directory among ``paths``, by path."""
    ordered = sorted(paths)
    found: dict[str, list[tuple]] = {}
    for start in range(0, len(ordered), BATCH):
        query = select(
            tombstones.c.path, tombstones.c.created_revision, tombstones.c.revision
        ).where(
            tombstones.c.workspace_id == workspace_id,
            tombstones.c.type == "directory",
            tombstones.c.path.in_(ordered[start : start + BATCH]),
        )
        for row in conn.execute(query):
            found.setdefault(row.path, []).append((row.created_revision, row.revision))
    return found
