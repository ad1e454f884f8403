"""The coalescer with a fake clock: debounce, max latency, born-and-gone, dirs, rescan."""

from __future__ import annotations

import threading
import time

import pytest

from syncd.watcher.coalesce import BURST_PATHS, CLOSE_GRACE, Batch, Coalescer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# Each step: ("add", path) / ("dir", path) / ("new", path) / ("del", path) / ("deldir", path)
# / ("mv", src, dest) / ("rescan",) / ("tick", seconds). Debounce 1 s, max latency 10 s.
CASES = [
    ("one write settles", [("add", "a"), ("tick", 1.0)], {"a"}, False),
    ("not yet settled", [("add", "a"), ("tick", 0.5)], set(), False),
    (
        "a new write restarts the debounce",
        [("add", "a"), ("tick", 0.9), ("add", "a"), ("tick", 0.9)],
        set(),
        False,
    ),
    (
        "save via rename is one edit of the target",
        [("new", "a.tmp"), ("add", "a.tmp"), ("mv", "a.tmp", "a"), ("tick", 1)],
        {"a"},
        False,
    ),
    (
        "a rename of a known file dirties both ends",
        [("mv", "old", "new"), ("tick", 1)],
        {"old", "new"},
        False,
    ),
    (
        "a modified file renamed away keeps its source",
        [("add", "old"), ("mv", "old", "new"), ("tick", 1)],
        {"old", "new"},
        False,
    ),
    ("created then deleted is nothing", [("new", "s"), ("del", "s"), ("tick", 1)], set(), False),
    ("a delete of a known file", [("del", "k"), ("tick", 1)], {"k"}, False),
    (
        "deleted then created again stays dirty",
        [("del", "k"), ("new", "k"), ("del", "k"), ("tick", 1)],
        {"k"},
        False,
    ),
    (
        "a ready directory folds its subtree",
        [("dir", "d"), ("new", "d/x"), ("new", "d/e/y"), ("add", "dd"), ("tick", 1)],
        {"d", "dd"},
        False,
    ),
    ("a directory delete marks the directory", [("deldir", "d"), ("tick", 1)], {"d"}, False),
    (
        "rescan covers every path",
        [("add", "a"), ("rescan",), ("add", "b"), ("tick", 1)],
        set(),
        True,
    ),
    ("rescan waits for the debounce", [("rescan",), ("tick", 0.5)], set(), False),
]


