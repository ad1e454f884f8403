"""``Store.open_copy``: the dry run's private copy reads the database and writes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.errors import UsageError
from syncd.planner.trees import BaseNode, Kind
from syncd.state.schema import MetaKey
from syncd.state.store import Store


def _files(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        p.name: (p.stat().st_mtime_ns, p.stat().st_ino, p.read_bytes())
        for p in sorted(folder.iterdir())
    }


def _row(path: str) -> BaseNode:
    return BaseNode(path, Kind.FILE, 3, "sha256:aa", 1, 2, 7, None)


def test_copy_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "state" / "db.sqlite3"
    with Store.open_copy(db) as copy:
        assert copy.is_copy and copy.base() == {}
        copy.meta.bind("http://h", "w", tmp_path / "folder")
        copy.put_base([_row("a")])
        assert set(copy.base()) == {"a"}
    assert not (tmp_path / "state").exists()


def test_copy_reads_the_database_and_its_writes_stay_in_memory(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    with Store.open(db) as store:
        store.put_base([_row("a")])
        store.meta.set_cursor(41)
    before = _files(tmp_path)
    assert list(before) == ["db.sqlite3"]  # a clean close leaves no -wal or -shm
    with Store.open_copy(db) as copy:
        assert set(copy.base()) == {"a"} and copy.meta.cursor() == 41
        copy.remote.reset(drop_base=True)  # what a 410 does
        copy.meta.set_cursor(99)
        assert copy.base() == {} and copy.meta.is_merge_pending()
        assert _files(tmp_path) == before
    assert _files(tmp_path) == before
    with Store.open(db) as store:
        assert set(store.base()) == {"a"} and store.meta.cursor() == 41


def test_copy_sees_the_commits_of_a_live_writer(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    with Store.open(db) as store:
        store.put_base([_row("a")])
        assert (tmp_path / "db.sqlite3-wal").exists()  # the writer's connection is open
        with Store.open_copy(db) as copy:
            assert set(copy.base()) == {"a"}


def test_copy_refuses_a_newer_schema_and_a_damaged_file(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    with Store.open(db) as store:
        store.meta.set(MetaKey.SCHEMA_VERSION, "999")
    with pytest.raises(UsageError, match="newer"):
        Store.open_copy(db)
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(UsageError, match="cannot open"):
        Store.open_copy(bad)
    assert bad.stat().st_size == 4096
