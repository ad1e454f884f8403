"""The revisions our own writes made, so that the feed need not bring them back (E2, E5).

After an upload, the next read of the change feed would return every entry we just wrote:
5,000 entries after a first sync of 5,000 files, fetched, parsed and written to the mirror
again for nothing. The server's answers already say what those revisions changed: an E5
batch answers its one revision and the entry each put or mkdir left, an E3 commit the
entry it made. ``OwnWrites`` keeps them (the transport tells it, as answers arrive) and
``fast_forward`` moves the mirror and its cursor past them, with exactly the rows the
feed would have brought.

1. Only a run of revisions right after the cursor moves it: ``cursor + 1``, ``+ 2``, ...
   each one ours with its whole effect known. The first revision that is not ours (another
   client's write, our own single PUT, DELETE or move, whose 204 names no revision, a
   restore), or that is in any doubt, ends the run: from there the feed is read as before,
   and it brings that revision and everything after it, our later writes included.
2. A revision is ours only from an answer that came back whole for a request sent once
   (an E5 batch retried after a lost answer, an E3 commit resolved from a listing are left
   out). A batch with a put or a delete that succeeded made its revision. A batch whose
   only successes are mkdirs may have made none (folders that exist change nothing), and
   then its answer's revision is the workspace's, maybe another client's: such a revision
   counts only once the feed confirms it, one page from the revision before it that holds
   exactly the folders the answer says it created and nothing else (``confirm``). That
   page carries those folders alone, not the files of the batches after it.
3. Doubt, checked against the mirror with every earlier change of the run applied: a put
   or mkdir whose parent folders are not all in the mirror (the server would have created
   them, with facts no answer gives), a put at a folder or a mkdir at a file, a new entry
   that does not carry the revision, a created folder the mirror held already or an
   existing one it did not, a delete of a path the mirror does not hold. Any of them
   ends the run before that revision.
4. The changes of a revision are applied in the order the server applied them, the run
   in one commit with its cursor, and only if the cursor is still the one the run starts
   from (``RemoteMirror.advance``). No cursor (never read, or a reset since) moves nothing.
5. Notes are taken once: after ``fast_forward`` whatever did not fit the run is dropped,
   since the feed brings it anyway.

A restore cannot hide in a run: it gives the workspace a revision above every one issued
before (PROTOCOL.md, E2), so ``cursor + 1`` after it is never one of our later writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from syncd.paths import ancestors
from syncd.planner.trees import Kind, RemoteNode

if TYPE_CHECKING:
    from syncd.state.store import Store
    from syncd.transport.batch_items import BatchResult
    from syncd.transport.models import Entry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Put:
    """The entry a put or a mkdir left, as the server answered it."""

    node: RemoteNode


@dataclass(frozen=True, slots=True)
class Delete:
    """A path the server deleted (a folder with everything below it)."""

    path: str


Change = Put | Delete


@dataclass(frozen=True, slots=True)
class Note:
    """What one revision changed, in the server's order; ``sure`` False: the revision is
    ours only if the feed confirms it (promise 2)."""

    changes: tuple[Change, ...]
    sure: bool = True


class OwnWrites:
    """What each of our revisions changed, by revision; fed from transfer threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revisions: dict[int, Note] = {}

    def note_batch(self, result: BatchResult) -> None:
        """An E5 answer that came back whole for a batch sent once (promise 2)."""
        from syncd.transport.batch_items import DeletePath, MakeDir, PutFile

        if result.revision is None:
            return
        changes: list[Change] = []
        writes = False
        for item in result.results:
            if not item.is_applied:
                continue
            if isinstance(item.item, DeletePath):
                changes.append(Delete(item.item.path))
                writes = True
            elif item.entry is not None and isinstance(item.item, PutFile | MakeDir):
                changes.append(Put(item.entry.to_remote_node()))
                writes = writes or isinstance(item.item, PutFile)
            else:  # applied, but the answer does not say what it left: not ours to know
                return
        if changes:
            self._note(result.revision, Note(tuple(changes), sure=writes))

    def note_commit(self, entry: Entry) -> None:
        """An E3 commit's answer: one revision, the entry it made."""
        if entry.revision is not None:
            self._note(entry.revision, Note((Put(entry.to_remote_node()),)))

    def _note(self, revision: int, note: Note) -> None:
        with self._lock:
            known = self._revisions.get(revision)
            if known is None:
                self._revisions[revision] = note
            elif known.sure != note.sure:  # the unsure one changed nothing: keep the other
                self._revisions[revision] = known if known.sure else note
            else:  # two answers claim one revision: trust neither
                self._revisions[revision] = Note(())

    def take(self) -> dict[int, Note]:
        """Every note so far, forgotten here (promise 5)."""
        with self._lock:
            taken, self._revisions = self._revisions, {}
        return taken


