"""The watcher on a real folder with real inotify: what reaches the coalescer, and when."""

from __future__ import annotations

import logging
import os
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.observers.api import EventEmitter
from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent, InotifyFD

from syncd.errors import UsageError
from syncd.watcher import TEMP_PREFIX, Coalescer, Watcher
from syncd.watcher.coalesce import BURST_PATHS

DEBOUNCE = 0.15
DEADLINE = 10.0


class Collector:
    """Drains the coalescer as the daemon would: wait, take, remember."""

    def __init__(self, coalescer: Coalescer) -> None:
        self.coalescer = coalescer
        self.seen: set[str] = set()
        self.batches: list[frozenset[str]] = []
        self.rescans = 0

    def until(self, done: Callable[[Collector], bool], timeout: float = DEADLINE) -> None:
        """Poll with a deadline (sleeping on the coalescer's condition) until ``done``."""
        deadline = time.monotonic() + timeout
        while not done(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; seen={sorted(self.seen)} rescans={self.rescans}")
            if self.coalescer.wait(remaining):
                batch = self.coalescer.take_ready()
                self.seen |= batch.paths
                self.rescans += batch.rescan
                if batch.paths:
                    self.batches.append(batch.paths)

    def settle(self, root: Path, name: str = "zz-sentinel") -> None:
        """Write a sentinel and wait for it and for nothing pending: every earlier event
        has then been delivered (a closed sentinel may go ahead of earlier, unsettled ones)."""
        (root / name).write_text("s")
        self.until(lambda c: name in c.seen and c.coalescer.pending() == 0)
        self.seen.discard(name)

    def reset(self) -> None:
        self.seen.clear()
        self.batches.clear()
        self.rescans = 0


def _ignore(path: str, is_dir: bool) -> bool:
    return path.endswith(".swp") or (is_dir and path == "build")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "f.txt").write_text("one")
    (folder / "doc.txt").write_text("draft")
    (folder / "build").mkdir()
    (folder / ".state").mkdir()
    return folder


@pytest.fixture
def watched(root: Path) -> Iterator[tuple[Watcher, Collector]]:
    coalescer = Coalescer(DEBOUNCE)
    watcher = Watcher(root, _ignore, coalescer, state_dir=root / ".state")
    watcher.start()
    try:
        yield watcher, Collector(coalescer)
    finally:
        watcher.stop()


def test_create_modify_delete_move(root: Path, watched: tuple[Watcher, Collector]) -> None:
    _, col = watched
    (root / "new.txt").write_text("hello")
    col.settle(root)
    assert col.seen == {"new.txt"}

    col.reset()
    with (root / "f.txt").open("a") as fh:
        fh.write("more")
    col.settle(root)
    assert col.seen == {"f.txt"}

    col.reset()
    (root / "f.txt").unlink()
    col.settle(root)
    assert col.seen == {"f.txt"}

    col.reset()
    (root / "doc.txt").rename(root / "renamed.txt")
    col.settle(root)
    assert col.seen == {"doc.txt", "renamed.txt"}


def test_reading_a_file_is_not_a_change(root: Path, watched: tuple[Watcher, Collector]) -> None:
    _, col = watched
    assert (root / "f.txt").read_text() == "one"
    col.settle(root)
    assert col.seen == set()


def test_save_via_rename_is_an_edit_of_the_target(
    root: Path, watched: tuple[Watcher, Collector]
) -> None:
    _, col = watched
    temp = root / ".doc.txt.kate-swp~"
    temp.write_text("final")
    os.replace(temp, root / "doc.txt")
    col.settle(root)
    assert col.seen == {"doc.txt"}


def test_burst_of_1000_writes_is_one_dirty_path(
    root: Path, watched: tuple[Watcher, Collector]
) -> None:
    _, col = watched
    with (root / "big.bin").open("wb", buffering=0) as fh:
        for i in range(1000):
            fh.write(i.to_bytes(4, "big"))
    col.settle(root)
    assert col.seen == {"big.bin"}
    assert sum("big.bin" in b for b in col.batches) == 1


def test_closed_saves_go_at_once_while_a_file_open_for_writing_waits(root: Path) -> None:
    """With a debounce no test waits for, a closed file can only arrive through the close;
    many saves in a row each arrive, the file still open for writing does not."""
    coalescer = Coalescer(300.0)
    col = Collector(coalescer)
    with Watcher(root, _ignore, coalescer, state_dir=root / ".state"):
        with (root / "open.log").open("wb") as fh:
            fh.write(b"half")
            fh.flush()
            for i in range(2 * BURST_PATHS + 2):
                name = f"save{i % 5}.txt"
                col.seen.discard(name)
                (root / name).write_text(f"save {i}")
                col.until(lambda c, name=name: name in c.seen)
            assert "open.log" not in col.seen
            assert coalescer.pending() == 1
            fh.write(b" and the rest")
        col.until(lambda c: "open.log" in c.seen)


