"""A worker over a real folder, a real state database and an in-memory server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syncd.local.trash import Trash
from syncd.planner.ops import Plan
from syncd.state import Journal, Store
from syncd.worker.ops import OpContext
from syncd.worker.outcome import Outcome
from syncd.worker.phases import Batching
from syncd.worker.queue import Worker
from tests.unit.worker.fakes import FakeClient, Server


@dataclass
class Rig:
    root: Path
    server: Server
    client: FakeClient
    store: Store
    journal: Journal
    trash: Trash
    base_writes: list[tuple[int, list[str]]]  # (the transaction's number, paths put)
    opened: list[int]  # [the number of the latest transaction opened]

    def run(self, plan: Plan, *, batching: bool = True, transfers: int = 4) -> list[Outcome]:
        ctx = OpContext(
            client=self.client,
            workspace_id="w",
            root=self.root,
            trash=self.trash,
            batching=Batching.for_server(self.client.capabilities, 1 << 20, transfers)
            if batching
            else None,
        )
        return Worker(ctx, self.store, self.journal, transfers=transfers).execute(plan)

    def write(self, rel: str, data: bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    root = tmp_path / "folder"
    root.mkdir()
    server = Server()
    store = Store.open(tmp_path / "state" / "s.db")
    opened = [0]
    base_writes: list[tuple[int, list[str]]] = []
    real_transaction, real_put = store.transaction, store.put_base

    def counting():
        if not store.in_transaction():
            opened[0] += 1
        return real_transaction()

    def put_base(nodes):
        nodes = list(nodes)
        base_writes.append((opened[0], [n.path for n in nodes]))
        return real_put(nodes)

    store.transaction = counting  # type: ignore[method-assign]
    store.put_base = put_base  # type: ignore[method-assign]
    journal = Journal(store)
    try:
        yield Rig(
            root,
            server,
            FakeClient(server),
            store,
            journal,
            Trash(tmp_path / "trash"),
            base_writes,
            opened,
        )
    finally:
        store.close()
