"""The engine's rounds with in-memory parts: no server, no scan, no state database.

Each fake records what the engine asked of it, so a test reads as the order of events:
what was scanned and listed (and under which scope), which plans reached the executor.
Only ``check_root`` touches the disk: it keeps the folder's marker in ``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from syncd.engine_parts import RemoteView
from syncd.errors import SafetyStop
from syncd.local.ignore import Ignore
from syncd.local.scan import ScanResult
from syncd.local.trash import Trash
from syncd.paths import is_within_any as under
from syncd.planner import ops
from syncd.planner.trees import BaseNode, Kind, LocalNode, RemoteNode
from syncd.reconciler import Engine
from syncd.worker.ops import record_base
from syncd.worker.outcome import Outcome, Status

# -- the parts ---------------------------------------------------------------------------


def local_file(path: str, digest: str | None, *, mtime: int = 1, inode: int = 10) -> LocalNode:
    return LocalNode(path, Kind.FILE, size=3, mtime_ns=mtime, inode=inode, hash=digest)


def remote_file(path: str, digest: str | None, revision: int = 1) -> RemoteNode:
    return RemoteNode(path, Kind.FILE, size=3, modified_time="t", revision=revision, hash=digest)


def base_file(path: str, digest: str, revision: int = 1, *, inode: int = 10) -> BaseNode:
    return BaseNode(path, Kind.FILE, 3, digest, 1, inode, revision, "t")


@dataclass
class FakeLocal:
    tree: dict[str, LocalNode] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)  # what ``hash`` finds on disk
    ignore: Ignore = field(default_factory=lambda: Ignore.from_lines([]))
    scopes: list[set[str] | None] = field(default_factory=list)
    hashed: list[str] = field(default_factory=list)
    tidied: int = 0

    def scan(self, scope: set[str] | None) -> ScanResult:
        self.scopes.append(scope)
        tree = {p: n for p, n in self.tree.items() if scope is None or under(p, scope)}
        return ScanResult(tree=tree)

    def hash(self, node: LocalNode) -> str:
        self.hashed.append(node.path)
        return self.hashes[node.path]

    def tidy(self, scanned: ScanResult) -> None:
        self.tidied += 1

    def ignored_remote(self, entries: Iterable[tuple[str, bool]]) -> set[str]:
        return {path for path, is_dir in entries if self.ignore.matches(path, is_dir)}


@dataclass
class FakeRemote:
    tree_now: dict[str, RemoteNode] = field(default_factory=dict)
    contents: dict[str, str] = field(default_factory=dict)  # path -> hash of its bytes
    scopes: list[set[str] | None] = field(default_factory=list)

    def tree(self, scope: set[str] | None) -> RemoteView:
        self.scopes.append(scope)
        return RemoteView(
            {p: n for p, n in self.tree_now.items() if scope is None or under(p, scope)}
        )

    def files(self) -> int:
        return sum(1 for n in self.tree_now.values() if not n.is_dir)

    def has_mirror(self) -> bool:
        return False

    def content_hash(self, path: str, size: int | None) -> str:
        return self.contents[path]


@dataclass
class FakeMeta:
    folder: str | None = None
    merge_pending: bool = False
    writes: list[str] = field(default_factory=list)

    def folder_id(self) -> str | None:
        return self.folder

    def set_folder_id(self, folder_id: str) -> None:
        self.writes.append("folder_id")
        self.folder = folder_id

    def is_merge_pending(self) -> bool:
        return self.merge_pending

    def get_json(self, key: str) -> object:
        return None  # no exclude rules

    def finish_merge(self, cursor: int | None) -> None:
        self.writes.append("finish_merge")
        self.merge_pending = False

    def cursor(self) -> int | None:
        return None

    def set(self, key: str, value: str | None) -> None:
        self.writes.append(f"set {key}")

    def record_sync(self, result: Mapping[str, int]) -> None:
        self.writes.append("record_sync")

    def set_many(self, values: Mapping[str, str | None]) -> None:
        self.writes.append("set_many")

    def note_skipped(
        self, found: Mapping[str, str], scope: Iterable[str] | None = None
    ) -> dict[str, str]:
        return dict(found)


@dataclass
class FakeRecords:
    def rows(self) -> list:
        return []

    def clear(self, paths: Iterable[str]) -> None:
        list(paths)

    def record(self, path: str, reason: str) -> None:
        pass


@dataclass
class FakeStore:
    """The base as a dict; the base changes of outcomes land in it as the worker's do."""

    rows: dict[str, BaseNode] = field(default_factory=dict)
    is_copy: bool = False
    meta: FakeMeta = field(default_factory=FakeMeta)
    conflicts: FakeRecords = field(default_factory=FakeRecords)
    item_errors: FakeRecords = field(default_factory=FakeRecords)
    prefixes: list[set[str] | None] = field(default_factory=list)

    def base(self, prefixes: Iterable[str] | None = None) -> dict[str, BaseNode]:
        wanted = None if prefixes is None else set(prefixes)
        self.prefixes.append(wanted)
        return {p: b for p, b in self.rows.items() if wanted is None or under(p, wanted)}

    def has_base(self) -> bool:
        return bool(self.rows)

    def base_files(self) -> int:
        return sum(1 for b in self.rows.values() if not b.is_dir)


