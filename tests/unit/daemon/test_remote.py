"""The remote watcher thread: wakes the loop on a change, waits for the next cursor."""

from __future__ import annotations

import logging
import queue
import threading

import pytest

from syncd.daemon.remote import RemoteWatcher
from syncd.errors import FeedReset, ServerUnreachable, Unauthorized
from syncd.transport.models import ChangesPage


def page(end: int, created: int = 0) -> ChangesPage:
    return ChangesPage(end_revision=end, created=[object()] * created, updated=[], deleted=[],
                       has_more=False)  # fmt: skip


class ScriptedFeed:
    """``changes.page`` answers from a queue; an empty queue holds the poll, as a long poll."""

    def __init__(self) -> None:
        self.answers: queue.Queue = queue.Queue()
        self.asked: list[int] = []
        self.changes = self

    def page(self, workspace_id: str, cursor: int, *, wait: float = 0) -> ChangesPage:
        self.asked.append(cursor)
        answer = self.answers.get(timeout=10)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def make(feed: ScriptedFeed):
    changed, refused = threading.Event(), []
    done = threading.Event()

    def on_fatal(exc):
        refused.append(exc)
        done.set()

    watcher = RemoteWatcher(
        feed, "w", wait=30, interval=1, on_change=changed.set, on_fatal=on_fatal
    )
    return watcher, changed, refused, done


def test_a_change_wakes_the_loop_once_until_the_next_cursor():
    feed = ScriptedFeed()
    watcher, changed, _, _ = make(feed)
    watcher.start()
    try:
        watcher.synced(5)
        feed.answers.put(page(5))  # quiet long poll: poll again from the same cursor
        feed.answers.put(page(7, created=1))
        assert changed.wait(5)
        assert feed.asked == [5, 5]
        changed.clear()
        watcher.synced(7)
        feed.answers.put(FeedReset("history pruned"))  # a reset is a change too
        assert changed.wait(5)
        assert feed.asked == [5, 5, 7]
    finally:
        watcher.stop()
        feed.answers.put(page(0))


def test_recovery_after_failures_wakes_the_loop():
    feed = ScriptedFeed()
    watcher, changed, _, _ = make(feed)
    import syncd.daemon.remote as remote

    saved, remote.BACKOFF_MIN = remote.BACKOFF_MIN, 0.01
    try:
        watcher.start()
        watcher.synced(3)
        feed.answers.put(ServerUnreachable("down"))
        feed.answers.put(page(3))  # nothing new, but the server answers again
        assert changed.wait(5)
    finally:
        remote.BACKOFF_MIN = saved
        watcher.stop()
        feed.answers.put(page(0))


def test_a_refusal_ends_the_thread_and_is_handed_over():
    feed = ScriptedFeed()
    watcher, changed, refused, done = make(feed)
    watcher.start()
    watcher.synced(1)
    feed.answers.put(Unauthorized("bad key"))
    assert done.wait(5)
    watcher.stop(timeout=5)
    assert isinstance(refused[0], Unauthorized)
    assert not watcher.is_alive and not changed.is_set()


def test_a_bug_is_logged_with_its_traceback_and_ends_the_thread_unretried(
    caplog: pytest.LogCaptureFixture,
):
    feed = ScriptedFeed()
    watcher, changed, fatal, done = make(feed)
    caplog.set_level(logging.INFO, logger="syncd.daemon.remote")
    watcher.start()
    watcher.synced(4)
    feed.answers.put(TypeError("page() got an unexpected keyword argument"))
    feed.answers.put(page(9, created=1))  # a retry would find this and wake the loop
    assert done.wait(5)
    watcher.stop(timeout=5)
    assert isinstance(fatal[0], TypeError) and not watcher.is_alive
    assert feed.asked == [4] and not changed.is_set()  # polled once: no retry of a bug
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "event=feed_watch_failed" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is TypeError


def test_the_wait_is_clamped_to_what_the_protocol_allows():
    watcher = RemoteWatcher(
        ScriptedFeed(), "w", wait=600, interval=0, on_change=lambda: None, on_fatal=print
    )
    assert watcher.wait == 60 and watcher.interval > 0
