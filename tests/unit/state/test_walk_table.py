"""The walk table lasts between full syncs: a walk writes only what changed on disk, the
table then equals a walk from scratch, and a path whose walk, base or mirror row was
written stays queued until the three agree, across a crash and a schema migration.

Real folders, the real scanner and a real SQLite file."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from syncd.local import scan as scan_module
from syncd.local.ignore import Ignore
from syncd.local.scan import scan
from syncd.planner.trees import BaseNode, Kind, RemoteNode
from syncd.state.schema import SCHEMA_VERSION, MetaKey
from syncd.state.store import Store
from tests.support.schema_v1 import downgrade_to_v1

F, D = Kind.FILE, Kind.DIR
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def walk(store: Store, folder: Path) -> None:
    scan(folder, ignore=Ignore(), cache=None, hash_files=False, sink=store.scan_rows.update)


def rows(store: Store) -> list[tuple[object, ...]]:
    with store.read() as conn:
        sql = "SELECT path, parent, kind, size, mtime_ns, inode FROM scan_rows ORDER BY path"
        return conn.execute(sql).fetchall()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_tree(folder: Path) -> None:
    for i in range(12):
        write(folder / f"big/f{i:02d}.txt", str(i))  # more than FOLDER_HELD when it is 5
    write(folder / "big/Kelvin-\u212a.txt", "k")  # an NFC key that differs from the name
    write(folder / "a/b/c.txt", "c")
    write(folder / "a/b/deep/d.txt", "d")
    write(folder / "gone/x/y.txt", "y")
    write(folder / "turns/inner.txt", "i")
    write(folder / "top.txt", "t")


def change_tree(folder: Path) -> None:
    (folder / "big/f03.txt").unlink()
    (folder / "big/f04.txt").write_text("longer now")
    shutil.rmtree(folder / "big/../gone")
    shutil.rmtree(folder / "turns")
    write(folder / "turns", "now a file")
    write(folder / "big/new/n.txt", "n")
    write(folder / "a/b/.syncdignore", "deep/\n")  # its rows leave with the rule


def sync_facts(store: Store) -> None:
    """Base and mirror agree with the walk, as after a sync of every path."""
    base, remote = [], []
    for path, _, kind, size, mtime_ns, inode in rows(store):
        k = Kind(kind)
        base.append(
            BaseNode(path, k, size, "sha256:x" if size is not None else None, mtime_ns, inode, 1)
        )
        remote.append(RemoteNode(path, k, size, "t", 1, "sha256:x" if size is not None else None))
    store.put_base(base)
    store.remote.apply(upserts=remote, deletes=[], cursor=1)


def walk_in_sync(store: Store, folder: Path) -> None:
    """Walk the folder and make base and mirror agree with it: nothing is left to compare."""
    walk(store, folder)
    sync_facts(store)
    assert queued(store) == []


def queued(store: Store) -> list[str]:
    store.scan_rows.queue_dirty()
    return [row[1] for row in store.scan_rows.queued()]


@pytest.mark.parametrize("held", [4096, 5], ids=["whole-folders", "big-folders-streamed"])
def test_a_walk_writes_only_the_changes_and_equals_a_walk_from_scratch(
    tmp_path: Path, held: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_module, "FOLDER_HELD", held)
    folder = tmp_path / "folder"
    make_tree(folder)
    with Store.open(tmp_path / "kept.sqlite3") as kept:
        walk(kept, folder)
        statements: list[str] = []
        kept.trace_sql(statements.append)
        walk(kept, folder)  # nothing changed: nothing written
        assert not [s for s in statements if s.lstrip().upper().startswith(WRITES)]
        assert "big/Kelvin-K.txt" in [r[0] for r in rows(kept)]

        before = rowids(kept)
        change_tree(folder)
        walk(kept, folder)
        after = rowids(kept)
        kept_rows = {p for p in before if p in after and before[p] == after[p]}
        left = {"big/f03.txt", "gone", "gone/x", "gone/x/y.txt", "turns/inner.txt"}
        left |= {"a/b/deep", "a/b/deep/d.txt"}
        assert kept_rows == set(before) - left  # the rest updated in place, none rewritten
        with Store.open(tmp_path / "fresh.sqlite3") as fresh:
            walk(fresh, folder)
            assert rows(kept) == rows(fresh)
    paths = [r[0] for r in rows_of(tmp_path / "kept.sqlite3")]
    assert "gone" not in paths and "gone/x/y.txt" not in paths and "turns/inner.txt" not in paths
    assert "a/b/deep" not in paths and "a/b/deep/d.txt" not in paths
    assert "big/f03.txt" not in paths and "big/new/n.txt" in paths


def rowids(store: Store) -> dict[str, int]:
    with store.read() as conn:
        return dict(conn.execute("SELECT path, rowid FROM scan_rows").fetchall())


def rows_of(db: Path) -> list[tuple[object, ...]]:
    with Store.open(db) as store:
        return rows(store)


def test_a_path_stays_queued_until_walk_base_and_mirror_agree(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    make_tree(folder)
    db = tmp_path / "state.sqlite3"
    with Store.open(db) as store:
        walk(store, folder)  # a first sync: every walked path is queued
        assert "top.txt" in queued(store) and "a/b/c.txt" in queued(store)
        sync_facts(store)
        assert queued(store) == []
        assert queued(store) == []  # and stays so: nothing is compared again
        (folder / "top.txt").write_text("edited")
        walk(store, folder)
    # killed between the walk and the end of the sync: the mark was in the walk's commit
    with Store.open(db) as store:
        assert queued(store) == ["top.txt"]
        walk(store, folder)  # the next walk writes nothing for it ...
        assert queued(store) == ["top.txt"]  # ... and it is still queued: it disagrees
        store.scan_rows.queue_dirty()
    with Store.open(db) as store:  # killed after the queue, before any slice ran
        assert queued(store) == ["top.txt"]
        node = next(r for r in rows(store) if r[0] == "top.txt")
        store.put_base([BaseNode("top.txt", F, node[3], "sha256:y", node[4], node[5], 2)])
        assert queued(store) == ["top.txt"]  # the mirror still holds the old revision
        store.remote.apply(
            upserts=[RemoteNode("top.txt", F, node[3], "t", 2, "sha256:y")], deletes=[], cursor=2
        )
        assert queued(store) == []


def test_a_base_or_mirror_write_without_a_walk_is_compared_at_the_next_sync(
    tmp_path: Path,
) -> None:
    """A scoped daemon pass writes the base (and a feed page the mirror) but not the walk:
    the next full sync compares those paths with what its walk found."""
    folder = tmp_path / "folder"
    make_tree(folder)
    with Store.open(tmp_path / "state.sqlite3") as store:
        walk_in_sync(store, folder)
        write(folder / "new.txt", "made and synced by a scoped pass")
        st = os.lstat(folder / "new.txt")
        store.put_base(
            [BaseNode("new.txt", F, st.st_size, "sha256:n", st.st_mtime_ns, st.st_ino, 3)]
        )
        store.remote.apply(
            upserts=[RemoteNode("new.txt", F, st.st_size, "t", 3, "sha256:n")],
            deletes=["a/b/c.txt"],  # and another device deleted this one
            cursor=3,
        )
        walk(store, folder)
        assert queued(store) == ["a/b/c.txt"]  # new.txt agrees once the walk has it


def test_a_version_1_database_is_migrated_and_every_path_compared(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    make_tree(folder)
    db = tmp_path / "state.sqlite3"
    with Store.open(db) as store:
        walk_in_sync(store, folder)
    (folder / "top.txt").unlink()
    with sqlite3.connect(db) as conn:  # the layout of schema version 1
        downgrade_to_v1(conn)
        conn.execute("INSERT INTO scan_rows VALUES ('top.txt', 'file', 1, 1, 1)")
        conn.execute("UPDATE meta SET value = '1' WHERE key = ?", (MetaKey.SCHEMA_VERSION,))
    with Store.open(db) as store:
        assert store.meta.get(MetaKey.SCHEMA_VERSION) == str(SCHEMA_VERSION)
        assert rows(store) == []  # the old walk is not trusted
        walk(store, folder)
        assert queued(store) == ["top.txt"]  # gone from the disk: found although unwalked


def test_a_big_folder_read_in_parts_gives_the_rows_and_twins_of_a_whole_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "folder"
    make_tree(folder)
    write(folder / "big/Kelvin-\u212a2.txt", "k2")  # another spelling of the next name ...
    write(folder / "big/Kelvin-K2.txt", "plain")  # ... which owns the key
    write(folder / "big/caf\u00e9.txt", "nfc")
    write(folder / "big/cafe\u0301.txt", "nfd")  # a twin of the NFC name
    results = {}
    for held in (4096, 3):
        monkeypatch.setattr(scan_module, "FOLDER_HELD", held)
        with Store.open(tmp_path / f"held-{held}.sqlite3") as store:
            found = scan(
                folder,
                ignore=Ignore(),
                cache=None,
                hash_files=False,
                sink=store.scan_rows.update,
            )
            twins = sorted((t.path, t.disk_name) for t in found.twins)
            results[held] = (rows(store), twins)
    assert results[3] == results[4096]
    assert sorted(results[3][1]) == [
        ("big/Kelvin-K2.txt", "big/Kelvin-\u212a2.txt"),
        ("big/caf\u00e9.txt", "big/cafe\u0301.txt"),
    ]


def test_an_unchanged_folder_is_not_read_back_and_any_write_to_it_drops_its_digest(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "f"
    make_tree(folder)
    with Store.open(tmp_path / "state.sqlite3") as store:
        walk_in_sync(store, folder)
        before = rows(store)
        with store.read() as conn:
            digests = dict(conn.execute("SELECT path, digest FROM scan_folders").fetchall())
        assert {"", "a", "a/b"} <= digests.keys()
        # a writer other than the walk (settle's install rows, say) records a file as it
        # is not on the disk: the folder's digest goes, so the next walk puts it right
        stale = next(r for r in before if r[0] == "a/b/c.txt")
        store.scan_rows.put_rows([(stale[0], stale[2], 99, 1, stale[5])])
        with store.read() as conn:
            left = {p for (p,) in conn.execute("SELECT path FROM scan_folders").fetchall()}
        assert "a/b" not in left and "" in left
        walk(store, folder)
        assert rows(store) == before
        assert queued(store) == []  # back as base and mirror record it
        # a change on disk in a folder that has its digest is still found
        (folder / "a/b/c.txt").write_text("changed, longer")
        walk(store, folder)
        assert queued(store) == ["a/b/c.txt"]