Answer = Status | Outcome


@dataclass
class FakeExecutor:
    """Answers each op DONE, unless ``answers`` scripts another status for a path (one per
    run, the last one repeating); ``on_run`` lets a test change the world mid-sync."""

    store: FakeStore
    answers: dict[str, list[Status]] = field(default_factory=dict)
    on_run: list = field(default_factory=list)
    transfers: int = 4
    plans: list[ops.Plan] = field(default_factory=list)

    def run(
        self,
        plan: ops.Plan,
        local: Mapping[str, LocalNode],
        remote: Mapping[str, RemoteNode],
        *,
        links: frozenset[str] = frozenset(),
    ) -> list[Outcome]:
        self.plans.append(plan)
        if self.on_run:
            self.on_run.pop(0)()
        outcomes = []
        for op in plan.ops:
            script = self.answers.get(op.path, [Status.DONE])
            status = script.pop(0) if len(script) > 1 else script[0]
            outcomes.append(Outcome(op, status, detail="" if status is Status.DONE else "412"))
            if status is Status.DONE and isinstance(op, ops.RecordBase):
                self.store.rows[op.path] = record_base(op)
        return outcomes


@dataclass
class Parts:
    local: FakeLocal
    remote: FakeRemote
    store: FakeStore
    executor: FakeExecutor
    engine: Engine


@pytest.fixture
def parts(tmp_path: Path) -> Parts:
    local, remote, store = FakeLocal(), FakeRemote(), FakeStore()
    executor = FakeExecutor(store)
    root = tmp_path / "folder"
    root.mkdir()
    engine = Engine(
        local=local,
        remote=remote,
        store=store,
        executor=executor,
        root=root,
        trash=Trash(tmp_path / "trash"),
    )
    return Parts(local, remote, store, executor, engine)


def trace(plan: ops.Plan) -> list[tuple[str, str, str]]:
    return [(type(op).__name__, op.path, str(op.reason)) for op in plan.ops]


# -- the rounds --------------------------------------------------------------------------


def test_a_412_outcome_is_planned_again_from_fresh_facts(parts: Parts) -> None:
    parts.store.rows = {"a.txt": base_file("a.txt", "h1")}
    parts.local.tree = {"a.txt": local_file("a.txt", "h2", mtime=2)}
    parts.remote.tree_now = {"a.txt": remote_file("a.txt", "h1")}
    parts.executor.answers = {"a.txt": [Status.REPLAN, Status.DONE]}

    def another_client_writes() -> None:  # why the server answered 412
        parts.remote.tree_now = {"a.txt": remote_file("a.txt", "h3", revision=2)}

    parts.executor.on_run = [another_client_writes]
    report = parts.engine.sync()
    first, second = parts.executor.plans
    assert trace(first) == [("Upload", "a.txt", "LOCAL_CHANGED")]
    assert [type(op).__name__ for op in second.ops] == ["KeepBoth"]
    assert second.ops[0].remote.revision == 2  # the fresh facts, not the first round's
    assert report.rounds == 2 and report.failed == []
    assert len(parts.local.scopes) == len(parts.remote.scopes) == 2


def test_replans_are_bounded_and_then_reported(parts: Parts) -> None:
    parts.local.tree = {"a.txt": local_file("a.txt", "h1")}
    parts.executor.answers = {"a.txt": [Status.REPLAN]}
    report = parts.engine.sync()
    assert len(parts.executor.plans) == report.rounds == 4
    assert [path for path, _ in report.failed] == ["a.txt"]


def test_a_refusal_becomes_a_safety_stop_before_any_op_runs(parts: Parts) -> None:
    names = [f"f{i}.txt" for i in range(30)]
    parts.store.rows = {p: base_file(p, "h") for p in names}
    parts.remote.tree_now = {p: remote_file(p, "h") for p in names}
    parts.local.tree = {"f0.txt": local_file("f0.txt", "h")}  # 29 of 30 gone: a mass delete
    with pytest.raises(SafetyStop):
        parts.engine.sync()
    assert parts.executor.plans == []
    assert "record_sync" not in parts.store.meta.writes


def test_a_dry_run_reports_the_refusal_and_the_plan(parts: Parts) -> None:
    names = [f"f{i}.txt" for i in range(30)]
    parts.store.rows = {p: base_file(p, "h") for p in names}
    parts.store.is_copy = True
    parts.remote.tree_now = {p: remote_file(p, "h") for p in names}
    report = parts.engine.sync(dry_run=True)
    assert [r.kind for r in report.refusals] and len(report.planned) == 30
    assert parts.executor.plans == []


def test_a_dry_run_calls_no_executor_and_writes_nothing(parts: Parts) -> None:
    parts.store.is_copy = True
    parts.local.tree = {"new.txt": local_file("new.txt", "h1")}
    parts.remote.tree_now = {"there.txt": remote_file("there.txt", "h2")}
    report = parts.engine.sync(dry_run=True)
    assert sorted(trace(ops.Plan(tuple(report.planned)))) == [
        ("Download", "there.txt", "MERGE_REMOTE_ONLY"),
        ("Upload", "new.txt", "MERGE_LOCAL_ONLY"),
    ]
    assert parts.executor.plans == []
    assert parts.local.tidied == 0 and parts.store.meta.writes == []