Confirm = Callable[[int, Note], bool]
"""Whether the feed shows revision N as exactly what an unsure note says (promise 2)."""


def fast_forward(store: Store, own: OwnWrites, confirm: Confirm | None = None) -> int:
    """Move the mirror and its cursor past the run of our revisions after the cursor;
    return how many revisions it skipped (0: the feed is read from where it was). Without
    ``confirm`` the run ends at the first unsure note."""
    notes = own.take()
    cursor = store.meta.cursor()
    if cursor is None or cursor + 1 not in notes:
        return 0
    run = _run(store, cursor, notes, confirm)
    if not run:
        return 0
    end = cursor + len(run)
    if not store.remote.advance(
        expected=cursor, changes=[c for changes in run for c in changes], cursor=end
    ):
        return 0
    log.info("event=feed_fast_forward from_revision=%d to_revision=%d", cursor, end)
    return len(run)


def feed_confirms(client: object, workspace_id: str) -> Confirm:
    """``Confirm`` by one feed page from the revision before: it must end at that revision
    and hold exactly the folders the note created (nothing deleted, nothing else)."""
    from syncd.errors import SyncdError

    def confirm(revision: int, note: Note) -> bool:
        made = {c.node for c in note.changes if isinstance(c, Put) and c.node.revision == revision}
        try:
            page = client.changes.page(workspace_id, revision - 1, limit=1)  # type: ignore[attr-defined]
        except SyncdError as exc:  # 410 included: the next read of the feed sees to it
            log.debug("event=feed_confirm_failed revision=%d error=%s", revision, exc)
            return False
        shown = {entry.to_remote_node() for entry in [*page.created, *page.updated]}
        return (
            page.end_revision == revision
            and not page.deleted
            and not page.rejected
            and len(shown) == len(page.created) + len(page.updated)
            and shown == made
        )

    return confirm


def _run(
    store: Store, cursor: int, notes: Mapping[int, Note], confirm: Confirm | None
) -> list[tuple[Change, ...]]:
    """The changes of each revision of the run, in order (promises 1 to 3)."""
    revisions: list[int] = []
    while cursor + len(revisions) + 1 in notes:
        revisions.append(cursor + len(revisions) + 1)
    wanted: set[str] = set()
    for revision in revisions:
        for change in notes[revision].changes:
            path = change.path if isinstance(change, Delete) else change.node.path
            wanted.add(path)
            wanted.update(ancestors(path))
    tree = _Tree(store.remote.kinds(wanted))
    run: list[tuple[Change, ...]] = []
    for revision in revisions:
        note = notes[revision]
        if not note.changes or not tree.accepts(note.changes, revision):
            break
        if not note.sure and (confirm is None or not confirm(revision, note)):
            break
        run.append(note.changes)
    return run


class _Tree:
    """The kinds of the paths a run touches, as the mirror holds them with the run's
    earlier changes applied."""

    def __init__(self, kinds: Mapping[str, Kind]) -> None:
        self._kinds: dict[str, Kind | None] = dict(kinds)

    def kind(self, path: str) -> Kind | None:
        """The kind at ``path``; None when it or one of its parents is absent."""
        if any(self._kinds.get(parent) is not Kind.DIR for parent in ancestors(path)):
            return None
        return self._kinds.get(path)

    def accepts(self, changes: Iterable[Change], revision: int) -> bool:
        """Apply one revision's changes if none is in doubt; False (nothing applied) if
        one is."""
        before = dict(self._kinds)
        for change in changes:
            if not self._apply(change, revision):
                self._kinds = before
                return False
        return True

    def _apply(self, change: Change, revision: int) -> bool:
        if isinstance(change, Delete):
            if self.kind(change.path) is None:
                return False
            below = change.path + "/"
            for path in [p for p in self._kinds if p.startswith(below)]:
                self._kinds[path] = None
            self._kinds[change.path] = None
            return True
        node = change.node
        if any(self._kinds.get(parent) is not Kind.DIR for parent in ancestors(node.path)):
            return False  # the server made parents the answer does not describe
        current = self._kinds.get(node.path)
        if node.kind is Kind.FILE:
            if current is Kind.DIR or node.revision != revision:
                return False
        elif current is Kind.FILE or (current is None) != (node.revision == revision):
            return False  # a folder created that the mirror held, or one it did not hold
        self._kinds[node.path] = node.kind
        return True
