"""Bulk sanity: 100,000 rows go in and out of the hot tables in one transaction each."""

from __future__ import annotations

from pathlib import Path

from syncd.planner.trees import BaseNode, Kind
from syncd.state import Store
from tests.unit.state.conftest import Record, Sig

N = 100_000


def test_100k_base_rows_round_trip(db_path: Path) -> None:
    nodes = [
        BaseNode(f"d{i // 1000}/f{i}.txt", Kind.FILE, i, f"sha256:{i:064x}", i, i, i, "t")
        for i in range(N)
    ]
    with Store.open(db_path) as store:
        store.item_errors.record("d0/f5.txt", "was failing")
        store.put_base(nodes)
        store.put_base(nodes[:10])  # an upsert over existing rows
        assert store.item_errors.rows() == []
    with Store.open(db_path) as store:
        base = store.base()
        assert len(base) == N == store.base_count()
        assert base["d99/f99999.txt"] == nodes[-1]
        store.drop_base(["d5"], subtree=True)
        assert store.base_count() == N - 1000


def test_100k_hashes_round_trip(db_path: Path) -> None:
    records = [Record(f"f{i}", Sig(i, i, i, i), f"sha256:{i}") for i in range(N)]
    with Store.open(db_path) as store:
        store.hashes.put(records)
    with Store.open(db_path) as store:
        hits = sum(store.hashes.lookup(r.path, r.sig) == r.hash for r in records)
        assert hits == N
        assert store.hashes.lookup("f7", Sig(7, 7, 7, 8)) is None
