"""The hash cache: exact stat matches only; read per scan scope, never held, never stale."""

from __future__ import annotations

from pathlib import Path

from syncd.state.store import Store
from tests.unit.state.conftest import Record, Sig


def test_a_view_holds_the_rows_of_its_scope_only(store: Store) -> None:
    sig = Sig(10, 20, 30, 40)
    store.hashes.put([Record("a", sig, "sha256:1"), Record("b/x", sig, "sha256:2")])
    view = store.hashes.view({"b"})
    assert view.lookup("b/x", sig) == "sha256:2"
    assert view.lookup("a", sig) is None  # outside the scope: not read
    assert store.hashes.view(None).lookup("a", sig) == "sha256:1"
    assert store.hashes.view({"a" + "\x00"}).lookup("a", Sig(10, 20, 30, 41)) is None


def test_the_store_keeps_no_hash_in_memory(store: Store) -> None:
    """A daemon at rest holds no per-file state: the cache lives in the table only."""
    sig = Sig(1, 2, 3, 4)
    store.hashes.put([Record(f"f{i}", sig, f"h{i}") for i in range(50)])
    assert store.hashes.view().lookup("f7", sig) == "h7"
    held = [v for v in vars(store.hashes).values() if isinstance(v, dict)]
    assert held == []


def test_each_stat_field_must_match(store: Store) -> None:
    sig = Sig(10, 20, 30, 40)
    store.hashes.put([Record("a", sig, "h")])
    assert store.hashes.lookup("a", sig) == "h"
    for other in (Sig(11, 20, 30, 40), Sig(10, 21, 30, 40), Sig(10, 20, 31, 40)):
        assert store.hashes.lookup("a", other) is None


def test_cache_follows_stores_drops_and_moves(store: Store) -> None:
    sig = Sig(1, 2, 3, 4)
    store.hashes.put([Record("d/x", sig, "hx")])
    assert store.hashes.lookup("d/x", sig) == "hx"
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


def test_a_move_renames_the_rows_and_replaces_the_destination(store: Store) -> None:
    sig = Sig(1, 2, 3, 4)
    names = {"d/x": "hx", "d/e/y": "hy", "d0": "h0", "e/old": "hold", "e": "he"}
    store.hashes.put(Record(path, sig, digest) for path, digest in names.items())
    store.move_base("d", "e")
    view = store.hashes.view()
    assert set(view._hashes) == {"e/x", "e/e/y", "d0"}  # what was at "e" was replaced
    assert store.hashes.lookup("e/e/y", sig) == "hy" and store.hashes.lookup("d/x", sig) is None


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
