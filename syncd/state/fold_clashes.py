"""Names that a case-folding disk would merge, found in SQL over walk, base and mirror.

A sync in slices (``syncd.slices``) plans each slice on its own, but the planner decides
a name that folds onto another one (``planner/names.py``, ``resolve_clashes``) only with
both in view, and such names may lie far apart in path order (``Readme`` and ``readme``,
with ``S`` to ``Z`` between them). This module answers the question for the whole tree:

1. A path's fold key is ``paths.fold_key`` of the whole path (NFC, then casefolded), the
   key the planner folds by; SQLite computes it with that very function, registered on
   the connection that reads, so no column or index has to be kept in step with it.
2. What comes back are the paths whose key is shared with another path of the walk, the
   base or the mirror, ordered by key then path; a path below one that clashes already
   is left out (the folder's subtree is planned whole with it), so the answer is as
   small as the clashes are, not as the tree is.
3. The rows are read a part at a time through SQLite's sorter, which spills to disk:
   Python holds the clashing paths, never the tree's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from syncd.paths import ancestors, fold_key
from syncd.state.sql import raw

if TYPE_CHECKING:
    from syncd.state.store import Store

_CLASHES = """
SELECT k, path FROM (
  SELECT k, path, count(*) OVER (PARTITION BY k) AS n FROM (
    SELECT syncd_fold_key(path) AS k, path FROM (
      SELECT path FROM scan_rows UNION SELECT path FROM base UNION SELECT path FROM remote)))
 WHERE n > 1 ORDER BY path
"""


def clashes(store: Store) -> list[list[str]]:
    """The outermost paths that fold together, one list per fold key (promise 2)."""
    groups: dict[str, list[str]] = {}
    kept: set[str] = set()
    for key, path in _rows(store):
        if any(a in kept for a in ancestors(path)):
            continue  # inside a clashing folder: planned whole with it
        kept.add(path)
        groups.setdefault(key, []).append(path)
    return [paths for paths in groups.values() if len(paths) > 1]


def _rows(store: Store) -> Iterator[tuple[str, str]]:
    with store.read() as conn:
        db = raw(conn)
        db.create_function("syncd_fold_key", 1, fold_key, deterministic=True)
        yield from db.execute(_CLASHES)