@pytest.mark.parametrize(
    ("steps", "paths", "rescan"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_table(steps: list[tuple], paths: set[str], rescan: bool) -> None:
    clock = FakeClock()
    c = Coalescer(1.0, clock)
    for step in steps:
        match step:
            case ("add", p):
                c.add(p)
            case ("new", p):
                c.add(p, created=True)
            case ("dir", p):
                c.add(p, is_dir=True, created=True)
            case ("del", p):
                c.remove(p)
            case ("deldir", p):
                c.remove(p, is_dir=True)
            case ("mv", src, dest):
                c.move(src, dest)
            case ("rescan",):
                c.add_rescan()
            case ("tick", seconds):
                clock.now += seconds
    batch = c.take_ready()
    assert batch.paths == frozenset(paths)
    assert batch.rescan is rescan


def test_burst_of_writes_is_one_path_once() -> None:
    clock = FakeClock()
    c = Coalescer(0.5, clock)
    for _ in range(1000):
        c.add("big.bin")
        clock.now += 0.001
        assert not c.take_ready()
    clock.now += 0.5
    assert c.take_ready() == Batch(paths=frozenset({"big.bin"}))
    assert c.take_ready() == Batch()
    assert c.pending() == 0


def test_file_that_never_settles_is_delivered_at_max_latency() -> None:
    clock = FakeClock()
    c = Coalescer(1.0, clock)  # max latency defaults to 10 x debounce
    start = clock.now
    delivered_at = None
    while clock.now - start < 30:
        c.add("log.txt")
        clock.now += 0.25
        if c.take_ready().paths:
            delivered_at = clock.now - start
            break
    assert delivered_at is not None and 10.0 <= delivered_at <= 10.5


def test_max_latency_is_configurable_and_never_below_debounce() -> None:
    assert Coalescer(2.0, FakeClock(), max_latency=5).max_latency == 5
    assert Coalescer(2.0, FakeClock(), max_latency=1).max_latency == 2


def test_directory_batch_lists_its_dirs() -> None:
    clock = FakeClock()
    c = Coalescer(1.0, clock)
    c.move("src", "dest", is_dir=True)
    c.move("src/f", "dest/f")
    clock.now += 1
    batch = c.take_ready()
    assert batch.paths == {"src", "dest"}
    assert batch.dirs == {"src", "dest"}


def test_only_ready_paths_leave() -> None:
    clock = FakeClock()
    c = Coalescer(1.0, clock)
    c.add("early")
    clock.now += 0.6
    c.add("late")
    clock.now += 0.5
    assert c.take_ready().paths == {"early"}
    assert c.pending() == 1
    assert c.next_due() == pytest.approx(clock.now + 0.5)
    clock.now += 0.5
    assert c.take_ready().paths == {"late"}
    assert c.next_due() is None


def test_wait_with_fake_clock_reports_readiness_without_sleeping() -> None:
    clock = FakeClock()
    c = Coalescer(1.0, clock)
    assert c.wait(0) is False
    c.add("a")
    assert c.wait(0) is False
    clock.now += 1
    assert c.wait(0) is True


def test_wait_sleeps_until_ready_and_wakes_on_events() -> None:
    c = Coalescer(0.05)
    results: list[bool] = []
    started = threading.Event()

    def consumer() -> None:
        started.set()
        results.append(c.wait(timeout=10))

    t = threading.Thread(target=consumer)
    t.start()
    started.wait(5)
    begin = time.monotonic()
    c.add("x")
    t.join(10)
    assert results == [True]
    assert time.monotonic() - begin < 5  # woken by the deadline, not the 10 s timeout
    assert c.take_ready().paths == {"x"}


def test_wake_interrupts_wait() -> None:
    c = Coalescer(1.0)
    results: list[bool] = []
    t = threading.Thread(target=lambda: results.append(c.wait(timeout=30)))
    t.start()
    c.wake()
    t.join(10)
    assert not t.is_alive()
    assert results == [False]


def test_wait_times_out() -> None:
    c = Coalescer(1.0)
    begin = time.monotonic()
    assert c.wait(timeout=0.05) is False
    assert time.monotonic() - begin >= 0.05


def test_concurrent_producers_lose_nothing() -> None:
    clock = FakeClock()
    c = Coalescer(1.0, clock)

    def produce(n: int) -> None:
        for i in range(500):
            c.add(f"t{n}/f{i}")

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    clock.now += 1
    assert len(c.take_ready().paths) == 2000


def test_negative_debounce_is_refused() -> None:
    with pytest.raises(ValueError):
        Coalescer(-1)


def test_unsettled_paths_below_a_ready_directory_leave_with_it() -> None:
    clock = FakeClock()
    c = Coalescer(1.0, clock)
    c.add("d", is_dir=True)
    clock.now += 0.5
    c.add("d/late.txt")
    c.add("other")
    clock.now += 0.5
    assert c.take_ready().paths == {"d"}
    assert c.pending() == 1
    clock.now += 1
    assert c.take_ready().paths == {"other"}


# -- a file its writer closed (IN_CLOSE_WRITE) --------------------------------------------


def _closing(debounce: float = 1.0) -> tuple[FakeClock, Coalescer]:
    clock = FakeClock()
    return clock, Coalescer(debounce, clock)


def test_a_closed_file_goes_without_the_debounce() -> None:
    clock, col = _closing()
    col.add("a", created=True)
    col.add("a")
    col.add("a", closed=True)
    clock.now += CLOSE_GRACE
    assert col.take_ready() == Batch(paths=frozenset({"a"}))
    assert col.next_due() is None


def test_a_closed_file_waits_the_grace_for_an_editors_rename() -> None:
    clock, col = _closing()
    col.add("a.tmp", created=True, closed=True)
    col.move("a.tmp", "a")
    clock.now += CLOSE_GRACE
    assert col.take_ready() == Batch(paths=frozenset({"a"}))


def test_a_modify_without_close_still_waits_the_debounce() -> None:
    clock, col = _closing()
    col.add("a", created=True)
    col.add("a")
    clock.now += 0.9
    assert not col.take_ready()
    clock.now += 0.1
    assert col.take_ready().paths == {"a"}


def test_a_write_after_the_close_puts_the_file_back_on_the_debounce() -> None:
    clock, col = _closing()
    col.add("a", closed=True)
    col.add("a")  # reopened and written again before the loop took it
    clock.now += 0.5
    assert not col.take_ready()
    clock.now += 0.5
    assert col.take_ready().paths == {"a"}


def test_a_burst_of_closed_files_still_coalesces() -> None:
    clock, col = _closing()
    names = [f"f{i}" for i in range(BURST_PATHS + 1)]
    for name in names:
        col.add(name, created=True, closed=True)
    clock.now += 0.5
    assert not col.take_ready()
    clock.now += 0.5
    assert col.take_ready().paths == set(names)


def test_closed_files_saved_one_after_another_are_no_burst() -> None:
    """Many saves within one debounce window, each taken before the next: every one goes
    after the grace; a count of the window's paths made the ninth wait the debounce."""
    clock, col = _closing()
    for i in range(3 * BURST_PATHS):
        name = f"save{i % 4}"  # the same few files again and again, as a user saves them
        col.add(name)
        col.add(name, closed=True)
        clock.now += CLOSE_GRACE
        assert col.take_ready().paths == {name}, f"save {i} waited"
        assert col.pending() == 0


def test_a_closed_file_goes_while_an_open_one_keeps_waiting() -> None:
    clock, col = _closing()
    col.add("open.log", created=True)
    col.add("open.log")  # written, still open for writing
    for i in range(2 * BURST_PATHS):
        col.add(f"f{i}", created=True, closed=True)
        clock.now += CLOSE_GRACE
        assert col.take_ready().paths == {f"f{i}"}
    assert col.pending() == 1
    col.add("open.log", closed=True)
    clock.now += CLOSE_GRACE
    assert col.take_ready().paths == {"open.log"}


def test_the_tail_of_a_burst_goes_as_soon_as_it_is_no_burst() -> None:
    clock, col = _closing()
    names = [f"f{i}" for i in range(BURST_PATHS + 1)]
    for name in names:
        col.add(name, created=True, closed=True)
    clock.now += CLOSE_GRACE
    assert not col.take_ready()
    col.remove("f0")  # born and gone: one path fewer, the rest is no burst any more
    assert col.take_ready().paths == set(names[1:])


def test_a_closed_file_below_a_pending_directory_leaves_with_it() -> None:
    clock, col = _closing()
    col.move("d", "e", is_dir=True)
    col.move("d/x", "e/x")
    clock.now += 0.5
    assert not col.take_ready()
    clock.now += 0.5
    assert col.take_ready().paths == {"d", "e"}


def test_a_close_wakes_a_waiter_sleeping_on_a_later_deadline() -> None:
    col = Coalescer(30.0)
    col.add("slow")  # the waiter sleeps toward this one's 30 s deadline
    woke = threading.Event()

    def waiter() -> None:
        if col.wait(60.0):
            woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    col.add("fast", closed=True)
    thread.join(10.0)
    assert woke.is_set()
    assert col.take_ready().paths == {"fast"}


def test_a_closed_file_in_a_new_directory_goes_at_once() -> None:
    clock, col = _closing()
    col.add("notes", is_dir=True, created=True)
    col.add("notes/a", created=True, closed=True)
    clock.now += CLOSE_GRACE
    assert col.take_ready().paths == {"notes/a"}
    clock.now += 1.0
    assert col.take_ready().paths == {"notes"}
