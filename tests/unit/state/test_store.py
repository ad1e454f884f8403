"""Store round trips on a real SQLite file: trees, meta, versioning, transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from syncd.errors import UsageError
from syncd.planner.trees import BaseNode, Kind, RemoteNode
from syncd.state import SCHEMA_VERSION, MetaKey, Store
from tests.unit.state.conftest import Record, Sig

FILE_A = BaseNode("docs/a.txt", Kind.FILE, 3, "sha256:aa", 111, 7, 4, "2026-01-01T00:00:00+00:00")
DIR = BaseNode("docs", Kind.DIR, remote_revision=2)


def test_open_creates_folders_tables_and_safe_pragmas(db_path: Path, store: Store) -> None:
    assert db_path.is_file()
    raw = sqlite3.connect(db_path)
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "base", "hash_cache", "journal", "conflicts", "item_errors"} <= tables
    assert {"upload_sessions", "dirty_paths", "daemon_status"} <= tables
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    with store.read() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("synchronous", "foreign_keys")
        }
    assert pragmas == {"synchronous": 2, "foreign_keys": 1}  # 2 = FULL
    assert store.get_meta(MetaKey.SCHEMA_VERSION) == str(SCHEMA_VERSION)


def test_base_round_trip_upsert_and_count(store: Store) -> None:
    store.put_base([FILE_A, DIR])
    assert store.base() == {"docs/a.txt": FILE_A, "docs": DIR}
    assert store.base()["docs"].kind is Kind.DIR
    changed = BaseNode("docs/a.txt", Kind.FILE, 5, "sha256:bb", 222, 7, 9, None)
    store.put_base([changed])
    assert store.base()["docs/a.txt"] == changed
    assert store.base_count() == 2


def test_drop_base_subtree_spares_siblings_with_similar_names(store: Store) -> None:
    names = ["a", "a/x", "a/x/y", "a b", "a0", "ab", "a.txt", "A/x", "b"]
    store.put_base(BaseNode(n, Kind.FILE, 1) for n in names)
    store.drop_base(["a"], subtree=True)
    assert set(store.base()) == {"a b", "a0", "ab", "a.txt", "A/x", "b"}
    store.drop_base(["ab", "missing"])
    assert "ab" not in store.base() and store.base_count() == 5


def test_data_survives_reopen(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.put_base([FILE_A])
        store.set_cursor(42)
    with Store.open(db_path) as store:
        assert store.base() == {FILE_A.path: FILE_A}
        assert store.get_cursor() == 42


def test_meta_values_cursor_and_json(store: Store) -> None:
    assert store.get_meta("nothing") is None
    store.set_meta("k", "v")
    assert store.get_meta("k") == "v"
    store.set_meta("k", None)
    assert store.get_meta("k") is None
    assert store.get_cursor() is None
    store.set_cursor(0)
    assert store.get_cursor() == 0
    store.set_capabilities({"changes": True, "max_body": 10})
    assert store.capabilities() == {"changes": True, "max_body": 10}
    store.set_capabilities(None)
    assert store.capabilities() is None


def test_bind_records_lineage_and_refuses_another_triple(store: Store, tmp_path: Path) -> None:
    store.bind("http://Host:8765/", "ws1", tmp_path / "folder")
    lineage = store.lineage()
    assert lineage is not None
    assert (lineage.server_url, lineage.workspace_id) == ("http://host:8765", "ws1")
    assert lineage.local_folder == str((tmp_path / "folder").resolve())
    store.bind("http://host:8765", "ws1", tmp_path / "folder")  # same triple: fine
    with pytest.raises(UsageError, match="belongs to"):
        store.bind("http://host:8765", "ws2", tmp_path / "folder")


def test_first_sync_and_reset_are_merges(store: Store, tmp_path: Path) -> None:
    assert not store.is_merge_pending()
    store.bind("http://h", "ws", tmp_path / "f")
    assert store.is_merge_pending()
    store.finish_merge(17)
    assert (store.is_merge_pending(), store.get_cursor()) == (False, 17)
    store.start_reset()
    assert (store.is_merge_pending(), store.get_cursor()) == (True, None)


def test_folder_id_and_last_sync(store: Store) -> None:
    assert store.folder_id() is None and store.last_sync() is None
    store.set_folder_id("f-123")
    store.record_sync({"uploaded": 2, "exit_code": 0}, time="2026-01-02T03:04:05+00:00")
    assert store.folder_id() == "f-123"
    last = store.last_sync()
    assert last is not None
    assert (last.time, last.result) == (
        "2026-01-02T03:04:05+00:00",
        {"uploaded": 2, "exit_code": 0},
    )


def test_hash_cache_matches_only_the_exact_stat(db_path: Path, store: Store) -> None:
    sig = Sig(10, 20, 30, 40)
    assert store.lookup("a", sig) is None
    store.store_hashes([Record("a", sig, "sha256:1")])
    assert store.lookup("a", sig) == "sha256:1"
    for other in (
        Sig(11, 20, 30, 40),
        Sig(10, 21, 30, 40),
        Sig(10, 20, 31, 40),
        Sig(10, 20, 30, 41),
    ):
        assert store.lookup("a", other) is None
    store.store_hashes([Record("a", Sig(11, 20, 30, 40), "sha256:2")])
    assert store.lookup("a", Sig(11, 20, 30, 40)) == "sha256:2"
    with Store.open(db_path) as reopened:
        assert reopened.lookup("a", Sig(11, 20, 30, 40)) == "sha256:2"
    store.store_hashes([Record("d/x", sig, "h"), Record("d/y", sig, "h")])
    store.drop_hashes(["d"], subtree=True)
    assert store.lookup("d/x", sig) is None and store.lookup("a", Sig(11, 20, 30, 40))


def test_transaction_commits_together_or_not_at_all(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put_base([FILE_A])
        store.set_cursor(5)
        raise RuntimeError("crash in the middle")
    assert store.base() == {} and store.get_cursor() is None
    with store.transaction():
        store.put_base([FILE_A])
        with store.transaction():  # nested: joins the outer one
            store.set_cursor(6)
        assert store.in_transaction()
    assert not store.in_transaction()
    assert store.base() == {FILE_A.path: FILE_A} and store.get_cursor() == 6


def test_newer_schema_is_refused_and_left_untouched(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.set_meta(MetaKey.SCHEMA_VERSION, str(SCHEMA_VERSION + 1))
        store.put_base([FILE_A])
    with pytest.raises(UsageError, match="newer") as info:
        Store.open(db_path)
    assert info.value.exit_code == 2
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT count(*) FROM base").fetchone()[0] == 1
    raw.close()


def test_not_a_database_is_a_usage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match="cannot open"):
        Store.open(junk)
    assert junk.read_bytes().startswith(b"this is not sqlite")


def test_readers_do_not_create_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "db.sqlite3"
    with pytest.raises(UsageError, match="no sync state"):
        Store.open(missing, create=False)
    assert not missing.parent.exists()


def test_repr_names_only_the_file(store: Store, db_path: Path) -> None:
    assert repr(store) == f"Store({str(db_path)!r})"


def test_move_base_renames_the_subtree_and_its_hashes(store: Store) -> None:
    sig = Sig(1, 2, 3, 4)
    store.put_base(BaseNode(p, Kind.FILE, 1) for p in ["d", "d/x", "d/e/y", "d0", "e/old"])
    store.store_hashes([Record("d/x", sig, "hx"), Record("d0", sig, "h0")])
    store.move_base("d", "e")
    assert set(store.base()) == {"e", "e/x", "e/e/y", "d0"}
    assert store.base()["e/x"] == BaseNode("e/x", Kind.FILE, 1)
    assert store.lookup("e/x", sig) == "hx" and store.lookup("d/x", sig) is None
    assert store.lookup("d0", sig) == "h0"
    with pytest.raises(ValueError):
        store.move_base("e", "e/inner")


def test_remote_mirror_pages_and_reset(store: Store) -> None:
    file_a = RemoteNode("d/a", Kind.FILE, 3, "2026-01-01T00:00:00+00:00", 4, "sha256:a")
    directory = RemoteNode("d", Kind.DIR, None, None, 2, None)
    store.apply_remote(
        upserts=[directory, file_a, RemoteNode("k", Kind.FILE, 1)], deletes=[], cursor=4
    )
    assert store.remote_tree() == {
        "d": directory,
        "d/a": file_a,
        "k": RemoteNode("k", Kind.FILE, 1),
    }
    assert store.get_cursor() == 4
    moved = RemoteNode("e", Kind.DIR, revision=5)
    store.apply_remote(upserts=[moved, RemoteNode("d", Kind.FILE, 9)], deletes=["d"], cursor=5)
    assert set(store.remote_tree()) == {"d", "e", "k"}  # d/a went with its directory
    assert store.remote_tree()["d"].kind is Kind.FILE
    store.put_base([FILE_A])
    store.reset_remote(drop_base=False)
    assert (store.remote_tree(), store.get_cursor(), store.base_count()) == ({}, None, 1)
    assert not store.is_merge_pending()
    store.apply_remote(upserts=[file_a], deletes=[], cursor=7)
    store.reset_remote(drop_base=True)
    assert (store.remote_tree(), store.get_cursor(), store.base_count()) == ({}, None, 0)
    assert store.is_merge_pending()


def test_missing_tables_of_the_same_version_are_created(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.put_base([FILE_A])
    raw = sqlite3.connect(db_path)
    raw.execute("DROP TABLE dirty_paths")
    raw.commit()
    raw.close()
    with Store.open(db_path) as store:
        store.dirty.mark(["x"])
        assert list(store.dirty.rows()) == ["x"] and store.base_count() == 1
