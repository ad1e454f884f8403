"""One remote tree, never two: a listing or feed page that contradicts itself is refused whole.

1. A path names one entry: the same (NFC) path given twice is kept once when both entries
   agree, and refused when they do not (a file and a directory, two different files).
2. Nothing lies below a file: an entry with a file among its ancestors is refused, whether
   that file is in the same answer or, for a feed page, in the tree the page applies to
   (``Before``), unless the page deletes it.
3. A refusal is a ``ServerProtocolError`` naming the paths. Planning on such a tree would
   turn the server's mistake into local folders, moves and conflict copies, so nothing is
   planned and nothing changes; a later run asks again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from syncd.errors import ServerProtocolError
from syncd.paths import ancestors
from syncd.planner.trees import Kind
from syncd.transport.models import Entry

HINT = "the server's tree contradicts itself; nothing was changed"


class Before(Protocol):
    """The tree a feed page applies to (the client's mirror of the server)."""

    def kinds(self, paths: Iterable[str]) -> Mapping[str, Kind]:
        """The kind of each of ``paths`` the tree holds."""
        ...

    def below(self, path: str) -> Iterable[str]:
        """The paths strictly below ``path``."""
        ...


def _agree(held: Entry, other: Entry) -> bool:
    return held.type is other.type and (held.is_dir or held == other)


def _refuse(what: str, text: str) -> ServerProtocolError:
    return ServerProtocolError(f"{what}: the server's tree contradicts itself: {text}", hint=HINT)


def _below_file(what: str, file: str, path: str) -> ServerProtocolError:
    return _refuse(what, f"{file!r} is a file, yet {path!r} lies below it")


def settle(
    entries: Sequence[Entry],
    *,
    what: str,
    deleted: Iterable[str] = (),
    before: Before | None = None,
) -> list[Entry]:
    """The entries with agreeing repeats dropped (order kept); ``ServerProtocolError`` when
    they contradict each other or, with ``before``, the tree they apply to after
    ``deleted`` (whose subtrees are gone) is taken away."""
    by_path: dict[str, Entry] = {}
    kept: list[Entry] = []
    for entry in entries:
        held = by_path.get(entry.path)
        if held is None:
            by_path[entry.path] = entry
            kept.append(entry)
        elif not _agree(held, entry):
            shown = "two different files" if held.type is entry.type else "a file and a directory"
            raise _refuse(what, f"{entry.path!r} is given twice, as {shown}")
    files = {path for path, entry in by_path.items() if not entry.is_dir}
    outside: set[str] = set()  # ancestors the answer does not name
    for path in by_path:
        for parent in ancestors(path):
            if parent in files:
                raise _below_file(what, parent, path)
            if parent not in by_path:
                outside.add(parent)
    if before is not None:
        _check_before(what, by_path, files, outside, set(deleted), before)
    return kept


def _check_before(
    what: str,
    by_path: Mapping[str, Entry],
    files: set[str],
    outside: set[str],
    deleted: set[str],
    before: Before,
) -> None:
    """Promise 2 against the tree the page applies to; it held no contradiction itself."""

    def is_gone(path: str) -> bool:
        return path in deleted or any(a in deleted for a in ancestors(path))

    asked = {p for p in outside | files if not is_gone(p)}
    kinds = before.kinds(asked) if asked else {}
    for parent in sorted(outside):
        if kinds.get(parent) is Kind.FILE and parent in asked:
            below = next(p for p in sorted(by_path) if p.startswith(parent + "/"))
            raise _below_file(what, parent, below)
    for path in sorted(files):
        if kinds.get(path) is Kind.DIR and path in asked:
            child = next((c for c in before.below(path) if not is_gone(c)), None)
            if child is not None:
                raise _below_file(what, path, child)