def test_a_dry_run_needs_a_private_copy_of_the_state(parts: Parts) -> None:
    with pytest.raises(RuntimeError):
        parts.engine.sync(dry_run=True)


def test_a_need_is_gathered_and_plan_runs_again(parts: Parts) -> None:
    # Both sides changed a.txt; the scan did not hash it, so the planner asks for the hash.
    parts.store.rows = {"a.txt": base_file("a.txt", "h1")}
    parts.local.tree = {"a.txt": local_file("a.txt", None, mtime=2)}
    parts.local.hashes = {"a.txt": "h2"}
    parts.remote.tree_now = {"a.txt": remote_file("a.txt", "h2", revision=2)}
    parts.engine.sync()
    assert parts.local.hashed == ["a.txt"]
    (plan,) = parts.executor.plans
    assert trace(plan) == [("RecordBase", "a.txt", "BOTH_EQUAL")]


def test_remote_bytes_are_compared_when_the_server_has_no_hashes(parts: Parts) -> None:
    parts.local.tree = {"a.txt": local_file("a.txt", "h1")}
    parts.remote.tree_now = {"a.txt": remote_file("a.txt", None)}
    parts.remote.contents = {"a.txt": "h1"}
    parts.engine.sync()
    (plan,) = parts.executor.plans
    assert trace(plan) == [("RecordBase", "a.txt", "BOTH_EQUAL")]


def test_a_scoped_sync_passes_the_scope_to_both_sources_and_the_base(parts: Parts) -> None:
    parts.local.tree = {"docs/a.txt": local_file("docs/a.txt", "h1")}
    parts.local.tree["other.txt"] = local_file("other.txt", "h2")
    parts.local.tree["docs/b.txt"] = local_file("docs/b.txt", "h")
    parts.store.rows = {p: base_file(p, "h") for p in ("docs/b.txt", "zz.txt")}
    parts.remote.tree_now = {p: remote_file(p, "h") for p in ("docs/b.txt", "zz.txt")}
    parts.engine.sync(scope={"docs"})
    assert parts.local.scopes == [{"docs"}]
    assert parts.remote.scopes == [{"docs"}]
    assert {"docs"} in parts.store.prefixes
    (plan,) = parts.executor.plans
    assert trace(plan) == [("Upload", "docs/a.txt", "LOCAL_NEW")]


def test_a_scoped_sync_with_no_base_under_its_scope_is_no_merge(parts: Parts) -> None:
    parts.local.tree = {"new/a.txt": local_file("new/a.txt", "h1")}
    parts.store.rows = {"old.txt": base_file("old.txt", "h")}
    parts.remote.tree_now = {"old.txt": remote_file("old.txt", "h")}
    parts.engine.sync(scope={"new/a.txt"})
    (plan,) = parts.executor.plans
    assert trace(plan) == [("Upload", "new/a.txt", "LOCAL_NEW")]


def test_nothing_to_do_runs_no_executor(parts: Parts) -> None:
    parts.store.rows = {"a.txt": base_file("a.txt", "h")}
    parts.local.tree = {"a.txt": local_file("a.txt", "h")}
    parts.remote.tree_now = {"a.txt": remote_file("a.txt", "h")}
    report = parts.engine.sync()
    assert parts.executor.plans == [] and report.rounds == 1
    assert parts.local.tidied == 1 and "record_sync" in parts.store.meta.writes


def test_reloaded_rules_and_transfers_reach_the_parts_that_use_them(parts: Parts) -> None:
    rules = Ignore.from_lines(["*.tmp"])
    parts.engine.ignore = rules
    parts.engine.transfers = 9
    assert parts.local.ignore is rules and parts.executor.transfers == 9


def test_an_echo_is_an_op_for_the_executor_and_gathering_writes_nothing(parts: Parts) -> None:
    # Our upload came back through the feed: a new revision of the hash the base holds.
    parts.store.rows = {"a.txt": base_file("a.txt", "h")}
    parts.local.tree = {"a.txt": local_file("a.txt", "h")}
    parts.remote.tree_now = {"a.txt": remote_file("a.txt", "h", revision=5)}
    parts.store.is_copy = True
    dry = parts.engine.sync(dry_run=True)
    assert trace(ops.Plan(tuple(dry.planned))) == [("RecordBase", "a.txt", "REMOTE_ECHO")]
    assert parts.store.rows["a.txt"].remote_revision == 1  # listed, not recorded
    parts.store.is_copy = False
    parts.engine.sync()
    (plan,) = parts.executor.plans
    assert trace(plan) == [("RecordBase", "a.txt", "REMOTE_ECHO")]
    assert parts.store.rows["a.txt"].remote_revision == 5
    parts.engine.sync()
    assert len(parts.executor.plans) == 1  # adopted: the next sync has nothing to do
