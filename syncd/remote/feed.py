"""Follow the change feed into the persisted remote mirror (E2).

1. The mirror in the state database is the remote tree as of the stored cursor; each feed page
   is applied together with its cursor in one transaction, so a crash never leaves the cursor
   ahead of the mirror.
2. Within a page, deletes are applied before creates and updates: the feed reports net
   changes, so an entry in ``created``/``updated`` exists at ``end_revision``, and a deleted
   directory takes its (implied) descendants with it.
3. ``410 revision_obsoleted`` (``FeedReset``) drops the mirror and the base together and
   starts from revision 0: with no base, the planner can only merge, so nothing is deleted
   on either side because of the reset (PROTOCOL.md, E2).
4. A scope narrows only what is read back: every page is applied to the whole mirror and
   every path it changed is reported in ``changed``, inside the scope or not, so the
   daemon can follow the changes outside it with passes of their own.
5. ``entries`` counts what the pages carried (created, updated and deleted): after our
   own writes the mirror has moved past them already (``own_writes``), and the next read
   carries none of them.
6. A page that would make the mirror contradict itself (an entry below a file the mirror
   holds and the page does not delete, a file over a directory whose children stay) is a
   ``ServerProtocolError`` before anything of it is applied: the cursor stays where it
   was, and the same page is asked again next time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from syncd.errors import FeedReset
from syncd.planner.trees import Kind, RemoteNode
from syncd.transport.consistency import settle

log = logging.getLogger(__name__)

PAGE_LIMIT = 10000
"""Entries asked per feed page: the protocol's largest page (PROTOCOL.md, E2). Catching up
after a first sync of 5,000 files is one request and one mirror commit, not five of each."""


@dataclass
class FeedResult:
    """What following the feed produced: the tree (only under the scope, when one was
    given), whether a reset happened, and every path the pages changed."""

    tree: dict[str, RemoteNode]
    was_reset: bool = False
    rejected: list[tuple[str, str]] = field(default_factory=list)
    end_revision: int = 0
    changed: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    entries: int = 0


class _Mirror:
    """The mirror as the tree a page applies to (``consistency.Before``)."""

    def __init__(self, store: object) -> None:
        self._remote = store.remote

    def kinds(self, paths: Iterable[str]) -> Mapping[str, Kind]:
        return self._remote.kinds(paths)

    def below(self, path: str) -> Iterable[str]:
        return (p for p in self._remote.tree(prefixes=[path]) if p != path)


def follow_feed(
    client: object,
    store: object,
    workspace_id: str,
    *,
    limit: int = PAGE_LIMIT,
    wait: float = 0,
    on_page: Callable[[int], None] | None = None,
    scope: Iterable[str] | None = None,
) -> FeedResult:
    """Bring the mirror up to date with the server and return the remote tree.

    ``wait`` > 0 long-polls the first page (the daemon's idle state); later pages never wait.
    With ``scope`` the tree holds only the mirror's rows at and below those paths, read by
    the path index, so a scoped sync never loads the whole mirror (promise 4).
    """
    cursor = store.meta.cursor()
    was_reset = False
    if cursor is None:
        store.remote.reset(drop_base=False)
        cursor = 0
    rejected: list[tuple[str, str]] = []
    changed: set[str] = set()
    carried = 0
    mirror = _Mirror(store)
    first = True
    while True:
        try:
            page = client.changes.page(workspace_id, cursor, limit=limit, wait=wait if first else 0)
        except FeedReset:
            log.warning("event=feed_reset from_revision=%s action=merge", cursor)
            store.remote.reset(drop_base=True)
            cursor, was_reset, first = 0, True, False
            continue
        first = False
        carried += len(page.created) + len(page.updated) + len(page.deleted)
        deletes = [item.path for item in page.deleted]
        entries = settle(
            [*page.created, *page.updated],
            what=f"GET changes of {workspace_id} from {cursor}",
            deleted=deletes,
            before=mirror,
        )
        upserts = [entry.to_remote_node() for entry in entries]
        store.remote.apply(upserts=upserts, deletes=deletes, cursor=page.end_revision)
        changed.update(node.path for node in upserts)
        changed.update(deletes)
        rejected.extend(getattr(page, "rejected", []) or [])
        cursor = page.end_revision
        if on_page is not None:
            on_page(cursor)
        if not page.has_more:
            break
    log.debug("event=feed end_revision=%d entries=%d", cursor, carried)
    return FeedResult(
        tree=store.remote.tree(prefixes=scope),
        was_reset=was_reset,
        rejected=rejected,
        end_revision=cursor,
        changed=changed,
        entries=carried,
    )
