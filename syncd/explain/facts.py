"""The facts about one path that need no server: the disk, the ignore files and the state.

1. The state is read from a private copy (``Store.open_copy``), so nothing is created,
   locked or written next to the database, also while a daemon writes it.
2. The disk is looked at with one ``lstat`` and the ignore files on the way to the path;
   no file's content is read (the cached hash is the state's, shown with whether it still
   matches the file).
3. Every row is cut to the path: itself, what lies below it, and for a move or a conflict
   the rows that name it as their other end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncd.errors import SyncdError
from syncd.local.ignore import IgnoreMatch, rule_line
from syncd.local.pathinfo import PathInfo, ignore_rules_for, path_info
from syncd.paths import is_within
from syncd.planner.trees import BaseNode, RemoteNode
from syncd.state import exclude_rules, recent
from syncd.state.journal import Journal, JournalEntry
from syncd.state.schema import Conflict, DaemonStatus, ItemErrorRecord
from syncd.state.store import Store


@dataclass
class Facts:
    """What syncd knows about ``path`` without asking the server."""

    path: str
    local: PathInfo | None = None
    local_error: str | None = None
    cached_hash: str | None = None
    cache_matches: bool = False  # the cached hash was read under the file's current stat
    ignore: IgnoreMatch | None = None
    ignore_line: int | None = None
    ignore_error: str | None = None
    base: BaseNode | None = None
    base_below: int = 0  # base rows below a directory
    has_feed: bool = False
    cursor: int | None = None
    mirror: RemoteNode | None = None
    journal: list[JournalEntry] = field(default_factory=list)
    recent: list[dict[str, Any]] = field(default_factory=list)
    errors: list[ItemErrorRecord] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    dirty_since: str | None = None
    skipped: str | None = None
    excluded_added: list[str] = field(default_factory=list)
    last_mode: str | None = None
    merge_pending: bool = False
    daemon: DaemonStatus | None = None
    last_sync: str | None = None


def _touches(row_path: str | None, path: str) -> bool:
    """A row about ``path``, something below it, or a folder that holds it."""
    return row_path is not None and (is_within(row_path, path) or is_within(path, row_path))


def read_facts(root: Path, store: Store, path: str) -> Facts:
    """Everything the folder and the state say about ``path``."""
    facts = Facts(path)
    read_disk(root, store, facts)
    read_state(store, facts)
    return facts


def read_disk(root: Path, store: Store, facts: Facts) -> None:
    path = facts.path
    try:
        facts.local = path_info(root, path)
    except SyncdError as exc:
        facts.local_error = exc.describe()
    entry = store.hashes.get(path)
    if entry is not None:
        facts.cached_hash = entry[1]
        facts.cache_matches = facts.local is not None and tuple(facts.local.sig) == entry[0]
    is_dir = facts.local.kind == "directory" if facts.local is not None else False
    try:
        ignore, texts = ignore_rules_for(root, path)
    except SyncdError as exc:
        facts.ignore_error = exc.describe()
        return
    facts.ignore = ignore.rule_for(path, is_dir)
    if facts.ignore is not None and facts.ignore.index is not None:
        folder = facts.ignore.source.rpartition("/")[0]
        facts.ignore_line = rule_line(texts.get(folder, ""), facts.ignore.index)


def read_state(store: Store, facts: Facts) -> None:
    path = facts.path
    base = store.base(prefixes=[path])
    facts.base = base.get(path)
    facts.base_below = sum(1 for p in base if p != path)
    facts.cursor = store.meta.cursor()
    facts.has_feed = facts.cursor is not None
    if facts.has_feed:
        facts.mirror = store.remote.tree(prefixes=[path]).get(path)
    facts.journal = [
        e for e in Journal(store).pending() if _touches(e.path, path) or _touches(e.dest, path)
    ]
    facts.recent = [
        c
        for c in recent.recent(store)
        if _touches(c.get("path"), path) or _touches(c.get("dest"), path) or c.get("of") == path
    ]
    facts.errors = [e for e in store.item_errors.rows() if _touches(e.path, path)]
    facts.conflicts = [c for c in store.conflicts.rows() if path in (c.path, c.conflict_path)]
    dirty = store.dirty.rows()
    facts.dirty_since = next((t for p, t in dirty.items() if _touches(p, path)), None)
    skipped = store.meta.skipped()
    facts.skipped = skipped.get(path)
    facts.excluded_added = exclude_rules.read(store)
    facts.last_mode = store.meta.get("mode")
    facts.merge_pending = store.meta.is_merge_pending()
    facts.daemon = store.daemon_status.read()
    last = store.meta.last_sync()
    facts.last_sync = last.time if last else None