def test_our_temp_files_ignored_paths_and_state_dir_are_dropped(
    root: Path, watched: tuple[Watcher, Collector]
) -> None:
    _, col = watched
    (root / f"{TEMP_PREFIX}scratch").write_text("x")
    (root / f"{TEMP_PREFIX}scratch").unlink()
    download = root / f"{TEMP_PREFIX}dl-1234"
    download.write_text("downloaded")
    os.replace(download, root / "dl.txt")
    (root / "notes.swp").write_text("vim")
    (root / "build" / "out.o").write_text("obj")
    (root / ".state" / "state.db").write_text("db")
    col.settle(root)
    assert col.seen == {"dl.txt"}


def test_paths_are_relative_and_nfc(root: Path, watched: tuple[Watcher, Collector]) -> None:
    _, col = watched
    nfd = unicodedata.normalize("NFD", "café.txt")
    (root / "sub").mkdir()
    col.settle(root)
    col.reset()
    (root / "sub" / nfd).write_text("x")
    col.settle(root)
    assert col.seen == {"sub/café.txt"}
    assert unicodedata.is_normalized("NFC", next(iter(col.seen)))


def test_directory_events_mark_the_directory(
    root: Path, watched: tuple[Watcher, Collector]
) -> None:
    _, col = watched
    (root / "d").mkdir()
    (root / "d" / "x.txt").write_text("x")
    col.until(lambda c: "d" in c.seen)
    col.settle(root)
    assert col.seen <= {"d", "d/x.txt"} and "d" in col.seen

    col.reset()
    (root / "d").rename(root / "e")
    col.settle(root)
    assert col.seen == {"d", "e"}


def test_overflow_fed_to_the_handler_asks_for_a_rescan(
    watched: tuple[Watcher, Collector],
) -> None:
    watcher, col = watched
    watcher.handler.on_overflow()
    col.until(lambda c: c.rescans > 0)
    assert col.rescans == 1


def test_inotify_overflow_through_watchdog_asks_for_a_rescan(root: Path, tmp_path: Path) -> None:
    """Feed watchdog's own inotify reader an IN_Q_OVERFLOW event, on one of our threads."""
    coalescer = Coalescer(DEBOUNCE)
    fds: list[InotifyFD] = []

    def ignore(path: str, is_dir: bool) -> bool:
        if path == "trigger-overflow" and fds:
            fds[0].handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
        return False

    watcher = Watcher(root, ignore, coalescer)
    with watcher:
        fds.extend(t for t in watcher._threads if isinstance(t, InotifyFD))
        assert fds, "watchdog's inotify reader thread not found"
        col = Collector(coalescer)
        (root / "trigger-overflow").write_text("x")
        col.until(lambda c: c.rescans > 0)
        # watchdog rebuilt its watches: later events still arrive.
        col.reset()
        (root / "build" / "after.txt").write_text("y")
        col.settle(root)
        assert "build/after.txt" in col.seen


def test_warnings_from_other_threads_do_not_trigger_rescans(
    root: Path, watched: tuple[Watcher, Collector]
) -> None:
    _, col = watched
    logging.getLogger("watchdog.observers.inotify_c").warning("unrelated warning")
    col.settle(root)
    assert col.rescans == 0


def test_handler_error_asks_for_a_rescan_and_keeps_watching(root: Path) -> None:
    coalescer = Coalescer(DEBOUNCE)

    def ignore(path: str, is_dir: bool) -> bool:
        if path == "boom":
            raise RuntimeError("broken ignore rule")
        return False

    with Watcher(root, ignore, coalescer) as watcher:
        col = Collector(coalescer)
        (root / "boom").write_text("x")
        col.until(lambda c: c.rescans > 0)
        col.reset()
        col.settle(root)
        assert watcher.is_alive


def test_dead_observer_thread_is_restarted_with_a_rescan(
    root: Path, watched: tuple[Watcher, Collector]
) -> None:
    watcher, col = watched
    old = watcher._observer
    emitters = [t for t in watcher._threads if isinstance(t, EventEmitter)]
    assert emitters
    emitters[0].stop()  # the emitter thread ends as if it had crashed
    col.until(lambda c: c.rescans > 0)
    deadline = time.monotonic() + DEADLINE
    while not (watcher.is_alive and watcher._observer is not old):
        assert time.monotonic() < deadline, "watcher was not restarted"
        time.sleep(0.01)
    col.reset()
    (root / "after-restart.txt").write_text("x")
    col.settle(root)
    assert col.seen == {"after-restart.txt"}
    assert watcher.error is None


def test_vanished_root_asks_for_a_rescan_and_reports_an_error(
    root: Path, watched: tuple[Watcher, Collector]
) -> None:
    watcher, col = watched
    shutil.rmtree(root)
    col.until(lambda c: c.rescans > 0)
    deadline = time.monotonic() + DEADLINE
    while watcher.error is None:
        assert time.monotonic() < deadline, "no error reported"
        time.sleep(0.01)
    assert str(root) in watcher.error


def test_unwatchable_root_is_a_usage_error(tmp_path: Path) -> None:
    watcher = Watcher(tmp_path / "missing", lambda p, d: False, Coalescer(DEBOUNCE))
    with pytest.raises(UsageError, match="cannot watch"):
        watcher.start()
    assert not watcher.is_alive
