"""The hash cache's hot path: loaded once, read without a lock, never stale."""

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
    store.store_hashes([Record("a", sig, "sha256:1")])
    loaded = store.load_hashes()
    assert "a" in loaded
    store._hashes_lock = _NoLock()  # type: ignore[assignment]
    assert store.lookup("a", sig) == "sha256:1"
    assert store.lookup("a", Sig(10, 20, 30, 41)) is None
    assert store.lookup("missing", sig) is None


def test_each_stat_field_must_match(store: Store) -> None:
    sig = Sig(10, 20, 30, 40)
    store.store_hashes([Record("a", sig, "h")])
    assert store.lookup("a", sig) == "h"
    for other in (Sig(11, 20, 30, 40), Sig(10, 21, 30, 40), Sig(10, 20, 31, 40)):
        assert store.lookup("a", other) is None


def test_loaded_cache_follows_stores_drops_and_moves(store: Store) -> None:
    sig = Sig(1, 2, 3, 4)
    store.store_hashes([Record("d/x", sig, "hx")])
    assert store.lookup("d/x", sig) == "hx"  # loads the cache
    store.store_hashes([Record("d/x", Sig(5, 6, 7, 8), "hx2"), Record("y", sig, "hy")])
    assert store.lookup("d/x", sig) is None
    assert store.lookup("d/x", Sig(5, 6, 7, 8)) == "hx2"
    assert store.lookup("y", sig) == "hy"
    store.move_base("d", "e")
    assert store.lookup("d/x", Sig(5, 6, 7, 8)) is None
    assert store.lookup("e/x", Sig(5, 6, 7, 8)) == "hx2"
    store.drop_hashes(["y"])
    assert store.lookup("y", sig) is None


def test_cache_is_loaded_from_disk_by_a_new_store(db_path: Path, store: Store) -> None:
    sig = Sig(1, 2, 3, 4)
    store.store_hashes([Record("a", sig, "ha")])
    with Store.open(db_path) as again:
        assert again.lookup("a", sig) == "ha"
        assert again.load_hashes() is again.load_hashes()  # one query, then memory
