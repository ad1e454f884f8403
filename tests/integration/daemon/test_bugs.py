"""A bug in the daemon is loud and never spins: its traceback is logged at ERROR, a failing
pass is retried only after a backoff, and a failing feed watcher ends the daemon.

In-process, against the module's real server: ``Daemon.run`` on a real folder, with one
function replaced by one that raises ``TypeError``, as a programming error would.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import syncd.daemon.loop as loop
from syncd.config import Settings
from syncd.daemon.loop import Daemon
from syncd.daemon.remote import RemoteWatcher
from syncd.soak.harness import ServerProcess
from tests.integration.daemon.daemons import eventually, write


def _settings(tmp_path: Path, server: ServerProcess, account: tuple[str, str]) -> Settings:
    key, workspace = account
    folder = tmp_path / "folder"
    write(folder / "a.txt", "a")
    return Settings(
        server=server.url,
        workspace=workspace,
        dir=folder,
        api_key=key,
        state_dir=tmp_path / "state",
        debounce=0.1,
        feed_wait=1,
        max_retries=0,
    )


@pytest.fixture
def running() -> Iterator[list]:
    """Start a daemon in a thread (``start(daemon)``); it is stopped and joined after."""
    started: list[tuple[Daemon, threading.Thread, list[BaseException]]] = []

    def start(daemon: Daemon) -> tuple[threading.Thread, list[BaseException]]:
        raised: list[BaseException] = []

        def run() -> None:
            try:
                daemon.run(handle_signals=False)
            except BaseException as exc:
                raised.append(exc)

        thread = threading.Thread(target=run, name="test-daemon")
        thread.start()
        started.append((daemon, thread, raised))
        return thread, raised

    yield start  # type: ignore[misc]
    for daemon, thread, _ in started:
        daemon.request_stop()
        thread.join(30)
        assert not thread.is_alive()


def _errors(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and event in r.getMessage()]


def test_a_bug_in_a_pass_is_logged_with_its_traceback_and_backs_off(
    tmp_path, server, account, running, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="syncd")
    calls: list[float] = []

    def broken(session, dirty):
        calls.append(time.monotonic())
        raise TypeError("run_full() got an unexpected keyword argument")

    monkeypatch.setattr(loop, "run_full", broken)
    daemon = Daemon(_settings(tmp_path, server, account))
    running(daemon)
    # The second attempt's log line is written after its call: wait for the line.
    records = eventually(
        lambda: (found := _errors(caplog, "event=sync_failed")) and len(found) >= 2 and found,
        timeout=20,
        what="a second attempt, logged",
    )
    assert calls[1] - calls[0] >= 0.9  # a backoff (1 s, then 2 s, ...), not a hot loop
    assert all(r.exc_info and r.exc_info[0] is TypeError for r in records)
    assert daemon.board.text().startswith("error")
    assert len(calls) <= 3  # ~1 s + 2 s of backoff at most went by: no spinning


def test_a_bug_in_the_feed_watcher_stops_the_daemon_with_it(
    tmp_path, server, account, running, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="syncd")
    polls: list[int] = []

    class BrokenFeed:
        """The watcher's client, whose poll fails as a bug in it would."""

        def __init__(self) -> None:
            self.changes = self

        def page(self, workspace_id, cursor, *, wait=0):
            polls.append(cursor)
            raise TypeError("'NoneType' object is not subscriptable")

    class Watcher(RemoteWatcher):
        def __init__(self, client, *args, **kwargs):
            super().__init__(BrokenFeed(), *args, **kwargs)

    monkeypatch.setattr(loop, "RemoteWatcher", Watcher)
    daemon = Daemon(_settings(tmp_path, server, account))
    thread, raised = running(daemon)
    thread.join(30)
    assert not thread.is_alive(), "the daemon went on without its feed watcher"
    assert len(raised) == 1 and isinstance(raised[0], TypeError)
    assert len(polls) == 1  # the watcher's poll failed once and was not retried
    (record,) = _errors(caplog, "event=feed_watch_failed")
    assert record.exc_info is not None and record.exc_info[0] is TypeError
