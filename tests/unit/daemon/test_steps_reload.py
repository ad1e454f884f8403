"""A daemon pass (scoped sync, then what the feed brought) and what SIGHUP may change."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from syncd.config import DeleteLimit, Settings
from syncd.daemon import reload
from syncd.daemon.steps import Backoff, is_covered, run_full, run_scoped
from syncd.local.trash import Trash
from syncd.report import Report
from syncd.transport.throttle import Throttle
from syncd.watcher import Coalescer


@dataclass
class FakeDirty:
    paths: set[str] = field(default_factory=set)

    def mark(self, paths) -> None:
        self.paths |= set(paths)

    def clear(self, paths) -> None:
        self.paths -= set(paths)


@dataclass
class FakeStore:
    dirty: FakeDirty = field(default_factory=FakeDirty)


@dataclass
class FakeEngine:
    """Answers each sync with the next scripted (remote_changed, failed paths)."""

    script: list[tuple[set[str], list[str]]]
    scopes: list[set[str] | None] = field(default_factory=list)

    def sync(self, *, scope: set[str] | None = None) -> Report:
        self.scopes.append(scope)
        changed, failed = self.script.pop(0) if self.script else (set(), [])
        report = Report(remote_changed=set(changed))
        report.problems = [(p, "unreadable") for p in failed]
        return report


@dataclass
class FakeSession:
    engine: FakeEngine
    store: FakeStore


def test_scoped_pass_follows_what_the_feed_brought():
    store = FakeStore(FakeDirty({"a.txt", "docs"}))
    engine = FakeEngine([({"docs/x.md", "remote/new.txt"}, []), (set(), [])])
    result = run_scoped(FakeSession(engine, store), {"a.txt", "docs"})
    # docs/x.md was inside the first scope; only remote/new.txt needs a second pass
    assert engine.scopes == [{"a.txt", "docs"}, {"remote/new.txt"}]
    assert result.covered == {"a.txt", "docs", "remote/new.txt"}
    assert store.dirty.paths == set()


def test_failed_paths_stay_dirty_and_marks_from_elsewhere_are_kept():
    store = FakeStore(FakeDirty({"ok.txt", "bad.txt", "arrived-meanwhile.txt"}))
    engine = FakeEngine([(set(), ["bad.txt"])])
    result = run_scoped(FakeSession(engine, store), {"ok.txt", "bad.txt"})
    assert result.failed == [("bad.txt", "unreadable")]
    assert store.dirty.paths == {"bad.txt", "arrived-meanwhile.txt"}


def test_follow_rounds_are_bounded():
    engine = FakeEngine([({f"r{i}"}, []) for i in range(10)])
    run_scoped(FakeSession(engine, FakeStore()), set())
    assert len(engine.scopes) == 4  # the pass and three follow-ups; the rest waits


def test_what_the_feed_brought_beyond_the_rounds_stays_dirty_for_the_next_pass():
    """The cursor moved past r3: dropping it would leave it unsynced until a rescan."""
    store = FakeStore()
    engine = FakeEngine([({f"r{i}"}, []) for i in range(10)])
    result = run_scoped(FakeSession(engine, store), set())
    assert result.left == {"r3"}
    assert store.dirty.paths == {"r3"}


def test_a_path_changed_again_after_its_round_is_synced_again():
    """a.txt was synced in the first round; the feed then brought a newer a.txt."""
    store = FakeStore(FakeDirty({"a.txt"}))
    engine = FakeEngine([({"b.txt"}, []), ({"a.txt"}, []), (set(), [])])
    run_scoped(FakeSession(engine, store), {"a.txt"})
    assert engine.scopes == [{"a.txt"}, {"b.txt"}, {"a.txt"}]
    assert store.dirty.paths == set()


def test_a_path_left_for_the_next_pass_stays_dirty_though_a_round_covered_it():
    store = FakeStore(FakeDirty({"a.txt"}))
    engine = FakeEngine([({"b.txt"}, []), ({"c.txt"}, []), ({"d.txt"}, []), ({"a.txt"}, [])])
    result = run_scoped(FakeSession(engine, store), {"a.txt"})
    assert result.left == {"a.txt"}
    assert store.dirty.paths == {"a.txt"}


def test_full_pass_covers_what_was_dirty_before_it():
    store = FakeStore(FakeDirty({"x", "y"}))
    engine = FakeEngine([])
    run_full(FakeSession(engine, store), {"x"})
    assert engine.scopes == [None]
    assert store.dirty.paths == {"y"}


def test_is_covered_by_an_ancestor():
    assert is_covered("a/b/c", {"a"})
    assert is_covered("a", {"a"})
    assert not is_covered("ab/c", {"a"})


def test_backoff_doubles_up_to_its_cap_and_resets():
    backoff = Backoff(low=1.0, high=5.0)
    assert [backoff.next() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next() == 1.0


def test_reload_applies_live_settings_and_holds_back_the_rest():
    old = Settings(server="http://a:1", api_key="secret-one", debounce=0.5)
    new = Settings(server="http://b:2", api_key="secret-two", debounce=0.2, transfers=8)
    change = reload.diff(old, new)
    assert set(change.applied) == {"debounce", "transfers"}
    assert set(change.needs_restart) == {"server", "api_key"}
    line = reload.describe(old, new, change)
    assert "debounce=0.5->0.2" in line and "server='http://b:2'(needs restart)" in line
    assert "secret" not in line
    merged = reload.merge(old, new, change)
    assert merged.server == "http://a:1" and merged.debounce == 0.2
    assert merged.api_key == "secret-one"


def test_reload_pushes_live_settings_into_the_running_parts():
    @dataclass
    class Engine:
        delete_limit: DeleteLimit = field(default_factory=DeleteLimit)
        allow_mass_delete: bool = False
        transfers: int = 4
        trash: Trash = field(default_factory=lambda: Trash(Path("/nowhere")))

    engine, coalescer = Engine(), Coalescer(0.5)
    new = Settings(
        debounce=0.1,
        max_delete=DeleteLimit.parse("10%"),
        allow_mass_delete=True,
        trash_retention_days=7,
        trash_max_size=2**30,
    )
    reload.apply_live(engine, coalescer, new)
    assert coalescer.debounce == 0.1
    assert engine.delete_limit == DeleteLimit(count=0, ratio=0.1)
    assert engine.allow_mass_delete is True
    assert (engine.trash.retention_days, engine.trash.max_size) == (7, 2**30)
    reload.set_log_level("info")


def test_reload_gives_the_running_client_its_new_bandwidth_limit():
    @dataclass
    class Engine:
        trash: Trash = field(default_factory=lambda: Trash(Path("/nowhere")))

    throttle = Throttle(None)
    old, new = Settings(), Settings(bandwidth_limit=200_000)
    change = reload.diff(old, new)
    assert change.applied == ("bandwidth_limit",) and not change.needs_restart
    assert "bandwidth_limit=None->200000" in reload.describe(old, new, change)
    reload.apply_live(Engine(), Coalescer(0.5), new, throttle=throttle)
    assert throttle.rate == 200_000
    reload.apply_live(Engine(), Coalescer(0.5), Settings(), throttle=throttle)
    assert throttle.rate is None
    reload.set_log_level("info")
