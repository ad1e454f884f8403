"""Store round trips on a real SQLite file: opening, versioning, transactions, the base."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from syncd.errors import UsageError
from syncd.planner.trees import BaseNode, Kind
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
            name: conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("synchronous", "foreign_keys")
        }
    assert pragmas == {"synchronous": 2, "foreign_keys": 1}  # 2 = FULL
    assert store.meta.get(MetaKey.SCHEMA_VERSION) == str(SCHEMA_VERSION)


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
        store.meta.set_cursor(42)
    with Store.open(db_path) as store:
        assert store.base() == {FILE_A.path: FILE_A}
        assert store.meta.cursor() == 42


def test_transaction_commits_together_or_not_at_all(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put_base([FILE_A])
        store.meta.set_cursor(5)
        raise RuntimeError("crash in the middle")
    assert store.base() == {} and store.meta.cursor() is None
    with store.transaction():
        store.put_base([FILE_A])
        with store.transaction():  # nested: joins the outer one
            store.meta.set_cursor(6)
        assert store.in_transaction()
    assert not store.in_transaction()
    assert store.base() == {FILE_A.path: FILE_A} and store.meta.cursor() == 6


def test_newer_schema_is_refused_and_left_untouched(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.meta.set(MetaKey.SCHEMA_VERSION, str(SCHEMA_VERSION + 1))
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
    store.hashes.put([Record("d/x", sig, "hx"), Record("d0", sig, "h0")])
    store.move_base("d", "e")
    assert set(store.base()) == {"e", "e/x", "e/e/y", "d0"}
    assert store.base()["e/x"] == BaseNode("e/x", Kind.FILE, 1)
    assert store.hashes.lookup("e/x", sig) == "hx" and store.hashes.lookup("d/x", sig) is None
    assert store.hashes.lookup("d0", sig) == "h0"
    with pytest.raises(ValueError):
        store.move_base("e", "e/inner")


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
