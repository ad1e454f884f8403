"""facts.py: the rows of a real state database and the disk, cut to one path."""

from __future__ import annotations

import os
from pathlib import Path

from syncd.explain.facts import read_facts
from syncd.local.hashing import StatSig
from syncd.local.scan import HashRecord
from syncd.planner import ops
from syncd.planner.trees import BaseNode, Kind
from syncd.state import exclude_rules, recent
from syncd.state.journal import Journal
from syncd.state.store import Store


def test_every_row_about_the_path_and_none_about_others(tmp_path: Path):
    root = tmp_path / "folder"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("hello")
    st = os.lstat(root / "docs" / "a.txt")
    sig = StatSig(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
    with Store.open(tmp_path / "state.sqlite3") as store:
        store.put_base(
            [
                BaseNode("docs", Kind.DIR),
                BaseNode("docs/a.txt", Kind.FILE, 5, "sha256:aa", st.st_mtime_ns, st.st_ino, 4),
                BaseNode("other.txt", Kind.FILE, 1, "sha256:bb", 1, 2, 3),
            ]
        )
        store.hashes.put([HashRecord("docs/a.txt", "sha256:aa", sig)])
        Journal(store).begin_many(
            [
                ops.Upload("docs/a.txt", ops.Reason.LOCAL_CHANGED),
                ops.Upload("other.txt", ops.Reason.LOCAL_CHANGED),
            ]
        )
        store.item_errors.record("docs/a.txt", "too large: 5 bytes (raise the limit)")
        store.item_errors.record("other.txt", "elsewhere")
        store.conflicts.add("docs/a.txt", "docs/a (conflicted copy).txt")
        store.dirty.mark(["docs/a.txt", "other.txt"])
        store.meta.note_skipped({"docs/link": "symbolic link"})
        exclude_rules.write(store, ["photos"])
        recent.record(
            store,
            [{"what": "uploaded", "path": "docs/a.txt", "op": "Upload", "reason": "LOCAL_NEW"},
             {"what": "uploaded", "path": "other.txt"}],
            {"uploaded": 2},
        )  # fmt: skip

    with Store.open_copy(tmp_path / "state.sqlite3") as copy:
        facts = read_facts(root, copy, "docs/a.txt")
        folder = read_facts(root, copy, "docs")

    assert facts.local is not None and facts.local.kind == "file" and facts.local.size == 5
    assert facts.cached_hash == "sha256:aa" and facts.cache_matches is True
    assert facts.base is not None and facts.base.remote_revision == 4
    assert [e.path for e in facts.journal] == ["docs/a.txt"]
    assert facts.journal[0].payload["reason"] == "LOCAL_CHANGED"
    assert [e.path for e in facts.errors] == ["docs/a.txt"]
    assert [c.conflict_path for c in facts.conflicts] == ["docs/a (conflicted copy).txt"]
    assert facts.dirty_since is not None
    assert [c["path"] for c in facts.recent] == ["docs/a.txt"]
    assert facts.excluded_added == ["photos"]
    assert facts.has_feed is False and facts.mirror is None
    assert folder.base_below == 1 and folder.base is not None and folder.base.is_dir
    assert [e.path for e in folder.errors] == ["docs/a.txt"]  # below the folder


def test_a_stale_cached_hash_is_kept_and_marked(tmp_path: Path):
    root = tmp_path / "folder"
    root.mkdir()
    (root / "a.txt").write_text("new content")
    with Store.open(tmp_path / "s.sqlite3") as store:
        store.hashes.put([HashRecord("a.txt", "sha256:old", StatSig(3, 1, 2, 3))])
        facts = read_facts(root, store, "a.txt")
    assert facts.cached_hash == "sha256:old" and facts.cache_matches is False
