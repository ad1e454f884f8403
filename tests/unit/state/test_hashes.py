"""The hash cache: exact stat matches only; loaded once, read without a lock, never stale."""

from __future__ import annotations

from pathlib import Path

from syncd.state.store import Store
from tests.unit.state.conftest import Record, Sig


class _NoLock:
    """Stands in for the cache lock: any use of it on the hot path fails the test."""

    def __enter__(self) -> None:
        raise AssertionError("lookup took the lock")

    def __exit__(self, *_exc: object) -> None:
        return None


def test_lookup_after_loading_takes_no_lock(store: Store) -> None:
    sig = Sig(10, 20, 30, 40)
    store.hashes.put([Record("a", sig, "sha256:1")])
    loaded = store.hashes.load()
    assert "a" in loaded
    store.hashes._lock = _NoLock()  # type: ignore[assignment]
    assert store.hashes.lookup("a", sig) == "sha256:1"
    assert store.hashes.lookup("a", Sig(10, 20, 30, 41)) is None
    assert store.hashes.lookup("missing", sig) is None


def test_each_stat_field_must_match(store: Store) -> None:
    sig = Sig(10, 20, 30, 40)
    store.hashes.put([Record("a", sig, "h")])
    assert store.hashes.lookup("a", sig) == "h"
    for other in (Sig(11, 20, 30, 40), Sig(10, 21, 30, 40), Sig(10, 20, 31, 40)):
        assert store.hashes.lookup("a", other) is None


def test_loaded_cache_follows_stores_drops_and_moves(store: Store) -> None:
    sig = Sig(1, 2, 3, 4)
    store.hashes.put([Record("d/x", sig, "hx")])
    assert store.hashes.lookup("d/x", sig) == "hx"  # loads the cache
    store.hashes.put([Record("d/x", Sig(5, 6, 7, 8), "hx2"), Record("y", sig, "hy")])
    assert store.hashes.lookup("d/x", sig) is None
    assert store.hashes.lookup("d/x", Sig(5, 6, 7, 8)) == "hx2"
    assert store.hashes.lookup("y", sig) == "hy"
    store.move_base("d", "e")
    assert store.hashes.lookup("d/x", Sig(5, 6, 7, 8)) is None
    assert store.hashes.lookup("e/x", Sig(5, 6, 7, 8)) == "hx2"
    store.hashes.drop(["y"])
    assert store.hashes.lookup("y", sig) is None


def test_cache_is_loaded_from_disk_by_a_new_store(db_path: Path, store: Store) -> None:
    sig = Sig(1, 2, 3, 4)
    store.hashes.put([Record("a", sig, "ha")])
    with Store.open(db_path) as again:
        assert again.hashes.lookup("a", sig) == "ha"
        assert again.hashes.load() is again.hashes.load()  # one query, then memory


def test_a_move_renames_the_loaded_cache_instead_of_reloading_it(store: Store) -> None:
    sig = Sig(1, 2, 3, 4)
    names = {"d/x": "hx", "d/e/y": "hy", "d0": "h0", "e/old": "hold", "e": "he"}
    store.hashes.put(Record(path, sig, digest) for path, digest in names.items())
    loaded = store.hashes.load()
    store.move_base("d", "e")
    assert store.hashes.load() is loaded  # no second read of the whole table
    assert set(loaded) == {"e/x", "e/e/y", "d0"}  # what was at "e" was replaced
    assert store.hashes.lookup("e/e/y", sig) == "hy" and store.hashes.lookup("d/x", sig) is None
    with Store.open(store.path) as again:  # and the table agrees with memory
        assert set(again.hashes.load()) == set(loaded)


def test_hash_cache_matches_only_the_exact_stat(db_path: Path, store: Store) -> None:
    sig = Sig(10, 20, 30, 40)
    assert store.hashes.lookup("a", sig) is None
    store.hashes.put([Record("a", sig, "sha256:1")])
    assert store.hashes.lookup("a", sig) == "sha256:1"
    for other in (
        Sig(11, 20, 30, 40),
        Sig(10, 21, 30, 40),
        Sig(10, 20, 31, 40),
        Sig(10, 20, 30, 41),
    ):
        assert store.hashes.lookup("a", other) is None
    store.hashes.put([Record("a", Sig(11, 20, 30, 40), "sha256:2")])
    assert store.hashes.lookup("a", Sig(11, 20, 30, 40)) == "sha256:2"
    with Store.open(db_path) as reopened:
        assert reopened.hashes.lookup("a", Sig(11, 20, 30, 40)) == "sha256:2"
    store.hashes.put([Record("d/x", sig, "h"), Record("d/y", sig, "h")])
    store.hashes.drop(["d"], subtree=True)
    assert store.hashes.lookup("d/x", sig) is None and store.hashes.lookup("a", Sig(11, 20, 30, 40))
