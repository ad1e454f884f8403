"""The status board: state changes at once, progress throttled, a stop ends transfers and waits."""

from __future__ import annotations

import threading
import time

import pytest

from syncd import errors
from syncd.daemon.status import DETAIL_KEY, StatusBoard, StopRequested
from syncd.state.schema import DaemonState
from syncd.transport.retry import RetryPolicy


class FakeStatusRow:
    def __init__(self) -> None:
        self.rows: list[tuple[str, list]] = []
        self.cleared = False

    def write(self, state, *, transfers=()) -> None:
        self.rows.append((DaemonState(state).value, list(transfers)))

    def clear(self) -> None:
        self.cleared = True


class FakeMeta:
    def __init__(self) -> None:
        self.json: dict = {}

    def set_json(self, key, value) -> None:
        self.json[key] = value


class FakeStore:
    def __init__(self) -> None:
        self.daemon_status = FakeStatusRow()
        self.meta = FakeMeta()


class FakeNotifier:
    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.pings = 0

    def status(self, text: str) -> None:
        self.statuses.append(text)

    def watchdog(self) -> None:
        self.pings += 1


@pytest.fixture
def board():
    clock = [0.0]
    board = StatusBoard(interval=1.0, clock=lambda: clock[0])
    store, notifier = FakeStore(), FakeNotifier()
    board.bind(store, notifier)
    return board, store, notifier, clock


def test_state_changes_publish_at_once_with_their_detail(board):
    b, store, notifier, _ = board
    b.set_state(DaemonState.OFFLINE, "connection refused")
    b.set_state(DaemonState.IDLE)
    assert [r[0] for r in store.daemon_status.rows] == ["offline", "idle"]
    assert notifier.statuses == ["offline: connection refused", "idle"]
    assert store.meta.json[DETAIL_KEY] == {"state": "idle", "detail": None}


def test_progress_is_throttled_and_lists_transfers(board):
    b, store, notifier, clock = board
    b.set_state(DaemonState.SYNCING)
    before = len(store.daemon_status.rows)
    b.start("big.bin", 100)
    for _ in range(50):
        b.advance("big.bin", 1)
    assert len(store.daemon_status.rows) == before  # all within one interval
    clock[0] = 1.5
    b.advance("big.bin", 10)
    assert store.daemon_status.rows[-1] == (
        "syncing",
        [{"path": "big.bin", "total": 100, "done": 60}],
    )
    assert notifier.statuses[-1] == "syncing 1 transfer"
    assert notifier.pings >= 2  # progress proves the daemon alive
    b.finish("big.bin")
    assert b.transfers() == []


def test_a_stop_request_aborts_the_next_chunk(board):
    b, *_ = board
    b.start("big.bin", 100)
    b.advance("big.bin", 10)
    b.stop_event.set()
    with pytest.raises(StopRequested):
        b.advance("big.bin", 10)
    assert not isinstance(StopRequested("x"), Exception)  # no `except Exception` eats it


def test_stopped_clears_the_row(board):
    b, store, *_ = board
    b.stopped()
    assert store.daemon_status.cleared and store.meta.json[DETAIL_KEY] is None
    b.set_state(DaemonState.IDLE)  # after unbinding nothing is written
    assert store.daemon_status.rows == []


def test_a_stop_request_ends_a_retry_wait_at_once(board):
    b, *_ = board
    failed = threading.Event()

    def attempt(_state):
        failed.set()
        raise errors.ConnectionLost("connection refused")

    policy = RetryPolicy(max_retries=5, deadline=3600, backoff_initial=600, sleep=b.sleep)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            policy.run(attempt, what="GET changes")
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    started = time.monotonic()
    caller.start()
    assert failed.wait(10)  # the first attempt failed: a wait of 300 s or more follows
    b.stop_event.set()
    caller.join(10)
    assert not caller.is_alive() and time.monotonic() - started < 10
    assert len(outcome) == 1 and isinstance(outcome[0], StopRequested)


def test_a_retry_wait_without_a_stop_is_an_ordinary_sleep(board):
    b, *_ = board
    b.sleep(0.01)  # returns
    b.stop_event.set()
    with pytest.raises(StopRequested):
        b.sleep(0)
